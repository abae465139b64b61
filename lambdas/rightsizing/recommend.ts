import { type RightsizingStrategy, rightsizingStrategySchema } from '../../lib/config/rightsizing';
import { workloadId } from './workload-id';
import type { Finding, RecommendationLine, Resources, UsageDistribution, WorkloadInventory } from './model';
import { percentileOf } from './percentiles';

// The workload recommendation: a pod's CPU and memory requests from its measured use.
//
// Sources of the defaults (KRR's "simple" strategy, robusta_krr/strategies/simple.py; the VPA recommender,
// vertical-pod-autoscaler/pkg/recommender): CPU request = P95 of the CPU series, no margin (KRR
// cpu_percentile=95); memory request = the series' maximum + 15 % (KRR memory_buffer_percentage=15); at
// least 100 datapoints (KRR points_required=100); no pod below 25 millicores and 250 MiB (VPA
// pod-recommendation-min-cpu-millicores=25, pod-recommendation-min-memory-mb=250, applied per pod as
// 250 × 1024 × 1024 bytes and split equally over its containers, recommender/logic/recommender.go).
//
// Why the two resources differ: CPU is compressible, so a request below a rare peak costs throttling for
// that moment and P95 ignores a single huge spike; memory is not, so a pod that once needed N bytes is
// OOM-killed below N the next time, and the maximum (spikes included) is what it must get, by design.
//
// Usage is per pod: Container Insights' PodName dimension is the workload, aggregated over its pods
// (metric-queries.ts). So the recommendation is made per pod and split over the current containers by their
// share of the current requests (equally when a container sets none, as VPA splits its minimum). A container
// renamed during the window breaks nothing: the series is the workload's, and the split uses today's names.

export type Strategy = RightsizingStrategy;

/** KRR's "simple" strategy with VPA's minimums: the defaults of the configuration's `strategy`. */
export const DEFAULT_STRATEGY: Strategy = rightsizingStrategySchema.parse({});

const MIB = 1024 * 1024;

/** The strategy in words, for the report: `KRR simple (CPU P95, memory max + 15 %, …)` or `custom (…)`. */
export function strategyName(strategy: Strategy): string {
  const isDefault = (Object.keys(DEFAULT_STRATEGY) as Array<keyof Strategy>).every(
    (key) => strategy[key] === DEFAULT_STRATEGY[key],
  );
  return (
    `${isDefault ? 'KRR simple' : 'custom'} (CPU P${strategy.cpuPercentile}, memory max + ${strategy.memoryMarginPercent} %, ` +
    `minimum ${strategy.minCpuMillicores}m / ${strategy.minMemoryMiB} MiB a pod, ≥ ${strategy.minDatapoints} datapoints, ` +
    `HPA-managed: ${strategy.hpa})`
  );
}

/** What was measured for one workload; a resource missing had no datapoints at all. */
export interface WorkloadUsage {
  cpu?: UsageDistribution;
  memory?: UsageDistribution;
  /** CloudWatch answered part of a series only (PartialData, Forbidden…). */
  incomplete?: boolean;
}

type Resource = 'cpu' | 'memory';
const FIELD = { cpu: 'cpuMillicores', memory: 'memoryBytes' } as const;

const formatCpu = (millicores: number) => `${Math.round(millicores).toLocaleString('en-US')}m`;
const formatMemory = (bytes: number) => `${Math.round(bytes / MIB).toLocaleString('en-US')} MiB`;
const format = (resource: Resource, value: number) =>
  resource === 'cpu' ? formatCpu(value) : formatMemory(value);
const LABEL = { cpu: 'CPU', memory: 'memory' } as const;

/** The pod's request of one resource: the sum over its containers; undefined if none sets it. */
function podRequest(workload: WorkloadInventory, resource: Resource): number | undefined {
  const set = workload.containers
    .map((container) => container.requests[FIELD[resource]])
    .filter((value): value is number => value !== undefined);
  return set.length === 0 ? undefined : set.reduce((sum, value) => sum + value, 0);
}

/** The pod's target for one resource from its distribution, with the strategy's margin and minimum. */
function podTarget(resource: Resource, usage: UsageDistribution, strategy: Strategy): number {
  if (resource === 'cpu') {
    return Math.max(Math.ceil(percentileOf(usage, strategy.cpuPercentile)), strategy.minCpuMillicores);
  }
  const withMargin = usage.max * (1 + strategy.memoryMarginPercent / 100);
  // Whole MiB, rounded up: the way people write memory requests.
  return Math.max(Math.ceil(withMargin / MIB) * MIB, strategy.minMemoryMiB * MIB);
}

