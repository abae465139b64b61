// The right-sizing report's domain at the scale: a synthetic account of 10,000 workloads, 500 nodes and
// 200 RDS instances with 14 days of 5-minute data. GetMetricData is served in-process by a mock that enforces
// the API's two limits (≤ 500 queries a request, ≤ 100,800 datapoints a page, NextToken for the rest) and
// generates each series deterministically, so the run measures our side: packing, parsing, streaming
// percentiles, the recommendation math and pricing. Figures: wall time (target < 60 s), peak RSS
// (target < 1 GB), GetMetricData calls against lowerBoundCalls (within 10 %).
//
// `npm run bench` calls benchRightsizing() (a fresh process); alone: `npx tsx test/bench/rightsizing.ts`.
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { GetMetricDataCommand, type GetMetricDataCommandInput } from '@aws-sdk/client-cloudwatch';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  CALL_LIMITS,
  collectDistributions,
  datapointsPerSeries,
  instanceCpuSeries,
  lowerBoundCalls,
  packSeries,
  workloadSeries,
  workloadSeriesKey,
} from '../../lambdas/rightsizing/metric-queries';
import type { RecommendationLine, WorkloadInventory } from '../../lambdas/rightsizing/model';
import { PriceBook, costTotals, priceLines } from '../../lambdas/rightsizing/pricing';
import { DEFAULT_STRATEGY, recommendWorkload } from '../../lambdas/rightsizing/recommend';
import { recommendInstanceFromCpu } from '../../lambdas/rightsizing/compute-optimizer';

const MIB = 1024 * 1024;
const PERIOD = 300;
const DAYS = 14;

export interface RightsizingBenchOptions {
  workloads?: number;
  nodes?: number;
  databases?: number;
}

export interface BenchRow {
  measure: string;
  value: string;
  target: string;
}

/** A small deterministic generator (mulberry32): the same account on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hash = (text: string) => {
  let h = 2166136261;
  for (let i = 0; i < text.length; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
};

/** The generator's base usage of a series: the mock and the inventory agree on it. */
const seriesSeed = (dimensions: string[], metricName: string) => hash(dimensions.join('/') + metricName);
const cpuBase = (seed: number) => 5 + (seed % 1500);
const memoryBase = (seed: number) => (64 + (seed % 2048)) * MIB;

/**
 * Workloads whose requests are their usage × a factor: most over-provisioned (2–4×), some about right, some
 * under (0.7×), a few with no requests; 30 % with a sidecar, 10 % scaled by an HPA.
 */
function syntheticWorkloads(count: number): WorkloadInventory[] {
  const next = random(42);
  return Array.from({ length: count }, (_, index): WorkloadInventory => {
    const cluster = `cluster-${index % 4}`;
    const namespace = `team-${index % 50}`;
    const name = `service-${index}`;
    const roll = next();
    const factor = roll < 0.7 ? 2 + 2 * next() : roll < 0.85 ? 1.6 : 0.7;
    const cpu = cpuBase(seriesSeed([cluster, namespace, name], 'pod_cpu_usage_total')) * factor;
    const memory = memoryBase(seriesSeed([cluster, namespace, name], 'pod_memory_working_set')) * factor;
    const sidecar = next() < 0.3;
    const noRequests = next() < 0.03;
    const requests = (share: number) =>
      noRequests
        ? {}
        : { cpuMillicores: Math.round(cpu * share), memoryBytes: Math.round((memory * share) / MIB) * MIB };
    return {
      cluster,
      namespace,
      kind: index % 10 === 0 ? 'StatefulSet' : 'Deployment',
      name,
      replicas: 1 + Math.floor(next() * 6),
      containers: [
        { name: 'app', requests: requests(sidecar ? 0.8 : 1), limits: {} },
        ...(sidecar ? [{ name: 'proxy', requests: requests(0.2), limits: {} }] : []),
      ],
      ...(next() < 0.1 && { hpa: { minReplicas: 2, maxReplicas: 10, targetCpuUtilizationPercent: 70 } }),
    };
  });
}

/**
 * A CloudWatch whose GetMetricData answers from generated series: a daily cycle, noise, a rare spike, some
 * series with gaps (a workload redeployed) or too short (new), and a few absent (no data at all).
 */
