import { describe, expect, it } from 'vitest';
import {
  batchQueries,
  datapointsPerSeries,
  instanceCpuSeries,
  lowerBoundCalls,
  packSeries,
  workloadSeries,
  type SeriesRequest,
} from '../../lambdas/rightsizing/metric-queries';
import type { WorkloadInventory } from '../../lambdas/rightsizing/model';

const DAY = 86_400_000;
const window = (days: number) => ({ start: new Date(0), end: new Date(days * DAY) });
const series = (count: number, periodSeconds: number): SeriesRequest[] =>
  Array.from({ length: count }, (_, i) => instanceCpuSeries('ec2', `i-${i}`, periodSeconds));

describe('the Container Insights queries', () => {
  it('read CPU millicores (Average) and memory bytes (Maximum) per workload, PodName being the workload', () => {
    const workload: WorkloadInventory = {
      cluster: 'prod',
      namespace: 'shop',
      kind: 'Deployment',
      name: 'checkout',
      replicas: 2,
      containers: [],
    };
    const [cpu, memory] = workloadSeries([workload], 300);
    expect(cpu).toEqual({
      key: 'prod/shop/Deployment/checkout#cpu',
      namespace: 'ContainerInsights',
      metricName: 'pod_cpu_usage_total',
      dimensions: [
        { Name: 'ClusterName', Value: 'prod' },
        { Name: 'Namespace', Value: 'shop' },
        { Name: 'PodName', Value: 'checkout' },
      ],
      statistic: 'Average',
      periodSeconds: 300,
    });
    expect(memory).toMatchObject({ metricName: 'pod_memory_working_set', statistic: 'Maximum' });
    expect(batchQueries({ requests: [cpu as SeriesRequest], datapoints: 4032 })).toEqual([
      {
        Id: 'q0',
        MetricStat: {
          Metric: {
            Namespace: 'ContainerInsights',
            MetricName: 'pod_cpu_usage_total',
            Dimensions: cpu?.dimensions,
          },
          Period: 300,
          Stat: 'Average',
        },
        ReturnData: true,
      },
    ]);
  });
});

describe('packSeries', () => {
  it('counts lookback / period datapoints a series', () => {
    expect(datapointsPerSeries(window(14), 300)).toBe(4032);
    expect(datapointsPerSeries(window(14), 60)).toBe(20_160);
  });

  it('is bound by the datapoints: 25 fourteen-day 5-minute series fill 100,800 exactly', () => {
    const batches = packSeries(series(1000, 300), window(14));
    expect(batches).toHaveLength(40);
    expect(batches.every((batch) => batch.requests.length === 25 && batch.datapoints === 100_800)).toBe(true);
    expect(batches).toHaveLength(lowerBoundCalls(1000, 4032));
  });

  it('is bound by the 500 queries when series are short', () => {
    const batches = packSeries(series(1200, 3600), window(1)); // 24 points each
    expect(batches.map((batch) => batch.requests.length)).toEqual([500, 500, 200]);
    expect(batches).toHaveLength(lowerBoundCalls(1200, 24));
  });

  it('never exceeds either limit with mixed periods, and stays within 10 % of the lower bound', () => {
    const mixed = [...series(700, 300), ...series(300, 60), ...series(900, 3600)].map((request, i) => ({
      ...request,
      key: `s${i}`,
    }));
    const batches = packSeries(mixed, window(14));
    for (const batch of batches) {
      expect(batch.requests.length).toBeLessThanOrEqual(500);
      expect(batch.datapoints).toBeLessThanOrEqual(100_800);
    }
    expect(batches.flatMap((batch) => batch.requests)).toHaveLength(mixed.length);
    const total = mixed.reduce(
      (sum, request) => sum + datapointsPerSeries(window(14), request.periodSeconds),
      0,
    );
    const bound = Math.max(Math.ceil(mixed.length / 500), Math.ceil(total / 100_800));
    expect(batches.length).toBeLessThanOrEqual(Math.ceil(bound * 1.1));
  });

  it('gives a series longer than one page a call of its own (it is paginated)', () => {
    const batches = packSeries([...series(1, 10), ...series(2, 300)], window(14)); // 120,960 points
    expect(batches[0]).toMatchObject({ datapoints: 120_960 });
    expect(batches[0]?.requests).toHaveLength(1);
    expect(batches).toHaveLength(2);
  });

  it('computes the lower bound from both limits', () => {
    expect(lowerBoundCalls(20_700, 4032)).toBe(828);
    expect(lowerBoundCalls(1000, 1)).toBe(2);
    expect(lowerBoundCalls(0, 4032)).toBe(0);
  });
});
