import type { RightsizingStrategy } from '../../../lib/config/rightsizing';
import type { LineKind, LineSource, RecommendationLine } from '../model';

// What the report renderers (CSV, Markdown, HTML) receive, and the figures all three derive the same way:
// totals, top savings, counts. Pure: no clock, no environment, no I/O.

/** A part of the inventory that could not be read (a cluster that cannot be reached): reported, not fatal. */
export interface ReportGap {
  /** What was not read: `cluster prod-eu`, `RDS in eu-west-1`. */
  scope: string;
  reason: string;
}

export interface ReportSummaryInput {
  lines: RecommendationLine[];
  /** ISO 8601 instant the report was produced. */
  generatedAt: string;
  environment: string;
  lookbackDays: number;
  /** The period of each datapoint read, in seconds (the lines' evidence says it again per distribution). */
  periodSeconds: number;
  /** The sizing strategy, in words (`describeStrategy` writes it from the configuration). */
  strategy: string;
  /** Where prices came from, in words: `AWS Price List API (us-east-1), cached 2026-12-01`, `bundled table`. */
  priceSources: string[];
  /** Parts of the inventory that could not be read. @default - none */
  gaps?: ReportGap[];
  /** The CSV of every line, as the HTML page links it: a name beside the page, or a presigned URL. @default 'report.csv' */
  csvHref?: string;
  /** Lines in the top-savings lists and chart. @default 10 */
  topN?: number;
  /** Workloads whose usage distribution the HTML page charts. @default 8 */
  chartWorkloads?: number;
  /** Rows of the HTML table; the CSV has every line. @default 500 */
  tableRows?: number;
  /** The Step Functions execution that produced it, if any. */
  executionName?: string;
}

export const DEFAULT_TOP_N = 10;
export const DEFAULT_CHART_WORKLOADS = 8;
export const DEFAULT_TABLE_ROWS = 500;
export const DEFAULT_CSV_HREF = 'report.csv';
/** Unpriced lines the Markdown and HTML list by name; the rest are counted (the CSV has them all). */
export const UNPRICED_LISTED = 50;

