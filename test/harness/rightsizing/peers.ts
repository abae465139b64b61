import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../../lib/config/load';
import { configSchema, type RunbooksConfig } from '../../../lib/config/schema';
import type { Rehearsal } from '../rehearsal';
import { SimulatedRds } from '../restore-test/simulated-rds';
import { SimulatedBuckets } from '../simulated-buckets';
import type { SimulatedMetrics } from '../simulated-metrics';
import { timelineNow } from '../virtual-clock';
import { SimulatedComputeOptimizer } from './simulated-compute-optimizer';
import { SimulatedEc2 } from './simulated-ec2';
import { SimulatedPricing } from './simulated-pricing';

/** The bucket the right-sizing report writes its parts and reports to, as the stack's reports bucket. */
export const REPORT_BUCKET = 'platform-runbooks-rehearsal-rightsizing-reports';

/** The clusters of the rehearsal: the example's, and a second one whose workloads are sized too. */
export const CLUSTERS = {
  prod: { name: 'prod-eks', namespaces: ['checkout', 'payments'] },
  batch: { name: 'batch-eks', namespaces: ['jobs', 'observability'] },
} as const;

/**
 * The shipped example with a second cluster and a `rightsizing` section: 14 days of 5-minute data, KRR's
 * strategy (the defaults), EC2 and RDS sized, the top 10 in Slack.
 */
export function rightsizingRehearsalConfig(): RunbooksConfig {
  const example = loadConfig(fileURLToPath(new URL('../../../lib/config/example.yaml', import.meta.url)));
  return configSchema.parse({
    ...example,
    eksClusters: [
      ...example.eksClusters.filter((cluster) => cluster.name !== CLUSTERS.batch.name),
      { name: CLUSTERS.batch.name, namespaces: [...CLUSTERS.batch.namespaces] },
    ],
    rightsizing: { lookbackDays: 14, periodSeconds: 300, topN: 10, linkExpiryHours: 72 },
  });
}

/** What the right-sizing report reaches in a rehearsal besides the simulated account and API servers. */
export interface RightsizingPeers {
  buckets: SimulatedBuckets;
  optimizer: SimulatedComputeOptimizer;
  /** EC2's DescribeInstances: the bastion and the clusters' nodes. */
  ec2: SimulatedEc2;
  pricing: SimulatedPricing;
  /** RDS's DescribeDBInstances (the restore test's simulation, reused: one mock of RDSClient). */
  rds: SimulatedRds;
  /** CloudWatch's series and GetMetricData: the simulated account's (one mock of CloudWatchClient). */
  metrics: SimulatedMetrics;
}

const peers = new WeakMap<object, RightsizingPeers>();

/**
 * The right-sizing report's simulated peers, created on first use and restored when the rehearsal closes;
 * `freshRightsizingPeers` resets them for a scenario (the rehearsal's own reset does not know them).
 */
export function rightsizingPeersOf(rehearsal: Rehearsal<RunbooksConfig>): RightsizingPeers {
  let found = peers.get(rehearsal);
  if (!found) {
    const created: RightsizingPeers = {
      buckets: new SimulatedBuckets([REPORT_BUCKET]),
      optimizer: new SimulatedComputeOptimizer(),
      ec2: new SimulatedEc2(),
      pricing: new SimulatedPricing(),
      rds: new SimulatedRds(),
      metrics: rehearsal.account.metrics,
    };
    // What the run asked of CloudWatch, Compute Optimizer and the Price List, beside the states. The peers stamp
    // calls with timelineNow(); the run's start comes on the (virtual) Date clock.
    rehearsal.addTimelineSource((runStartedAt) => {
      const start = runStartedAt - (Date.now() - timelineNow());
      const entry = (at: number, text: string) => ({ at: at - start, source: 'aws' as const, text });
      return [
        ...created.metrics.calls
          .filter((call) => call.at >= start)
          .map((call) =>
            entry(
              call.at,
              `CloudWatch GetMetricData: ${call.queries} queries → ${call.error ?? `${call.datapoints} datapoints`}`,
            ),
          ),
        ...created.ec2.calls
          .filter((call) => call.at >= start)
          .map((call) => entry(call.at, `EC2 ${call.operation}${call.error ? ` → ${call.error}` : ''}`)),
        ...created.optimizer.calls
          .filter((call) => call.at >= start)
          .map((call) =>
            entry(call.at, `Compute Optimizer ${call.operation}${call.error ? ` → ${call.error}` : ''}`),
          ),
        ...created.pricing.calls
          .filter((call) => call.at >= start)
          .map((call) =>
            entry(
              call.at,
              `Price List GetProducts ${call.serviceCode} ${call.filters.instanceType ?? ''} → ${call.answer}`,
            ),
          ),
      ];
    });
    rehearsal.onClose(() => {
      created.buckets.restore();
      created.optimizer.restore();
      created.ec2.restore();
      created.pricing.restore();
      created.rds.restore();
    });
    peers.set(rehearsal, created);
    found = created;
  }
  return found;
}

/** The peers, emptied for a scenario. */
export function freshRightsizingPeers(rehearsal: Rehearsal<RunbooksConfig>): RightsizingPeers {
  const found = rightsizingPeersOf(rehearsal);
  found.buckets.reset();
  found.optimizer.reset();
  found.ec2.reset();
  found.pricing.reset();
  found.rds.reset();
  found.metrics.reset();
  return found;
}
