import { describe, expect, it } from 'vitest';
import type { WorkloadInventory } from '../../lambdas/rightsizing/model';
import { distributionOf, percentileOfSorted, SeriesCollector } from '../../lambdas/rightsizing/percentiles';
import {
  DEFAULT_STRATEGY,
  recommendWorkload,
  strategyName,
  type Strategy,
} from '../../lambdas/rightsizing/recommend';

const MIB = 1024 * 1024;
const FIVE_MINUTES = { periodSeconds: 300 };

/** A series of `n` values from `value(i)`, as the collector would reduce it. */
function usage(n: number, value: (i: number) => number, statistic = 'Average', extra: number[] = []) {
  const values = Float64Array.from({ length: n }, (_, i) => value(i));
  return distributionOf(values, { statistic, ...FIVE_MINUTES }, extra);
}

const workload = (overrides: Partial<WorkloadInventory> = {}): WorkloadInventory => ({
  cluster: 'prod',
  namespace: 'shop',
  kind: 'Deployment',
  name: 'checkout',
  replicas: 3,
  containers: [{ name: 'app', requests: { cpuMillicores: 1000, memoryBytes: 2048 * MIB }, limits: {} }],
  ...overrides,
});

describe('percentiles', () => {
  it('interpolates between the closest ranks, as numpy and quantile_over_time do', () => {
    const sorted = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(percentileOfSorted(sorted, 50)).toBeCloseTo(5.5);
    expect(percentileOfSorted(sorted, 95)).toBeCloseTo(9.55);
    expect(percentileOfSorted(sorted, 100)).toBe(10);
    expect(percentileOfSorted(sorted, 0)).toBe(1);
    expect(percentileOfSorted(new Float64Array(0), 50)).toBeNaN();
  });

  it('summarises a series with its statistic, period and datapoints, and any extra percentile asked for', () => {
    const distribution = usage(101, (i) => 100 - i, 'Average', [97.5]);
    expect(distribution).toMatchObject({
      statistic: 'Average',
      periodSeconds: 300,
      datapoints: 101,
      p50: 50,
      p90: 90,
      p95: 95,
      p99: 99,
      max: 100,
      quantiles: { '97.5': 97.5 },
    });
    expect(distributionOf(new Float64Array(0), { statistic: 'Average', ...FIVE_MINUTES })).toBeUndefined();
  });

  it('collects a series across pages and frees it when closed; a series with a gap is just shorter', () => {
    const collector = new SeriesCollector(4);
    collector.add('a', [3, 1]);
    collector.add('b', [10]);
    collector.add('a', [2, 5, 4, Number.NaN]); // grows past its expected length; NaN dropped
    expect(collector.openSeries).toBe(2);
    expect(collector.close('a', { statistic: 'Maximum', ...FIVE_MINUTES })).toMatchObject({
      datapoints: 5,
      max: 5,
      p50: 3,
    });
    expect(collector.close('missing', { statistic: 'Maximum', ...FIVE_MINUTES })).toBeUndefined();
    collector.close('b', { statistic: 'Maximum', ...FIVE_MINUTES });
    expect(collector.openSeries).toBe(0);
  });
});