/** `1 line`, `1,234 lines`. */
export function countLines(n: number): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? 'line' : 'lines'}`;
}

/** The strategy as the report states it, from the configuration's section. */
export function describeStrategy(strategy: RightsizingStrategy): string {
  const hpa =
    strategy.hpa === 'skip'
      ? 'workloads an HPA scales are reported as HPA-managed, not sized'
      : 'workloads an HPA scales are sized like the others';
  return (
    `CPU request at P${strategy.cpuPercentile} of usage, memory at the maximum + ${strategy.memoryMarginPercent} %, ` +
    `at least ${strategy.minCpuMillicores}m CPU and ${strategy.minMemoryMiB} MiB, ` +
    `at least ${strategy.minDatapoints} datapoints per series, ` +
    `changes under ${strategy.tolerancePercent} % reported as optimized; ${hpa}.`
  );
}

/** Monthly savings of a line; negative when growing it costs more; `undefined` when it could not be priced. */
export function savingsOf(line: RecommendationLine): number | undefined {
  if (line.cost.priceSource === 'none') return undefined;
  const savings = line.cost.savings;
  return savings === undefined || !Number.isFinite(savings) ? undefined : savings;
}

export function isUnpriced(line: RecommendationLine): boolean {
  return savingsOf(line) === undefined;
}

/** Largest savings first; lines that cost more next (least extra cost first), unpriced last; then by id. */
export function bySavings(a: RecommendationLine, b: RecommendationLine): number {
  const sa = savingsOf(a);
  const sb = savingsOf(b);
  if (sa === undefined && sb !== undefined) return 1;
  if (sb === undefined && sa !== undefined) return -1;
  if (sa !== undefined && sb !== undefined && sa !== sb) return sb - sa;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The lines that save money, largest first. */
export function topSavings(lines: RecommendationLine[], n: number): RecommendationLine[] {
  return lines
    .filter((line) => (savingsOf(line) ?? 0) > 0)
    .sort(bySavings)
    .slice(0, n);
}

export interface SavingsTotals {
  lines: number;
  priced: number;
  unpriced: number;
  /** The sum of the positive savings. */
  savings: number;
  /** What growing under-provisioned lines costs, as a positive number. */
  extraCost: number;
  /** savings − extraCost. */
  net: number;
  /** Current monthly cost of the priced lines. */
  currentCost: number;
}

export function totalsOf(lines: RecommendationLine[]): SavingsTotals {
  const totals: SavingsTotals = {
    lines: 0,
    priced: 0,
    unpriced: 0,
    savings: 0,
    extraCost: 0,
    net: 0,
    currentCost: 0,
  };
  for (const line of lines) {
    totals.lines += 1;
    const savings = savingsOf(line);
    if (savings === undefined) {
      totals.unpriced += 1;
      continue;
    }
    totals.priced += 1;
    if (savings > 0) totals.savings += savings;
    else totals.extraCost -= savings;
    totals.currentCost += line.cost.current ?? 0;
  }
  totals.net = totals.savings - totals.extraCost;
  return totals;
}

export const LINE_KINDS: readonly LineKind[] = ['workload', 'ec2', 'asg', 'rds'];
export const LINE_SOURCES: readonly LineSource[] = ['cloudwatch', 'compute-optimizer'];

/** Totals per key, in the order of `keys` (keys with no line are left out). */
export function totalsBy<K extends string>(
  lines: RecommendationLine[],
  keys: readonly K[],
  keyOf: (line: RecommendationLine) => K,
): { key: K; totals: SavingsTotals }[] {
  return keys
    .map((key) => ({ key, totals: totalsOf(lines.filter((line) => keyOf(line) === key)) }))
    .filter(({ totals }) => totals.lines > 0);
}

/** How many items have each key, most frequent first, then by key. */
export function countBy<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
): { key: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const item of items) {
    const key = keyOf(item);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts.entries()]
    .map(([key, count]) => ({ key, count }))
    .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** The statistic and period of every distribution the lines were sized from, e.g. `CPU: Average over 300 s`, counted. */
export function measurementsOf(lines: readonly RecommendationLine[]): { key: string; count: number }[] {
  const measured = lines.flatMap((line) => [
    ...(line.evidence.cpu ? [{ metric: 'CPU', distribution: line.evidence.cpu }] : []),
    ...(line.evidence.memory ? [{ metric: 'memory', distribution: line.evidence.memory }] : []),
  ]);
  return countBy(
    measured,
    ({ metric, distribution }) => `${metric}: ${distribution.statistic} over ${distribution.periodSeconds} s`,
  );
}

export const KIND_LABELS: Record<LineKind, string> = {
  workload: 'EKS workloads',
  ec2: 'EC2 instances',
  asg: 'Auto Scaling groups',
  rds: 'RDS instances',
};

export const SOURCE_LABELS: Record<LineSource, string> = {
  cloudwatch: 'CloudWatch (our method)',
  'compute-optimizer': 'Compute Optimizer',
};

/** A short display name: `namespace/name` for workloads (with the cluster), the name otherwise. */
export function displayName(line: RecommendationLine): string {
  if (line.kind === 'workload') {
    return [line.cluster, line.namespace, line.name]
      .filter((part) => part !== undefined && part !== '')
      .join('/');
  }
  return line.name === line.id || line.name === '' ? line.id : `${line.name} (${line.id})`;
}

/** USD with cents and thousands separators: `$1,234.50`, `−$12.00`. */
export function usd(value: number): string {
  const text = Math.abs(value).toLocaleString('en-US', {
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  });
  return value < 0 ? `−$${text}` : `$${text}`;
}

export const MIB = 1024 * 1024;

/** Millicores as people read them: `250m`, `1.5 cores`. */
export function formatCpu(millicores: number | undefined): string {
  if (millicores === undefined) return '—';
  if (millicores === 1000) return '1 core';
  if (millicores >= 1000) return `${Number((millicores / 1000).toFixed(2))} cores`;
  return `${Number(millicores.toFixed(1))}m`;
}

/** Bytes as people read them: `512 MiB`, `1.5 GiB`. */
export function formatMemory(bytes: number | undefined): string {
  if (bytes === undefined) return '—';
  const mib = bytes / MIB;
  if (mib >= 1024) return `${Number((mib / 1024).toFixed(2))} GiB`;
  return `${Number(mib.toFixed(1))} MiB`;
}

/** `current → recommended` of a line, in words: instance types, or CPU and memory per pod. */
export function changeOf(line: RecommendationLine): string {
  if (line.current.instanceType !== undefined || line.recommended.instanceType !== undefined) {
    return `${line.current.instanceType ?? '?'} → ${line.recommended.instanceType ?? '?'}`;
  }
  const parts: string[] = [];
  if (line.current.cpuMillicores !== undefined || line.recommended.cpuMillicores !== undefined) {
    parts.push(`CPU ${formatCpu(line.current.cpuMillicores)} → ${formatCpu(line.recommended.cpuMillicores)}`);
  }
  if (line.current.memoryBytes !== undefined || line.recommended.memoryBytes !== undefined) {
    parts.push(
      `memory ${formatMemory(line.current.memoryBytes)} → ${formatMemory(line.recommended.memoryBytes)}`,
    );
  }
  return parts.length === 0 ? 'no change' : parts.join(', ');
}
