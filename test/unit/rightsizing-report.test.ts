import { DescribeInstancesCommand, EC2Client, type _InstanceType } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { Ec2Unavailable, nodeTypesByCluster, runningInstances } from '../../lambdas/aws/ec2-instances';
import { runbookReportSchema } from '../../lambdas/notify/report';
import type { RecommendationLine } from '../../lambdas/rightsizing/model';
import {
  collectedPartsSchema,
  linkLifetime,
  reportNotification,
  reportTotals,
  sortParts,
  withNodeTypes,
} from '../../lambdas/rightsizing/report';

const execution = {
  id: 'arn:aws:states:eu-west-1:111122223333:execution:rs:run-1',
  name: 'run-1',
  startTime: '2026-12-07T06:00:00Z',
};
const summary = (part: 'workloads' | 'compute', cluster?: string) => ({
  part,
  ...(cluster && { cluster }),
  bucket: 'reports',
  key: `rightsizing/runs/run-1/${part}${cluster ? `-${cluster}` : ''}.json`,
  lines: 3,
  failures: 0,
});
const line = (fields: Partial<RecommendationLine>): RecommendationLine => ({
  kind: 'workload',
  id: 'prod/shop/Deployment/api',
  cluster: 'prod',
  namespace: 'shop',
  name: 'api',
  source: 'cloudwatch',
  finding: 'over-provisioned',
  current: { cpuMillicores: 1000 },
  recommended: { cpuMillicores: 250 },
  evidence: {},
  reason: 'Lower the CPU request to 250m: P95 of use is 210m.',
  cost: { priceSource: 'bundled', method: 'share of node', current: 40, recommended: 10, savings: 30 },
  ...fields,
});

describe('sortParts', () => {
  it('reads the Map and the compute branch, turning a failed step into a gap that names it', () => {
    const parts = collectedPartsSchema.parse([
      [
        summary('workloads', 'prod'),
        {
          part: 'workloads',
          cluster: 'staging',
          failed: {
            Error: 'ClusterEndpointUnreachable',
            Cause: JSON.stringify({ errorMessage: 'private endpoint only' }),
          },
        },
      ],
      { ...summary('compute'), nodeTypes: { prod: 'm7g.large' }, source: 'cloudwatch' },
    ]);
    const sorted = sortParts(parts);
    expect(sorted.summaries.map((part) => part.key)).toEqual([
      'rightsizing/runs/run-1/workloads-prod.json',
      'rightsizing/runs/run-1/compute.json',
    ]);
    expect(sorted.gaps).toEqual([
      { scope: 'cluster staging', reason: 'ClusterEndpointUnreachable: private endpoint only' },
    ]);
    expect(sorted.nodeTypes).toEqual({ prod: 'm7g.large' });
  });

  it('refuses a part that is neither a summary nor a failed step', () => {
    expect(collectedPartsSchema.safeParse([[{ part: 'workloads' }], summary('compute')]).success).toBe(false);
  });
});

describe('pricing context and the Slack summary', () => {
  it("gives workload lines their cluster's node type, and leaves lines of unknown clusters unpriced", () => {
    const lines = withNodeTypes(
      [line({}), line({ id: 'x', cluster: 'other' }), line({ kind: 'rds', id: 'db' })],
      {
        prod: 'm7g.large',
      },
    );
    expect(lines.map((each) => each.nodeInstanceType)).toEqual(['m7g.large', undefined, undefined]);
  });

  it('sums savings and growth apart, lists the top savings, and says what was not covered', () => {
    const lines = [
      line({}),
      line({
        id: 'b',
        name: 'b',
        finding: 'under-provisioned',
        cost: { priceSource: 'bundled', method: 'm', savings: -12 },
      }),
      line({ id: 'c', name: 'c', cost: { priceSource: 'none', method: 'm' } }),
    ];
    const gaps = [{ scope: 'cluster staging', reason: 'unreachable' }];
    const totals = reportTotals(lines, gaps);
    expect(totals).toEqual({ lines: 3, savings: 30, added: 12, net: 18, unpriced: 1, gaps: 1 });
    const link = `https://reports.s3.eu-west-1.amazonaws.com/report.html?${'X-Amz-Security-Token=abc&'.repeat(60)}`;
    const notification = reportNotification({
      lines,
      gaps,
      totals,
      topN: 10,
      links: [{ label: 'Report (HTML)', url: link }],
      linkExpiresAt: new Date('2026-12-07T18:00:00Z'),
      execution,
    });
    // A presigned link with its session token is long: the notifier must still accept it.
    expect(link.length).toBeGreaterThan(1_400);
    expect(runbookReportSchema.safeParse(notification).success).toBe(true);
    expect(notification.outcome).toBe('attention');
    expect(notification.sections).toEqual([
      { title: 'Top 1 savings', lines: [expect.stringContaining('$30')] },
      { title: 'Not covered (1)', lines: ['cluster staging: unreachable'] },
    ]);
    expect(notification.facts).toContainEqual({
      label: 'Links work until',
      value: '2026-12-07T18:00:00.000Z',
    });
  });
});