function mockCloudWatch(window: { start: Date; end: Date }) {
  const points = datapointsPerSeries(window, PERIOD);
  const timestamps = Array.from(
    { length: points },
    (_, i) => new Date(window.start.getTime() + i * PERIOD * 1000),
  );
  let requests = 0;
  let generatingMs = 0;
  // A bare `send`, not aws-sdk-client-mock: sinon keeps every call's arguments and answer, which at this scale
  // is gigabytes of datapoints the code under test never holds.
  const send = (command: GetMetricDataCommand) => {
    const input: GetMetricDataCommandInput = command.input;
    if (!(command instanceof GetMetricDataCommand)) throw new Error('only GetMetricData is served');
    requests += 1;
    const began = performance.now();
    const queries = input.MetricDataQueries ?? [];
    if (queries.length > CALL_LIMITS.maxQueries) throw new Error(`${queries.length} queries in one request`);
    // NextToken: the query index and point offset to resume from.
    let [queryIndex, offset] = (input.NextToken ?? '0:0').split(':').map(Number) as [number, number];
    let budget = CALL_LIMITS.maxDatapoints;
    const results = [];
    while (queryIndex < queries.length && budget > 0) {
      const query = queries[queryIndex];
      const dimensions = query?.MetricStat?.Metric?.Dimensions ?? [];
      const seed = hash(
        dimensions.map((dimension) => dimension.Value).join('/') +
          (query?.MetricStat?.Metric?.MetricName ?? ''),
      );
      const kind = seed % 100;
      // 1 % no data, 2 % too short, 5 % a gap of a third of the window.
      const length = kind === 0 ? 0 : kind <= 2 ? 60 : points;
      const gap = kind >= 3 && kind <= 7 ? [Math.floor(points / 3), Math.floor((2 * points) / 3)] : undefined;
      const memory = query?.MetricStat?.Metric?.MetricName === 'pod_memory_working_set';
      const base = memory
        ? (64 + (seed % 2048)) * MIB
        : query?.MetricStat?.Metric?.Namespace === 'ContainerInsights'
          ? 5 + (seed % 1500)
          : 3 + (seed % 70);
      const end = Math.min(length, offset + budget);
      const values: number[] = [];
      const at: Date[] = [];
      for (let i = offset; i < end; i += 1) {
        if (gap && i >= (gap[0] as number) && i < (gap[1] as number)) continue;
        const daily = 1 + 0.5 * Math.sin((2 * Math.PI * i) / 288);
        const noise = 0.85 + 0.3 * (((seed ^ Math.imul(i, 2654435761)) >>> 0) / 4294967296);
        // One series in twenty has a spike of four times its usage, once.
        const spike = seed % 20 === 0 && i === seed % points ? 4 : 1;
        values.push(base * daily * noise * spike);
        at.push(timestamps[i] as Date);
      }
      budget -= end - offset;
      if (length > 0 || offset === 0) {
        results.push({
          Id: query?.Id,
          Timestamps: at,
          Values: values,
          StatusCode: end < length ? 'PartialData' : 'Complete',
        });
      }
      if (end < length) offset = end;
      else {
        queryIndex += 1;
        offset = 0;
      }
    }
    generatingMs += performance.now() - began;
    return Promise.resolve({
      MetricDataResults: results,
      ...(queryIndex < queries.length && { NextToken: `${queryIndex}:${offset}` }),
    });
  };
  return {
    client: { send } as unknown as CloudWatchClient,
    requests: () => requests,
    generatingMs: () => generatingMs,
  };
}

/**
 * The bench in a fresh Node process (tsx's loader), as one Lambda invocation would run it: its maxRSS is the
 * run's alone, not bench.ts's. Rows for bench.ts to print.
 */
