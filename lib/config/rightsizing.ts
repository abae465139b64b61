import * as z from 'zod/mini';
import { boundedInt, clusterName } from './fields';
import type { EksCluster } from './shared';

// The cost right-sizing report's section of the configuration (`rightsizing:`), its checks against the
// shared sections, and what the runbook is deployed with, derived from it.

/** How a workload's requests are sized from its measured use (KRR's and VPA's defaults, named). */
export const rightsizingStrategySchema = z.strictObject({
  /** CPU request = this percentile of the CPU usage series. @default 95 (KRR) */
  cpuPercentile: z._default(z.number().check(z.gte(50), z.lte(100)), 95),
  /** Memory request = the series' maximum plus this margin. @default 15 (KRR, VPA) */
  memoryMarginPercent: z._default(z.number().check(z.gte(0), z.lte(100)), 15),
  /** No CPU request below this. @default 25 (VPA) */
  minCpuMillicores: z._default(boundedInt(1, 4000), 25),
  /** No memory request below this. @default 250 (VPA: 250 MB) */
  minMemoryMiB: z._default(boundedInt(16, 65_536), 250),
  /** Fewer datapoints than this: insufficient data, no recommendation. @default 100 (KRR) */
  minDatapoints: z._default(boundedInt(1, 100_000), 100),
  /**
   * Workloads an HPA scales: `skip` reports them as HPA-managed without sizing (KRR's default: resizing the
   * requests moves the HPA's utilisation target); `size` sizes their pods anyway. @default 'skip'
   */
  hpa: z._default(z.enum(['skip', 'size']), 'skip'),
  /** A change smaller than this share of the current request is reported as optimized. @default 10 */
  tolerancePercent: z._default(z.number().check(z.gte(0), z.lte(100)), 10),
});
export type RightsizingStrategy = z.output<typeof rightsizingStrategySchema>;

const strategyDefaults = rightsizingStrategySchema.parse({});

export const rightsizingSectionSchema = z.strictObject({
  /** An EventBridge Scheduler expression. @default 'cron(0 6 ? * MON *)' (weekly, Monday 06:00) */
  schedule: z._default(
    z.string().check(z.regex(/^(cron|rate)\(.+\)$/, 'must be a cron(…) or rate(…) expression')),
    'cron(0 6 ? * MON *)',
  ),
  /** IANA time zone of the schedule. @default 'UTC' */
  timeZone: z._default(z.string().check(z.minLength(1)), 'UTC'),
  /** Days of metrics each recommendation reads (Container Insights keeps 1-minute data 15 days). @default 14 */
  lookbackDays: z._default(boundedInt(1, 15), 14),
  /** The period of each datapoint read, in seconds. @default 300 */
  periodSeconds: z._default(z.union([z.literal(60), z.literal(300), z.literal(3600)]), 300),
  /** Clusters whose workloads are sized, in their granted namespaces. @default - every cluster of `eksClusters` */
  clusters: z.optional(z.array(clusterName)),
  strategy: z._default(rightsizingStrategySchema, strategyDefaults),
  /** Size EC2 instances and Auto Scaling groups (the nodes). @default true */
  ec2: z._default(z.boolean(), true),
  /** Size RDS instances. @default true */
  rds: z._default(z.boolean(), true),
  /** Lines in the Slack summary. @default 10 */
  topN: z._default(boundedInt(1, 20), 10),
  /**
   * How long the presigned link in Slack works, in hours. A link signed with the function's temporary
   * credentials dies with them, however long it asked for: the message says when it really expires.
   * @default 12
   */
  linkExpiryHours: z._default(boundedInt(1, 168), 12),
  /** How long reports stay in the bucket. @default 400 */
  reportRetentionDays: z._default(boundedInt(7, 3_650), 400),
});
export type RightsizingSection = z.output<typeof rightsizingSectionSchema>;

export function checkRightsizingSection(
  { rightsizing, eksClusters }: { rightsizing: RightsizingSection; eksClusters: EksCluster[] },
  ctx: z.core.$RefinementCtx,
): void {
  const known = new Set(eksClusters.map((cluster) => cluster.name));
  (rightsizing.clusters ?? []).forEach((name, index) => {
    if (!known.has(name)) {
      ctx.addIssue({
        code: 'custom',
        path: ['rightsizing', 'clusters', index],
        message: `cluster "${name}" is not in eksClusters (${[...known].join(', ')})`,
      });
    }
  });
}

/** The clusters (with their granted namespaces) whose workloads the report sizes. */
export function rightsizingClusters(section: RightsizingSection, clusters: EksCluster[]): EksCluster[] {
  return section.clusters === undefined
    ? clusters
    : clusters.filter((cluster) => section.clusters?.includes(cluster.name));
}

/** What the workflow hands the collecting steps: read from the definition, the same way in the rehearsal. */
export interface RightsizingSettings {
  lookbackDays: number;
  periodSeconds: number;
  strategy: RightsizingStrategy;
  ec2: boolean;
  rds: boolean;
  topN: number;
  linkExpiryHours: number;
}

const asAslString = (value: unknown): string => JSON.stringify(JSON.stringify(value)).slice(1, -1);

/** What the construct and the rehearsal derive from the section, the same way. */
export function rightsizingRuntime({
  settings,
  clusters,
}: {
  settings: RightsizingSection;
  clusters: EksCluster[];
}) {
  const sized = rightsizingClusters(settings, clusters);
  const runtimeSettings: RightsizingSettings = {
    lookbackDays: settings.lookbackDays,
    periodSeconds: settings.periodSeconds,
    strategy: settings.strategy,
    ec2: settings.ec2,
    rds: settings.rds,
    topN: settings.topN,
    linkExpiryHours: settings.linkExpiryHours,
  };
  return {
    clusters: sized,
    substitutions: {
      // A JSON document in an ASL string: each step parses it with its schema.
      RightsizingSettings: asAslString(runtimeSettings),
      // The Map over clusters iterates this list (names and namespaces), parsed by States.StringToJson.
      RightsizingClusters: asAslString(sized.map(({ name, namespaces }) => ({ name, namespaces }))),
    },
  };
}