describe('the running instances and their clusters', () => {
  const ec2 = new EC2Client({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDTESTTESTTESTTEST', secretAccessKey: 't' },
  });
  const mock = mockClient(ec2);
  afterEach(() => mock.reset());
  const instance = (id: string, type: string, tags: Record<string, string>) => ({
    InstanceId: id,
    InstanceType: type as _InstanceType,
    Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
  });

  it('follows NextToken and names each cluster by its most common node type', async () => {
    mock
      .on(DescribeInstancesCommand, { NextToken: undefined })
      .resolves({
        Reservations: [
          {
            Instances: [
              instance('i-1', 'm7g.large', { 'eks:cluster-name': 'prod' }),
              instance('i-2', 'm7g.large', { 'eks:cluster-name': 'prod' }),
            ],
          },
        ],
        NextToken: 'next',
      })
      .on(DescribeInstancesCommand, { NextToken: 'next' })
      .resolves({
        Reservations: [
          {
            Instances: [
              instance('i-3', 'c7g.xlarge', { 'eks:cluster-name': 'prod' }),
              instance('i-4', 't3.small', { 'kubernetes.io/cluster/staging': 'owned', Name: 'node' }),
              instance('i-5', 't3.micro', { Name: 'bastion' }),
            ],
          },
        ],
      });
    const instances = await runningInstances(ec2);
    expect(instances.map((each) => each.id)).toEqual(['i-1', 'i-2', 'i-3', 'i-4', 'i-5']);
    expect(instances[4]?.name).toBe('bastion');
    expect(nodeTypesByCluster(instances)).toEqual({ prod: 'm7g.large', staging: 't3.small' });
  });

  it('names throttling Ec2Unavailable, for the workflow to retry', async () => {
    mock
      .on(DescribeInstancesCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'RequestLimitExceeded' }));
    await expect(runningInstances(ec2)).rejects.toThrow(Ec2Unavailable);
  });
});

describe("the presigned links' lifetime", () => {
  const now = new Date('2026-12-07T06:00:00Z');

  it('asks for the configured hours when the credentials outlive them', () => {
    expect(linkLifetime(12, new Date('2026-12-08T06:00:00Z'), now)).toEqual({
      expiresIn: 12 * 3600,
      expiresAt: new Date('2026-12-07T18:00:00Z'),
    });
  });

  it("stops at the signing session's expiry, and says so", () => {
    // A Lambda's role session ending in 50 minutes: the link dies with it, whatever it asked.
    expect(linkLifetime(12, new Date('2026-12-07T06:50:00Z'), now)).toEqual({
      expiresIn: 3000,
      expiresAt: new Date('2026-12-07T06:50:00Z'),
    });
  });

  it('never promises past the session even at the one-minute floor', () => {
    const { expiresIn, expiresAt } = linkLifetime(12, new Date('2026-12-07T06:00:30Z'), now);
    expect(expiresIn).toBe(60);
    expect(expiresAt).toEqual(new Date('2026-12-07T06:00:30Z'));
  });

  it('asks for the configured hours with long-term credentials, which have no expiry', () => {
    expect(linkLifetime(3, undefined, now).expiresIn).toBe(3 * 3600);
  });
});
