import {
  DescribeListenersCommand,
  DescribeRulesCommand,
  DescribeTargetGroupsCommand,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import * as z from 'zod/mini';
import { mapConcurrently } from '../shared/concurrency';
import { parseOrThrow } from '../shared/errors';
import { sendNamingFaults } from './faults';
import {
  ElasticLoadBalancingInvalidResponse,
  ElasticLoadBalancingUnavailable,
} from './load-balancer-certificates';

// What the canary's ALB router confirms a step on: the load balancers its target groups are attached to, and the
// listener rules of one load balancer, every page of each. Reads only (elasticloadbalancing:Describe*). The
// rules are handed on as ELBv2 answers them: the router parses the part it judges (routers/alb.ts).

/** One SDK call, a transient fault (throttling, 5xx, timeout) named ElasticLoadBalancingUnavailable. */
const send = <T>(operation: string, call: () => Promise<T>): Promise<T> =>
  sendNamingFaults(operation, call, ElasticLoadBalancingUnavailable);

const arn = z.string().check(z.minLength(1));
const targetGroupsAnswer = z.object({
  TargetGroups: z._default(
    z.array(z.object({ TargetGroupArn: arn, LoadBalancerArns: z._default(z.array(arn), []) })),
    [],
  ),
  NextMarker: z.optional(z.string()),
});
const listenersAnswer = z.object({
  Listeners: z._default(z.array(z.object({ ListenerArn: arn })), []),
  NextMarker: z.optional(z.string()),
});
// Loose: the rule's conditions and actions go to the router whole.
const ruleSchema = z.looseObject({ RuleArn: z.optional(z.string()) });
const rulesAnswer = z.object({
  Rules: z._default(z.array(ruleSchema), []),
  NextMarker: z.optional(z.string()),
});
export type ListenerRule = z.output<typeof ruleSchema>;

/** DescribeTargetGroups, DescribeListeners and DescribeRules take at most 400 per page (ELB API reference, PageSize). */
const PAGE_SIZE = 400;
const MAX_PAGES = 50;

/** Follows NextMarker through every page of one Describe call, refusing an answer that never ends. */
async function allPages<T>(
  operation: string,
  fetchPage: (marker: string | undefined) => Promise<{ items: T[]; nextMarker: string | undefined }>,
): Promise<T[]> {
  const items: T[] = [];
  let marker: string | undefined;
  for (let page = 1; ; page += 1) {
    const answer = await send(operation, () => fetchPage(marker));
    items.push(...answer.items);
    marker = answer.nextMarker;
    if (marker === undefined) return items;
    if (page >= MAX_PAGES) {
      throw new ElasticLoadBalancingInvalidResponse(`${operation} still had more pages after ${MAX_PAGES}.`);
    }
  }
}

export interface TargetGroupAttachment {
  targetGroupArn: string;
  /** The load balancers whose rules forward to it: none until a listener rule does. */
  loadBalancerArns: string[];
}

/** DescribeTargetGroups for these target groups: the load balancers each is attached to. */
export async function describeTargetGroupAttachments(
  elb: ElasticLoadBalancingV2Client,
  targetGroupArns: readonly string[],
): Promise<TargetGroupAttachment[]> {
  if (targetGroupArns.length === 0) return [];
  return allPages('DescribeTargetGroups', async (marker) => {
    const raw = await elb.send(
      new DescribeTargetGroupsCommand({
        TargetGroupArns: [...targetGroupArns],
        Marker: marker,
        PageSize: PAGE_SIZE,
      }),
    );
    const answer = parseOrThrow(
      targetGroupsAnswer,
      raw,
      'The DescribeTargetGroups answer',
      ElasticLoadBalancingInvalidResponse,
    );
    return {
      items: answer.TargetGroups.map((group) => ({
        targetGroupArn: group.TargetGroupArn,
        loadBalancerArns: group.LoadBalancerArns,
      })),
      nextMarker: answer.NextMarker,
    };
  });
}

export interface ListenerRules {
  listenerArn: string;
  rules: ListenerRule[];
}

/** Every listener of the load balancer with all its rules (DescribeListeners, then DescribeRules per listener). */
export async function describeLoadBalancerRules(
  elb: ElasticLoadBalancingV2Client,
  loadBalancerArn: string,
  { concurrency = 4 }: { concurrency?: number } = {},
): Promise<ListenerRules[]> {
  const listenerArns = await allPages('DescribeListeners', async (marker) => {
    const raw = await elb.send(
      new DescribeListenersCommand({ LoadBalancerArn: loadBalancerArn, Marker: marker, PageSize: PAGE_SIZE }),
    );
    const answer = parseOrThrow(
      listenersAnswer,
      raw,
      `The DescribeListeners answer for ${loadBalancerArn}`,
      ElasticLoadBalancingInvalidResponse,
    );
    return { items: answer.Listeners.map((listener) => listener.ListenerArn), nextMarker: answer.NextMarker };
  });
  return mapConcurrently(listenerArns, concurrency, async (listenerArn) => ({
    listenerArn,
    rules: await allPages('DescribeRules', async (marker) => {
      const raw = await elb.send(
        new DescribeRulesCommand({ ListenerArn: listenerArn, Marker: marker, PageSize: PAGE_SIZE }),
      );
      const answer = parseOrThrow(
        rulesAnswer,
        raw,
        `The DescribeRules answer for ${listenerArn}`,
        ElasticLoadBalancingInvalidResponse,
      );
      return { items: answer.Rules, nextMarker: answer.NextMarker };
    }),
  }));
}