describe('recommendWorkload with the default strategy (KRR simple, VPA minimums)', () => {
  it('names its defaults', () => {
    expect(DEFAULT_STRATEGY).toMatchObject({
      cpuPercentile: 95,
      memoryMarginPercent: 15,
      minCpuMillicores: 25,
      minMemoryMiB: 250,
      minDatapoints: 100,
      hpa: 'skip',
    });
    expect(strategyName(DEFAULT_STRATEGY)).toMatch(/^KRR simple \(CPU P95, memory max \+ 15 %/);
    expect(strategyName({ ...DEFAULT_STRATEGY, cpuPercentile: 90 })).toMatch(/^custom \(CPU P90/);
  });

  it('sets CPU at P95 and memory at the maximum + 15 %, per pod, with the evidence and a reason', () => {
    const line = recommendWorkload(workload(), {
      cpu: usage(4032, (i) => 100 + (i % 100)), // P95 = 194m
      memory: usage(4032, (i) => (400 + (i % 200)) * MIB, 'Maximum'), // max 599 MiB
    });
    expect(line.finding).toBe('over-provisioned');
    expect(line.id).toBe('prod/shop/Deployment/checkout');
    expect(line.recommended.cpuMillicores).toBe(194);
    expect(line.recommended.memoryBytes).toBe(Math.ceil(599 * 1.15) * MIB); // 689 MiB
    expect(line.current).toEqual({ replicas: 3, cpuMillicores: 1000, memoryBytes: 2048 * MIB });
    expect(line.evidence.cpu).toMatchObject({ statistic: 'Average', periodSeconds: 300, datapoints: 4032 });
    expect(line.evidence.memory).toMatchObject({ statistic: 'Maximum', datapoints: 4032 });
    expect(line.reason).toBe(
      'Lower CPU from 1,000m to 194m and lower memory from 2,048 MiB to 689 MiB per pod: CPU P95 was 194m (4,032 5-minute averages), memory peaked at 599 MiB (+15 %, 4,032 5-minute maximums).',
    );
    expect(line.containers).toEqual([
      {
        name: 'app',
        current: { cpuMillicores: 1000, memoryBytes: 2048 * MIB },
        recommended: { cpuMillicores: 194, memoryBytes: 689 * MIB },
      },
    ]);
  });

  it('honours a configured percentile and margin', () => {
    const strategy: Strategy = { ...DEFAULT_STRATEGY, cpuPercentile: 90, memoryMarginPercent: 30 };
    const line = recommendWorkload(
      workload({
        containers: [{ name: 'app', requests: { cpuMillicores: 4000, memoryBytes: 4096 * MIB }, limits: {} }],
      }),
      { cpu: usage(1000, (i) => i, 'Average'), memory: usage(1000, () => 1000 * MIB, 'Maximum') },
      strategy,
    );
    expect(line.recommended).toEqual({ cpuMillicores: Math.ceil(0.9 * 999), memoryBytes: 1300 * MIB });
  });

  it("never goes below VPA's minimums, 25m and 250 MiB a pod, split over its containers", () => {
    const line = recommendWorkload(
      workload({
        containers: [
          { name: 'app', requests: { cpuMillicores: 300, memoryBytes: 512 * MIB }, limits: {} },
          { name: 'sidecar', requests: { cpuMillicores: 100, memoryBytes: 512 * MIB }, limits: {} },
        ],
      }),
      { cpu: usage(200, () => 2), memory: usage(200, () => 10 * MIB, 'Maximum') },
    );
    expect(line.recommended).toEqual({ cpuMillicores: 25, memoryBytes: 250 * MIB });
    // Split by the current request share: 3:1 for CPU, 1:1 for memory.
    expect(line.containers?.map((container) => container.recommended)).toEqual([
      { cpuMillicores: 19, memoryBytes: 125 * MIB },
      { cpuMillicores: 7, memoryBytes: 125 * MIB },
    ]);
  });

  it('reports too little data instead of guessing (fewer than 100 datapoints)', () => {
    const line = recommendWorkload(workload(), {
      cpu: usage(99, () => 100),
      memory: usage(40, () => MIB, 'Maximum'),
    });
    expect(line.finding).toBe('insufficient-data');
    expect(line.recommended).toEqual({});
    expect(line.reason).toBe(
      'Not sized: only 99 CPU datapoints and 40 memory datapoints in the window, fewer than the 100 needed.',
    );
    expect(line.evidence.cpu?.datapoints).toBe(99);
  });

  it('sizes the resource that has enough data and says which one it could not', () => {
    const line = recommendWorkload(workload(), {
      cpu: usage(500, () => 100),
      memory: usage(10, () => MIB, 'Maximum'),
    });
    expect(line.finding).toBe('over-provisioned');
    expect(line.recommended).toEqual({ cpuMillicores: 100 });
    expect(line.reason).toMatch(/memory not sized \(10 memory datapoints, fewer than 100\)/);
  });

  it('reports zero datapoints as insufficient data, naming the likely cause', () => {
    const line = recommendWorkload(workload(), {});
    expect(line.finding).toBe('insufficient-data');
    expect(line.evidence).toEqual({});
    expect(line.reason).toMatch(/no usage for it in the window/);
  });

  it('skips HPA-managed workloads by default, with the reason', () => {
    const line = recommendWorkload(
      workload({ hpa: { minReplicas: 2, maxReplicas: 10, targetCpuUtilizationPercent: 70 } }),
      {
        cpu: usage(500, () => 100),
        memory: usage(500, () => 100 * MIB, 'Maximum'),
      },
    );
    expect(line.finding).toBe('hpa-managed');
    expect(line.recommended).toEqual({});
    expect(line.reason).toMatch(/^Not sized: an HPA scales it \(2–10 replicas, CPU target 70 %\)/);
    expect(line.evidence.cpu?.datapoints).toBe(500);
  });

  it('explains an HPA without a CPU target by the replica count, not the request', () => {
    const line = recommendWorkload(workload({ hpa: { minReplicas: 1, maxReplicas: 5 } }), {});
    expect(line.reason).toBe(
      "Not sized: an HPA scales it (1–5 replicas), and its per-pod usage moves with the replica count the HPA chooses (KRR skips these; strategy.hpa 'size' sizes its pods anyway).",
    );
  });

  it("sizes an HPA-managed workload's pods when the strategy says so, and warns about the scaling target", () => {
    const line = recommendWorkload(
      workload({ hpa: { minReplicas: 2, maxReplicas: 10, targetCpuUtilizationPercent: 70 } }),
      { cpu: usage(500, () => 100), memory: usage(500, () => 100 * MIB, 'Maximum') },
      { ...DEFAULT_STRATEGY, hpa: 'size' },
    );
    expect(line.finding).toBe('over-provisioned');
    expect(line.recommended.cpuMillicores).toBe(100);
    expect(line.reason).toMatch(
      /an HPA scales it \(2–10 replicas, CPU target 70 %\): its CPU target is relative to the request, so resizing changes the load at which it scales/,
    );
  });

  it('tells an under-provisioned workload to grow', () => {
    const line = recommendWorkload(
      workload({
        containers: [{ name: 'app', requests: { cpuMillicores: 100, memoryBytes: 256 * MIB }, limits: {} }],
      }),
      { cpu: usage(500, () => 400), memory: usage(500, () => 900 * MIB, 'Maximum') },
    );
    expect(line.finding).toBe('under-provisioned');
    expect(line.recommended).toEqual({ cpuMillicores: 400, memoryBytes: 1035 * MIB });
    expect(line.reason).toMatch(
      /^Raise CPU from 100m to 400m and raise memory from 256 MiB to 1,035 MiB per pod/,
    );
  });

  it('keeps a request within the tolerance instead of churning pods for a few percent', () => {
    const line = recommendWorkload(
      workload({
        containers: [{ name: 'app', requests: { cpuMillicores: 100, memoryBytes: 1150 * MIB }, limits: {} }],
      }),
      { cpu: usage(500, () => 95), memory: usage(500, () => 1000 * MIB, 'Maximum') },
    );
    expect(line.finding).toBe('optimized');
    expect(line.recommended).toEqual({ cpuMillicores: 100, memoryBytes: 1150 * MIB });
  });

  it('recommends requests for a workload that sets none (finding no-requests), split equally', () => {
    const line = recommendWorkload(
      workload({
        containers: [
          { name: 'app', requests: {}, limits: {} },
          { name: 'proxy', requests: {}, limits: {} },
        ],
      }),
      { cpu: usage(500, () => 300), memory: usage(500, () => 500 * MIB, 'Maximum') },
    );
    expect(line.finding).toBe('no-requests');
    expect(line.current).toEqual({ replicas: 3 });
    expect(line.recommended).toEqual({ cpuMillicores: 300, memoryBytes: 575 * MIB });
    expect(line.containers?.map((container) => container.recommended)).toEqual([
      { cpuMillicores: 150, memoryBytes: 288 * MIB },
      { cpuMillicores: 150, memoryBytes: 288 * MIB },
    ]);
    expect(line.reason).toMatch(
      /^Set a CPU request of 300m and set a memory request of 575 MiB per pod: .*it sets no request/,
    );
  });

  it('ignores a single huge CPU spike (P95) but sizes memory for its spike (the maximum, by design)', () => {
    const line = recommendWorkload(
      workload({
        containers: [{ name: 'app', requests: { cpuMillicores: 1000, memoryBytes: 4096 * MIB }, limits: {} }],
      }),
      {
        cpu: usage(4032, (i) => (i === 2000 ? 16_000 : 200)),
        memory: usage(4032, (i) => (i === 2000 ? 1800 * MIB : 300 * MIB), 'Maximum'),
      },
    );
    expect(line.recommended.cpuMillicores).toBe(200);
    expect(line.evidence.cpu?.max).toBe(16_000);
    expect(line.recommended.memoryBytes).toBe(Math.ceil(1800 * 1.15) * MIB);
  });

  it('sizes a workload whose container was renamed mid-window: the series is per workload, the split uses today’s names', () => {
    // The first week's datapoints came from container "web", the second's from "app"; Container Insights'
    // PodName series is the workload's, so it only has a gap where the rollout happened.
    const firstWeek = Array.from({ length: 2000 }, () => 150);
    const secondWeek = Array.from({ length: 1900 }, () => 250);
    const collector = new SeriesCollector(4032);
    collector.add('cpu', firstWeek);
    collector.add('cpu', secondWeek);
    const cpu = collector.close('cpu', { statistic: 'Average', ...FIVE_MINUTES });
    const line = recommendWorkload(
      workload({
        containers: [{ name: 'app', requests: { cpuMillicores: 1000, memoryBytes: 2048 * MIB }, limits: {} }],
      }),
      { cpu, memory: usage(3900, () => 300 * MIB, 'Maximum') },
    );
    expect(line.evidence.cpu?.datapoints).toBe(3900);
    expect(line.recommended.cpuMillicores).toBe(250);
    expect(line.containers?.[0]?.name).toBe('app');
  });

  it('says so when CloudWatch answered only part of a series', () => {
    const line = recommendWorkload(workload(), {
      cpu: usage(500, () => 100),
      memory: usage(500, () => MIB, 'Maximum'),
      incomplete: true,
    });
    expect(line.reason).toMatch(/CloudWatch answered only part of its series\.$/);
  });
});