interface ResourceOutcome {
  resource: Resource;
  current?: number;
  /** Undefined: not sized (too little data). */
  recommended?: number;
  direction?: 'grow' | 'shrink' | 'keep' | 'set';
}

function sizeResource(
  resource: Resource,
  workload: WorkloadInventory,
  usage: UsageDistribution | undefined,
  strategy: Strategy,
): ResourceOutcome {
  const current = podRequest(workload, resource);
  const base = { resource, ...(current !== undefined && { current }) };
  if (!usage || usage.datapoints < strategy.minDatapoints) return base;
  const target = podTarget(resource, usage, strategy);
  if (current === undefined) return { ...base, recommended: target, direction: 'set' };
  const tolerance = strategy.tolerancePercent / 100;
  if (target > current * (1 + tolerance)) return { ...base, recommended: target, direction: 'grow' };
  if (target < current * (1 - tolerance)) return { ...base, recommended: target, direction: 'shrink' };
  // Within tolerance: keep what is there rather than churn the pods for a few percent.
  return { ...base, recommended: current, direction: 'keep' };
}

/**
 * Splits a pod's recommendation over its containers: by each container's share of the current request when
 * every container sets one, equally otherwise. Rounded up per container (whole millicores, whole MiB).
 */
function splitOverContainers(
  workload: WorkloadInventory,
  outcomes: ResourceOutcome[],
): NonNullable<RecommendationLine['containers']> {
  const count = workload.containers.length;
  return workload.containers.map((container) => {
    const recommended: Resources = {};
    for (const outcome of outcomes) {
      if (outcome.recommended === undefined) continue;
      const field = FIELD[outcome.resource];
      const own = container.requests[field];
      const everySet = workload.containers.every((each) => each.requests[field] !== undefined);
      const share = everySet && outcome.current ? (own ?? 0) / outcome.current : 1 / count;
      const value = outcome.recommended * share;
      recommended[field] = outcome.resource === 'cpu' ? Math.ceil(value) : Math.ceil(value / MIB) * MIB;
    }
    return { name: container.name, current: { ...container.requests }, recommended };
  });
}

function usageWords(resource: Resource, usage: UsageDistribution, strategy: Strategy): string {
  const minutes = usage.periodSeconds / 60;
  const points = `${usage.datapoints.toLocaleString('en-US')} ${minutes}-minute ${usage.statistic.toLowerCase()}s`;
  return resource === 'cpu'
    ? `CPU P${strategy.cpuPercentile} was ${formatCpu(percentileOf(usage, strategy.cpuPercentile))} (${points})`
    : `memory peaked at ${formatMemory(usage.max)} (+${strategy.memoryMarginPercent} %, ${points})`;
}

const DIRECTION_VERB = { grow: 'raise', shrink: 'lower', set: 'set', keep: 'keep' } as const;

function changeWords(outcome: ResourceOutcome): string {
  const label = LABEL[outcome.resource];
  const to = format(outcome.resource, outcome.recommended as number);
  switch (outcome.direction) {
    case 'set':
      return `set a ${label} request of ${to}`;
    case 'keep':
      return `keep ${label} at ${to}`;
    default:
      return `${DIRECTION_VERB[outcome.direction ?? 'keep']} ${label} from ${format(outcome.resource, outcome.current as number)} to ${to}`;
  }
}

function overallFinding(sized: ResourceOutcome[]): Finding {
  if (sized.some((outcome) => outcome.direction === 'set')) return 'no-requests';
  if (sized.some((outcome) => outcome.direction === 'grow')) return 'under-provisioned';
  if (sized.some((outcome) => outcome.direction === 'shrink')) return 'over-provisioned';
  return 'optimized';
}

const capitalise = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** Extra context a line carries for pricing (the report step prices every line). */
export interface WorkloadContext {
  region?: string;
  /** The instance type of the nodes its pods run on. */
  nodeInstanceType?: string;
}

/**
 * One workload's line: its pod requests now, what the strategy recommends from its usage, the finding, the
 * distributions behind it and one sentence saying what to do and why. Not priced yet (`cost.priceSource`
 * `none`): pricing.ts prices it with its node's price.
 */
