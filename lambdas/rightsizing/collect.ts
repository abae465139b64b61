import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { ComputeOptimizerClient } from '@aws-sdk/client-compute-optimizer';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { RDSClient } from '@aws-sdk/client-rds';
import { nodeTypesByCluster, runningInstances, type RunningInstance } from '../aws/ec2-instances';
import { listDatabases, type ObservedResource } from '../aws/rds-restore';
import type { KubernetesClient } from '../kubernetes/client';
import { computeOptimizerLines, recommendInstanceFromCpu } from './compute-optimizer';
import { collectWorkloadInventory } from './inventory';
import {
  collectDistributions,
  datapointsPerSeries,
  instanceCpuSeries,
  lowerBoundCalls,
  packSeries,
  workloadSeries,
  workloadSeriesKey,
  type MetricWindow,
} from './metric-queries';
import type { RecommendationLine } from './model';
import type { SourceFailure } from './parts';
import { recommendWorkload } from './recommend';
import type { RightsizingStepSettings } from './settings';

// What the two collecting steps do, with their clients as parameters: one cluster's workloads sized from
// Container Insights, and the region's EC2 instances, Auto Scaling groups and RDS instances sized by Compute
// Optimizer or, where the account has not opted in, from CloudWatch.

export interface Collected {
  lines: RecommendationLine[];
  failures: SourceFailure[];
  /** GetMetricData requests made, and the least the API's two per-call limits allow for the same series. */
  metricCalls: number;
  metricCallsLowerBound: number;
}

/**
 * The window every series is read over: `lookbackDays` ending at the last whole period before `now`, so two
 * steps of one run read the same datapoints.
 */
export function metricWindow(
  now: Date,
  { lookbackDays, periodSeconds }: RightsizingStepSettings,
): MetricWindow {
  const periodMs = periodSeconds * 1000;
  const end = new Date(Math.floor(now.getTime() / periodMs) * periodMs);
  return { start: new Date(end.getTime() - lookbackDays * 86_400_000), end };
}

/**
 * One cluster: its workloads in the granted namespaces, their usage (GetMetricData packed to the API's limits,
 * each series reduced to its distribution as its call is answered) and a line each. A namespace that cannot
 * be read is a failure inside the result; CloudWatch throttling throws (the workflow retries with backoff).
 */
export async function sizeClusterWorkloads(
  { kubernetes, cloudwatch }: { kubernetes: KubernetesClient; cloudwatch: CloudWatchClient },
  {
    cluster,
    namespaces,
    settings,
    region,
    now,
  }: {
    cluster: string;
    namespaces: readonly string[];
    settings: RightsizingStepSettings;
    region: string;
    now: Date;
  },
): Promise<Collected> {
  const inventory = await collectWorkloadInventory(kubernetes, { cluster, namespaces });
  const window = metricWindow(now, settings);
  const series = workloadSeries(inventory.workloads, settings.periodSeconds);
  const usage = await collectDistributions(cloudwatch, packSeries(series, window), window, {
    extraPercentiles: [settings.strategy.cpuPercentile],
  });
  const lines = inventory.workloads.map((workload) => {
    const cpuKey = workloadSeriesKey(workload, 'cpu');
    const memoryKey = workloadSeriesKey(workload, 'memory');
    const cpu = usage.distributions.get(cpuKey);
    const memory = usage.distributions.get(memoryKey);
    return recommendWorkload(
      workload,
      {
        ...(cpu && { cpu }),
        ...(memory && { memory }),
        ...((usage.incomplete.has(cpuKey) || usage.incomplete.has(memoryKey)) && { incomplete: true }),
      },
      settings.strategy,
      { region },
    );
  });
  return {
    lines,
    failures: inventory.failures,
    metricCalls: usage.calls,
    metricCallsLowerBound: lowerBoundCalls(
      series.length,
      datapointsPerSeries(window, settings.periodSeconds),
    ),
  };
}

export interface ComputeCollected extends Collected {
  /** Each cluster's most common node type, from the nodes' EKS tags: the report prices pods with it. */
  nodeTypes: Record<string, string>;
  /** Whether Compute Optimizer sized the lines (the account opted in), or our CloudWatch method. */
  source: 'compute-optimizer' | 'cloudwatch';
}

/**
 * The region's EC2 instances, Auto Scaling groups and RDS instances (as `settings.ec2` and `settings.rds`
 * ask): Compute Optimizer's recommendations where the account opted in (it knows memory and more history),
 * else CPUUtilization from CloudWatch (recommendInstanceFromCpu; groups are then not sized, and the result
 * says so). The running instances are listed either way: their EKS tags say which types the nodes are.
 */
export async function sizeCompute(
  clients: {
    computeOptimizer: ComputeOptimizerClient;
    ec2: EC2Client;
    rds: RDSClient;
    cloudwatch: CloudWatchClient;
  },
  { settings, region, now }: { settings: RightsizingStepSettings; region: string; now: Date },
): Promise<ComputeCollected> {
  const instances: RunningInstance[] = settings.ec2 ? await runningInstances(clients.ec2) : [];
  const databases: ObservedResource[] = settings.rds ? await listDatabases(clients.rds, ['instance']) : [];
  const nodeTypes = nodeTypesByCluster(instances);
  const multiAz = new Map(databases.map((database) => [database.id, database.multiAz ?? false]));
  const optimized = await computeOptimizerLines(clients.computeOptimizer, region, {
    ec2: settings.ec2,
    rds: settings.rds,
    multiAz: (id) => multiAz.get(id),
  });
  if (optimized !== undefined) {
    return {
      lines: optimized,
      failures: [],
      metricCalls: 0,
      metricCallsLowerBound: 0,
      nodeTypes,
      source: 'compute-optimizer',
    };
  }

  const window = metricWindow(now, settings);
  const sized = [
    ...instances.map((instance) => ({
      series: instanceCpuSeries('ec2', instance.id, settings.periodSeconds),
      usage: {
        kind: 'ec2' as const,
        id: instance.id,
        name: instance.name,
        region,
        instanceType: instance.type,
      },
    })),
    ...databases
      .filter((database) => database.instanceClass !== undefined)
      .map((database) => ({
        series: instanceCpuSeries('rds', database.id, settings.periodSeconds),
        usage: {
          kind: 'rds' as const,
          id: database.id,
          name: database.id,
          region,
          instanceType: database.instanceClass ?? '',
          multiAz: database.multiAz ?? false,
        },
      })),
  ];
  const failures: SourceFailure[] = [];
  if (settings.ec2) {
    failures.push({
      source: 'compute-optimizer',
      location: region,
      error:
        'The account has not opted in to Compute Optimizer: EC2 and RDS are sized from CPUUtilization alone, and Auto Scaling groups are not sized.',
    });
  }
  // Throttling (MetricDataThrottled) and CloudWatchUnavailable reach the workflow, which retries them.
  const usage = await collectDistributions(
    clients.cloudwatch,
    packSeries(
      sized.map((item) => item.series),
      window,
    ),
    window,
  );
  return {
    lines: sized.map((item) => {
      const cpu = usage.distributions.get(item.series.key);
      return recommendInstanceFromCpu({ ...item.usage, ...(cpu && { cpu }) });
    }),
    failures,
    metricCalls: usage.calls,
    metricCallsLowerBound: lowerBoundCalls(sized.length, datapointsPerSeries(window, settings.periodSeconds)),
    nodeTypes,
    source: 'cloudwatch',
  };
}