export function benchRightsizing(options: RightsizingBenchOptions = {}): Promise<BenchRow[]> {
  const output = execFileSync(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--json', JSON.stringify(options)],
    { encoding: 'utf8', maxBuffer: 1024 * 1024, env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT' } },
  );
  return Promise.resolve(JSON.parse(output) as BenchRow[]);
}

/** Runs the workload and instance sizing at scale in this process. */
export async function measureRightsizing({
  workloads: workloadCount = 10_000,
  nodes = 500,
  databases = 200,
}: RightsizingBenchOptions = {}): Promise<BenchRow[]> {
  const end = new Date(Date.UTC(2026, 11, 1));
  const window = { start: new Date(end.getTime() - DAYS * 86_400_000), end };
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);
  const started = performance.now();

  const inventory = syntheticWorkloads(workloadCount);
  const { client, requests, generatingMs } = mockCloudWatch(window);
  const podSeries = workloadSeries(inventory, PERIOD);
  const instanceSeries = [
    ...Array.from({ length: nodes }, (_, i) =>
      instanceCpuSeries('ec2', `i-${String(i).padStart(17, '0')}`, PERIOD),
    ),
    ...Array.from({ length: databases }, (_, i) => instanceCpuSeries('rds', `db-${i}`, PERIOD)),
  ];
  const series = [...podSeries, ...instanceSeries];
  const batches = packSeries(series, window);
  const collected = await collectDistributions(client, batches, window, {
    extraPercentiles: [DEFAULT_STRATEGY.cpuPercentile],
  });
  const collectedMs = performance.now() - started;

  const lines: RecommendationLine[] = inventory.map((workload) =>
    recommendWorkload(
      workload,
      {
        cpu: collected.distributions.get(workloadSeriesKey(workload, 'cpu')),
        memory: collected.distributions.get(workloadSeriesKey(workload, 'memory')),
      },
      DEFAULT_STRATEGY,
      { region: 'us-east-1', nodeInstanceType: 'm5.2xlarge' },
    ),
  );
  for (const [index, request] of instanceSeries.entries()) {
    const kind = index < nodes ? 'ec2' : 'rds';
    const id = request.dimensions[0]?.Value ?? '';
    lines.push(
      recommendInstanceFromCpu({
        kind,
        id,
        name: id,
        region: 'us-east-1',
        instanceType: kind === 'ec2' ? 'm5.2xlarge' : 'db.r5.xlarge',
        cpu: collected.distributions.get(request.key),
        ...(kind === 'rds' && { multiAz: index % 2 === 0 }),
      }),
    );
  }
  const priced = await priceLines(lines, new PriceBook());
  const totals = costTotals(priced);
  const wallMs = performance.now() - started;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const maxRssBytes = process.resourceUsage().maxRSS * 1024;

  const perSeries = datapointsPerSeries(window, PERIOD);
  const bound = lowerBoundCalls(series.length, perSeries);
  const calls = requests();
  const findings = new Map<string, number>();
  for (const line of priced) findings.set(line.finding, (findings.get(line.finding) ?? 0) + 1);
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
  return [
    {
      measure: `account: ${workloadCount.toLocaleString('en-US')} workloads, ${nodes} nodes, ${databases} RDS; ${DAYS} days of ${PERIOD / 60}-minute data`,
      value: `${series.length.toLocaleString('en-US')} series × ${perSeries} points`,
      target: '',
    },
    {
      measure: 'wall time (collect + size + price)',
      value: `${(wallMs / 1000).toFixed(1)} s (collect ${(collectedMs / 1000).toFixed(1)} s, of which the mock generating series ${(generatingMs() / 1000).toFixed(1)} s)`,
      target: '< 60 s',
    },
    { measure: 'peak RSS (sampled every 50 ms)', value: mb(peakRss), target: '< 1 GB' },
    {
      measure: 'peak RSS (maxRSS of the process: Node, tsx and the run)',
      value: mb(maxRssBytes),
      target: '< 1 GB',
    },
    {
      measure: 'GetMetricData calls / lower bound',
      value: `${calls} / ${bound} (${(((calls - bound) / bound) * 100).toFixed(1)} % over)`,
      target: 'within 10 %',
    },
    {
      measure: 'lines by finding',
      value: [...findings].map(([finding, count]) => `${finding} ${count}`).join(', '),
      target: '',
    },
    {
      measure: 'monthly: savings / added / net (bundled prices)',
      value: `$${totals.savings.toLocaleString('en-US')} / $${totals.added.toLocaleString('en-US')} / $${totals.net.toLocaleString('en-US')}`,
      target: '',
    },
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const json = process.argv.indexOf('--json');
  if (json >= 0) {
    const options = JSON.parse(process.argv[json + 1] ?? '{}') as RightsizingBenchOptions;
    process.stdout.write(JSON.stringify(await measureRightsizing(options)));
  } else {
    console.table(await measureRightsizing());
  }
}
