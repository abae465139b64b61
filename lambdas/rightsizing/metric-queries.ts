import type { CloudWatchClient, MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { MAX_METRIC_QUERIES, type MetricStatus, streamMetricData } from '../aws/cloudwatch';
import type { UsageDistribution, WorkloadInventory } from './model';
import { SeriesCollector, type SeriesMeasure } from './percentiles';
import { workloadId } from './workload-id';

// The usage series the right-sizing report reads, and how they are packed into GetMetricData calls.
//
// Pods: Container Insights with enhanced observability (the CloudWatch Observability EKS add-on) publishes
// absolute usage per workload in namespace `ContainerInsights`, dimensions [ClusterName, Namespace, PodName],
// where PodName is the workload's name (the pods' owner), not a pod's:
// - `pod_cpu_usage_total`: CPU in millicores (the performance log's field, e.g. pod_cpu_limit 200 beside a
//   usage of 8.9; `pod_cpu_utilization` is the same over the node's capacity, so unusable for requests);
// - `pod_memory_working_set`: bytes, the figure the kubelet compares with the limit for OOM kills.
// (AWS CloudWatch docs, "Amazon EKS and Kubernetes Container Insights metrics" and the performance log
// reference; reference.md "Right-sizing".) Each pod reports once a minute under its workload's PodName, so:
// - CPU: statistic `Average` per period = the mean per pod over the period (KRR's CPU series is a per-pod rate
//   over a few minutes too). Percentiles are taken over those period means.
// - memory: statistic `Maximum` per period = the largest pod's largest sample, so the series' maximum is
//   KRR's "max memory of any pod".
// EC2 and RDS: `CPUUtilization` (percent of the instance's vCPUs) in AWS/EC2 (InstanceId) and AWS/RDS
// (DBInstanceIdentifier), statistic `Average` per period (EC2 basic monitoring is 5-minute data).

/** GetMetricData's per-call limits (reference.md; CloudWatch API reference, MetricDataQueries and MaxDatapoints). */
export const CALL_LIMITS = { maxQueries: MAX_METRIC_QUERIES, maxDatapoints: 100_800 } as const;

/** The Container Insights metrics a workload is sized from, with the statistic each datapoint is. */
export const CONTAINER_INSIGHTS = {
  namespace: 'ContainerInsights',
  cpu: { metricName: 'pod_cpu_usage_total', statistic: 'Average', unit: 'millicores' },
  memory: { metricName: 'pod_memory_working_set', statistic: 'Maximum', unit: 'bytes' },
} as const;

/** One series to read: the caller's key, the metric, and how each datapoint is aggregated. */
export interface SeriesRequest {
  key: string;
  namespace: string;
  metricName: string;
  dimensions: Array<{ Name: string; Value: string }>;
  statistic: string;
  periodSeconds: number;
}

export type UsageResource = 'cpu' | 'memory';

/** The key of a workload's series of one resource: `<workload id>#cpu`. */
export const workloadSeriesKey = (workload: Parameters<typeof workloadId>[0], resource: UsageResource) =>
  `${workloadId(workload)}#${resource}`;

/** The two series (CPU millicores, memory bytes) of each workload. */
export function workloadSeries(
  workloads: readonly WorkloadInventory[],
  periodSeconds: number,
): SeriesRequest[] {
  return workloads.flatMap((workload) =>
    (['cpu', 'memory'] as const).map((resource) => ({
      key: workloadSeriesKey(workload, resource),
      namespace: CONTAINER_INSIGHTS.namespace,
      metricName: CONTAINER_INSIGHTS[resource].metricName,
      dimensions: [
        { Name: 'ClusterName', Value: workload.cluster },
        { Name: 'Namespace', Value: workload.namespace },
        // The workload's name: Container Insights aggregates its pods under it.
        { Name: 'PodName', Value: workload.name },
      ],
      statistic: CONTAINER_INSIGHTS[resource].statistic,
      periodSeconds,
    })),
  );
}

/** The CPUUtilization series of an EC2 instance or an RDS instance, keyed by its id. */
export function instanceCpuSeries(kind: 'ec2' | 'rds', id: string, periodSeconds: number): SeriesRequest {
  return {
    key: `${kind}:${id}#cpu`,
    namespace: kind === 'ec2' ? 'AWS/EC2' : 'AWS/RDS',
    metricName: 'CPUUtilization',
    dimensions: [{ Name: kind === 'ec2' ? 'InstanceId' : 'DBInstanceIdentifier', Value: id }],
    statistic: 'Average',
    periodSeconds,
  };
}

export interface MetricWindow {
  start: Date;
  end: Date;
}

/** Datapoints one query returns at most over the window: lookback / period, rounded up. */
export const datapointsPerSeries = ({ start, end }: MetricWindow, periodSeconds: number): number =>
  Math.ceil((end.getTime() - start.getTime()) / 1000 / periodSeconds);

/**
 * The fewest GetMetricData calls `series` series of `datapointsPerSeries` points each can take, from the two
 * per-call limits: max(⌈series / 500⌉, ⌈series × datapoints / 100,800⌉).
 */
export function lowerBoundCalls(series: number, datapointsPerSeries: number): number {
  if (series === 0) return 0;
  return Math.max(
    Math.ceil(series / CALL_LIMITS.maxQueries),
    Math.ceil((series * datapointsPerSeries) / CALL_LIMITS.maxDatapoints),
  );
}

/** One GetMetricData call's worth of series. */
export interface MetricBatch {
  requests: SeriesRequest[];
  /** The datapoints the call returns at most: a batch over 100,800 is a single series and paginates. */
  datapoints: number;
}

/**
 * Packs series into calls of at most 500 queries and 100,800 datapoints each (first-fit decreasing), so each
 * call answers in one page and its series are complete when it returns: they can be reduced to percentiles
 * and dropped at once. A series longer than one page on its own (a 1-minute period over 14 days is 20,160
 * points, within; only sub-minute periods are not) gets a call of its own and is paginated.
 */
export function packSeries(
  requests: readonly SeriesRequest[],
  window: MetricWindow,
  limits: { maxQueries: number; maxDatapoints: number } = CALL_LIMITS,
): MetricBatch[] {
  const sized = requests
    .map((request) => ({ request, datapoints: datapointsPerSeries(window, request.periodSeconds) }))
    .sort((a, b) => b.datapoints - a.datapoints);
  const batches: MetricBatch[] = [];
  // Batches that may still take a series; a full one leaves the list, so the scan stays short.
  let open: MetricBatch[] = [];
  for (const { request, datapoints } of sized) {
    if (datapoints > limits.maxDatapoints) {
      batches.push({ requests: [request], datapoints });
      continue;
    }
    let target = open.find((batch) => batch.datapoints + datapoints <= limits.maxDatapoints);
    if (!target) {
      target = { requests: [], datapoints: 0 };
      batches.push(target);
      open.push(target);
    }
    target.requests.push(request);
    target.datapoints += datapoints;
    if (target.requests.length >= limits.maxQueries || target.datapoints >= limits.maxDatapoints) {
      open = open.filter((batch) => batch !== target);
    }
  }
  return batches;
}

/** A batch as GetMetricData queries; ids are `q<index>` (they must start with a lower-case letter). */
export function batchQueries(batch: MetricBatch): MetricDataQuery[] {
  return batch.requests.map((request, index) => ({
    Id: `q${index}`,
    MetricStat: {
      Metric: {
        Namespace: request.namespace,
        MetricName: request.metricName,
        Dimensions: request.dimensions,
      },
      Period: request.periodSeconds,
      Stat: request.statistic,
    },
    ReturnData: true,
  }));
}

export interface CollectedUsage {
  /** The distribution of each series with datapoints, by key; a key missing had none. */
  distributions: Map<string, UsageDistribution>;
  /** Series CloudWatch answered only in part (`PartialData`, `Forbidden`…): their lines should say so. */
  incomplete: Map<string, MetricStatus>;
  /** GetMetricData requests made (pages: every page is one request). */
  calls: number;
  /** The next batch to read when the time ran out (`continueWhile`); undefined when all were read. */
  nextBatch?: number;
}

export interface CollectOptions {
  /** Other percentiles to compute besides P50/P90/P95/P99/max (a strategy's CPU percentile). */
  extraPercentiles?: readonly number[];
  /** The first batch to read: a step continuing where the previous invocation stopped. @default 0 */
  fromBatch?: number;
  /** Asked before each batch; false stops with `nextBatch` set (a Lambda nearing its timeout). */
  continueWhile?: () => boolean;
}

/**
 * Reads the batches one GetMetricData call (and its pages) at a time, reducing each series to its
 * distribution as soon as its call is answered: memory holds one batch of raw values (≤ 100,800 numbers),
 * never the window. Throttling throws MetricDataThrottled (the workflow retries with backoff, from
 * `fromBatch` if it checkpointed); other transient faults CloudWatchUnavailable.
 */
export async function collectDistributions(
  cloudwatch: CloudWatchClient,
  batches: readonly MetricBatch[],
  window: MetricWindow,
  { extraPercentiles = [], fromBatch = 0, continueWhile = () => true }: CollectOptions = {},
): Promise<CollectedUsage> {
  const distributions = new Map<string, UsageDistribution>();
  const incomplete = new Map<string, MetricStatus>();
  let calls = 0;
  for (let index = fromBatch; index < batches.length; index += 1) {
    if (index > fromBatch && !continueWhile()) return { distributions, incomplete, calls, nextBatch: index };
    const batch = batches[index] as MetricBatch;
    const byId = new Map(batch.requests.map((request, position) => [`q${position}`, request]));
    const longest = Math.max(
      ...batch.requests.map((request) => datapointsPerSeries(window, request.periodSeconds)),
    );
    const collector = new SeriesCollector(longest);
    const lastStatus = new Map<string, MetricStatus>();
    const streamed = await streamMetricData(
      cloudwatch,
      // One series alone can exceed a page: allow the pages it needs.
      {
        queries: batchQueries(batch),
        ...window,
        maxPages: Math.ceil(batch.datapoints / CALL_LIMITS.maxDatapoints) + 1,
      },
      (parts) => {
        for (const part of parts) {
          const request = byId.get(part.id) as SeriesRequest;
          // CloudWatch marks a series PartialData on a page when the rest follows on the next: the status of
          // its last page is the one that counts.
          lastStatus.set(request.key, part.status);
          collector.add(request.key, part.values);
        }
      },
    );
    for (const [key, status] of lastStatus) if (status !== 'Complete') incomplete.set(key, status);
    calls += streamed.pages;
    for (const request of batch.requests) {
      const measure: SeriesMeasure = { statistic: request.statistic, periodSeconds: request.periodSeconds };
      const distribution = collector.close(request.key, measure, extraPercentiles);
      if (distribution) distributions.set(request.key, distribution);
    }
  }
  return { distributions, incomplete, calls };
}
export { workloadId } from './workload-id';