export function recommendWorkload(
  workload: WorkloadInventory,
  usage: WorkloadUsage,
  strategy: Strategy = DEFAULT_STRATEGY,
  context: WorkloadContext = {},
): RecommendationLine {
  const current: RecommendationLine['current'] = { replicas: workload.replicas };
  const cpuNow = podRequest(workload, 'cpu');
  const memoryNow = podRequest(workload, 'memory');
  if (cpuNow !== undefined) current.cpuMillicores = cpuNow;
  if (memoryNow !== undefined) current.memoryBytes = memoryNow;
  const line = (
    finding: Finding,
    recommended: Resources,
    reason: string,
    containers?: RecommendationLine['containers'],
  ): RecommendationLine => ({
    kind: 'workload',
    id: workloadId(workload),
    cluster: workload.cluster,
    namespace: workload.namespace,
    name: workload.name,
    source: 'cloudwatch',
    finding,
    current,
    recommended,
    evidence: {
      ...(usage.cpu && { cpu: usage.cpu }),
      ...(usage.memory && { memory: usage.memory }),
    },
    reason: usage.incomplete ? `${reason} CloudWatch answered only part of its series.` : reason,
    cost: { priceSource: 'none', method: 'not priced yet' },
    ...(context.region !== undefined && { region: context.region }),
    ...(context.nodeInstanceType !== undefined && { nodeInstanceType: context.nodeInstanceType }),
    ...(containers && { containers }),
  });

  const hpa = workload.hpa;
  const hpaWords = hpa
    ? `an HPA scales it (${hpa.minReplicas}–${hpa.maxReplicas} replicas${
        hpa.targetCpuUtilizationPercent !== undefined
          ? `, CPU target ${hpa.targetCpuUtilizationPercent} %`
          : ''
      })`
    : '';
  // KRR skips HPA-managed workloads. What resizing does to an HPA-scaled workload: a utilisation target is a share of the request, so the load
  // at which it scales moves; any HPA makes per-pod usage depend on the replica count it chose.
  const hpaEffect =
    hpa?.targetCpuUtilizationPercent !== undefined
      ? 'its CPU target is relative to the request, so resizing changes the load at which it scales'
      : 'its per-pod usage moves with the replica count the HPA chooses';
  if (hpa && strategy.hpa === 'skip') {
    return line(
      'hpa-managed',
      {},
      `Not sized: ${hpaWords}, and ${hpaEffect} (KRR skips these; strategy.hpa 'size' sizes its pods anyway).`,
    );
  }

  const outcomes = (['cpu', 'memory'] as const).map((resource) =>
    sizeResource(resource, workload, usage[resource], strategy),
  );
  const sized = outcomes.filter((outcome) => outcome.recommended !== undefined);
  const unsized = outcomes.filter((outcome) => outcome.recommended === undefined);
  const missingWords = unsized.map((outcome) => {
    const points = usage[outcome.resource]?.datapoints ?? 0;
    return `${points} ${LABEL[outcome.resource]} datapoint${points === 1 ? '' : 's'}`;
  });

  if (sized.length === 0) {
    const none = !usage.cpu && !usage.memory;
    return line(
      'insufficient-data',
      {},
      none
        ? 'Not sized: Container Insights has no usage for it in the window (is the CloudWatch Observability add-on collecting on its nodes?).'
        : `Not sized: only ${missingWords.join(' and ')} in the window, fewer than the ${strategy.minDatapoints} needed.`,
    );
  }

  const recommended: Resources = {};
  for (const outcome of sized) recommended[FIELD[outcome.resource]] = outcome.recommended as number;
  const finding = overallFinding(sized);
  const evidenceWords = sized.map((outcome) =>
    usageWords(outcome.resource, usage[outcome.resource] as UsageDistribution, strategy),
  );
  const clauses = [
    `${capitalise(sized.map(changeWords).join(' and '))} per pod: ${evidenceWords.join(', ')}`,
    ...(finding === 'no-requests'
      ? ['it sets no request, so the scheduler places it as if it used nothing']
      : []),
    ...(unsized.length > 0
      ? [
          `${unsized.map((outcome) => LABEL[outcome.resource]).join(' and ')} not sized (${missingWords.join(', ')}, fewer than ${strategy.minDatapoints})`,
        ]
      : []),
    ...(hpa ? [`${hpaWords}: ${hpaEffect}`] : []),
  ];
  return line(finding, recommended, `${clauses.join('; ')}.`, splitOverContainers(workload, sized));
}
