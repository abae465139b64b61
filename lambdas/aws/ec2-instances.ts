import { DescribeInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import * as z from 'zod/mini';
import { parseOrThrow, RunbookError } from '../shared/errors';
import { sendNamingFaults } from './faults';

// The account's running EC2 instances in one region, with their types and tags: what the right-sizing report
// sizes when Compute Optimizer is off, and how it knows which instance types a cluster's nodes run on.

/** EC2 did not answer (throttled after the SDK's retries, 5xx, timeout): the workflow retries. */
export class Ec2Unavailable extends RunbookError {
  override name = 'Ec2Unavailable';
}

/** EC2 answered with something that is not what the API promises. */
export class Ec2InvalidResponse extends RunbookError {
  override name = 'Ec2InvalidResponse';
}

export interface RunningInstance {
  id: string;
  type: string;
  tags: Record<string, string>;
  /** The `Name` tag, else the id. */
  name: string;
}

const text = z.string().check(z.minLength(1));
const pageSchema = z.object({
  Reservations: z._default(
    z.array(
      z.object({
        Instances: z._default(
          z.array(
            z.object({
              InstanceId: text,
              InstanceType: text,
              Tags: z._default(z.array(z.object({ Key: text, Value: z._default(z.string(), '') })), []),
            }),
          ),
          [],
        ),
      }),
    ),
    [],
  ),
  NextToken: z.optional(z.string()),
});

/** DescribeInstances pages hold 5 to 1,000 instances (EC2 API reference, MaxResults). */
const PAGE_SIZE = 1_000;
const MAX_PAGES = 100;

/** Every running instance, following NextToken. */
export async function runningInstances(ec2: EC2Client): Promise<RunningInstance[]> {
  const instances: RunningInstance[] = [];
  let token: string | undefined;
  for (let page = 1; ; page += 1) {
    const raw = await sendNamingFaults(
      'DescribeInstances',
      () =>
        ec2.send(
          new DescribeInstancesCommand({
            Filters: [{ Name: 'instance-state-name', Values: ['running'] }],
            MaxResults: PAGE_SIZE,
            NextToken: token,
          }),
        ),
      Ec2Unavailable,
    );
    const answer = parseOrThrow(pageSchema, raw, 'The DescribeInstances answer', Ec2InvalidResponse);
    for (const reservation of answer.Reservations) {
      for (const instance of reservation.Instances) {
        const tags = Object.fromEntries(instance.Tags.map((tag) => [tag.Key, tag.Value]));
        instances.push({
          id: instance.InstanceId,
          type: instance.InstanceType,
          tags,
          name: tags.Name || instance.InstanceId,
        });
      }
    }
    token = answer.NextToken || undefined;
    if (token === undefined) return instances;
    if (page >= MAX_PAGES)
      throw new Ec2InvalidResponse(`DescribeInstances still had more pages after ${MAX_PAGES}.`);
  }
}

/**
 * The cluster an instance is a node of, from the tags EKS puts on its nodes: `eks:cluster-name` (managed node
 * groups, Auto Mode) or `kubernetes.io/cluster/<name>` (self-managed nodes, Karpenter).
 */
export function clusterOfNode(tags: Readonly<Record<string, string>>): string | undefined {
  if (tags['eks:cluster-name']) return tags['eks:cluster-name'];
  const key = Object.keys(tags).find((candidate) => candidate.startsWith('kubernetes.io/cluster/'));
  return key?.slice('kubernetes.io/cluster/'.length) || undefined;
}

/** Each cluster's most common node instance type: what a pod's share of a node is priced at. */
export function nodeTypesByCluster(instances: readonly RunningInstance[]): Record<string, string> {
  const counts = new Map<string, Map<string, number>>();
  for (const instance of instances) {
    const cluster = clusterOfNode(instance.tags);
    if (!cluster) continue;
    const types = counts.get(cluster) ?? new Map<string, number>();
    types.set(instance.type, (types.get(instance.type) ?? 0) + 1);
    counts.set(cluster, types);
  }
  return Object.fromEntries(
    [...counts].map(([cluster, types]) => [
      cluster,
      [...types].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? '',
    ]),
  );
}
