import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuMillicores, memoryBytes } from '../../lambdas/kubernetes/quantity';
import {
  collectDistributions,
  datapointsPerSeries,
  lowerBoundCalls,
  packSeries,
  workloadSeries,
  workloadSeriesKey,
} from '../../lambdas/rightsizing/metric-queries';
import type { WorkloadInventory } from '../../lambdas/rightsizing/model';
import { DEFAULT_STRATEGY, recommendWorkload } from '../../lambdas/rightsizing/recommend';
import { fleet, podMetric, type FleetWorkload } from '../harness/rightsizing/scenarios';
import { MIB, scaled } from '../harness/rightsizing/usage-series';
import { SimulatedAccount } from '../harness/simulated-account';

// The right-sizing rehearsal's account checked against itself: its workloads' series, read through the
// simulated GetMetricData with the runbook's own packing and percentiles and sized with its strategy, give the
// finding each scenario claims for them. A scenario whose data did not mean what it says would make the
// workflow tests assert on the wrong thing.

let account: SimulatedAccount;
const cloudwatch = new CloudWatchClient({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
});

beforeAll(async () => {
  account = await SimulatedAccount.start('fleet-test-locks');
});
afterAll(() => account.close());

/** A fleet workload as the inventory step reads it from the API server. */
function inventoryOf(workload: FleetWorkload): WorkloadInventory {
  const resources = (list: { cpu?: string; memory?: string } | undefined) => ({
    ...(list?.cpu !== undefined && { cpuMillicores: cpuMillicores(list.cpu) }),
    ...(list?.memory !== undefined && { memoryBytes: memoryBytes(list.memory) }),
  });
  return {
    cluster: workload.cluster,
    namespace: workload.namespace,
    kind: workload.kind,
    name: workload.name,
    replicas: workload.replicas,
    containers: workload.containers.map((container) => ({
      name: container.name,
      requests: resources(container.resources?.requests),
      limits: resources(container.resources?.limits),
    })),
    ...(workload.hpa && {
      hpa: {
        minReplicas: workload.hpa.minReplicas,
        maxReplicas: workload.hpa.maxReplicas,
        targetCpuUtilizationPercent: workload.hpa.cpuUtilization,
      },
    }),
  };
}

describe('the right-sizing rehearsal’s fleet', () => {
  it('gives each workload the finding its scenario claims, over fourteen days of 5-minute data', async () => {
    account.reset();
    const now = Date.now();
    const workloads = fleet(now);
    for (const workload of workloads) {
      if (!workload.usage) continue;
      account.metrics.put(podMetric(workload, 'cpu'), workload.usage.cpu);
      account.metrics.put(podMetric(workload, 'memory'), scaled(workload.usage.memoryMiB, MIB));
    }
    const inventories = workloads.map(inventoryOf);
    const window = { start: new Date(now - 14 * 86_400_000), end: new Date(now) };
    const series = workloadSeries(inventories, 300);
    const batches = packSeries(series, window);
    const usage = await collectDistributions(cloudwatch, batches, window, {
      extraPercentiles: [DEFAULT_STRATEGY.cpuPercentile],
    });
    // 20 series × 4,032 datapoints fit one call: the packing meets the lower bound.
    expect(usage.calls).toBe(lowerBoundCalls(series.length, datapointsPerSeries(window, 300)));
    expect(account.metrics.answeredCalls).toBe(usage.calls);

    const findings = Object.fromEntries(
      inventories.map((inventory) => {
        const cpu = usage.distributions.get(workloadSeriesKey(inventory, 'cpu'));
        const memory = usage.distributions.get(workloadSeriesKey(inventory, 'memory'));
        const line = recommendWorkload(inventory, { ...(cpu && { cpu }), ...(memory && { memory }) });
        return [inventory.name, line.finding];
      }),
    );
    expect(findings).toEqual(
      Object.fromEntries(workloads.map((workload) => [workload.name, workload.expected])),
    );
  });

  it('keeps a single huge CPU spike in the maximum, not in the P95 the request is sized from', async () => {
    account.reset();
    const now = Date.now();
    const scorer = fleet(now).find((workload) => workload.name === 'fraud-scorer') as FleetWorkload;
    account.metrics.put(podMetric(scorer, 'cpu'), scorer.usage?.cpu ?? (() => undefined));
    const inventory = inventoryOf(scorer);
    const window = { start: new Date(now - 14 * 86_400_000), end: new Date(now) };
    const [cpuSeries] = workloadSeries([inventory], 300);
    const usage = await collectDistributions(
      cloudwatch,
      packSeries(cpuSeries ? [cpuSeries] : [], window),
      window,
    );
    const cpu = usage.distributions.get(workloadSeriesKey(inventory, 'cpu'));
    // Averages over 5 minutes: the 4-minute spike to 3,800m is one datapoint of 3,064m among 4,032.
    expect(cpu?.max).toBeGreaterThan(3000);
    expect(cpu?.p95).toBeLessThan(130);
  });
});
