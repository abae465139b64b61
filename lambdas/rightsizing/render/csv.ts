import type { RecommendationLine, UsageDistribution } from '../model';
import { bySavings } from './report-input';

// The report's CSV: one row per recommendation, every figure behind it, for spreadsheets and tools.
//
// RFC 4180: CRLF line ends, a header row, a field quoted when it holds a comma, a double quote, CR or LF, with
// its double quotes doubled. Rows are sorted by monthly savings, largest first, unpriced lines last.
//
// Formula injection (OWASP "CSV Injection"): a spreadsheet runs a cell that starts with `=`, `+`, `-` or `@`
// (or a tab or CR, which some strip before looking) as a formula, and workload names, reasons and Compute
// Optimizer's words are data we do not control. Every text cell that starts with one of them is prefixed
// with a single quote, which spreadsheets show as text. Numeric cells are written by us from numbers
// (`-12.5`, never an expression) and are left as numbers, so a negative saving still sums.

/**
 * The columns, in order. CPU in millicores and memory in bytes per pod (workloads); the usage distribution's
 * figures in the unit of its metric (millicores and bytes for workloads, percent for EC2 and RDS);
 * costs in USD a month (hourly × 730).
 */
export const CSV_COLUMNS = [
  ['id', 'unique line id: cluster/namespace/Kind/name, instance id, group name or DB identifier'],
  ['kind', 'workload, ec2, asg or rds'],
  ['cluster', 'EKS cluster (workloads)'],
  ['namespace', 'Kubernetes namespace (workloads)'],
  ['name', 'workload, instance, group or database name'],
  ['source', 'cloudwatch (our method) or compute-optimizer'],
  [
    'finding',
    'over-provisioned, under-provisioned, optimized, insufficient-data, hpa-managed or no-requests',
  ],
  ['replicas', 'current replicas (workloads)'],
  ['current_instance_type', 'current instance type (EC2, ASG, RDS)'],
  ['recommended_instance_type', 'recommended instance type (EC2, ASG, RDS)'],
  ['current_cpu_millicores', 'current CPU request per pod'],
  ['recommended_cpu_millicores', 'recommended CPU request per pod'],
  ['current_memory_bytes', 'current memory request per pod'],
  ['recommended_memory_bytes', 'recommended memory request per pod'],
  ...distributionColumns('cpu'),
  ...distributionColumns('memory'),
  ['compute_optimizer_finding', "Compute Optimizer's finding, when it is the source"],
  ['compute_optimizer_reasons', "Compute Optimizer's reasons, separated by '; '"],
  ['projected_cpu_max_percent', "Compute Optimizer's projected maximum CPU utilisation"],
  ['monthly_cost_current_usd', 'USD a month at the current size'],
  ['monthly_cost_recommended_usd', 'USD a month at the recommended size'],
  ['monthly_savings_usd', 'current − recommended; negative when the recommendation costs more'],
  ['price_source', 'price-list, bundled, or none (could not be priced)'],
  ['cost_method', 'how the cost was derived'],
  ['reason', 'what to change, and why'],
] as const satisfies readonly (readonly [string, string])[];

function distributionColumns(metric: 'cpu' | 'memory') {
  return [
    [`${metric}_statistic`, `CloudWatch statistic of each ${metric} datapoint`],
    [`${metric}_period_seconds`, `period of each ${metric} datapoint`],
    [`${metric}_datapoints`, `${metric} datapoints measured`],
    [`${metric}_p50`, `${metric} usage, 50th percentile`],
    [`${metric}_p90`, `${metric} usage, 90th percentile`],
    [`${metric}_p95`, `${metric} usage, 95th percentile`],
    [`${metric}_p99`, `${metric} usage, 99th percentile`],
    [`${metric}_max`, `${metric} usage, maximum`],
  ] as const;
}

type Cell = string | number | undefined;

/** Characters a spreadsheet may read as the start of a formula. */
const FORMULA_START = /^[=+\-@\t\r]/;

/** A text cell a spreadsheet will not run: a leading quote before a formula character. */
export function guardFormula(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}

/** A number as plain decimal text (no exponent, at most 6 decimals); empty when not finite. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '';
  const rounded = Number(value.toFixed(6));
  const text = Math.abs(rounded) < 1e21 ? rounded.toFixed(6).replace(/\.?0+$/, '') : String(rounded);
  return text === '-0' ? '0' : text;
}

/** One RFC 4180 field: text guarded against formulas, quoted when it must be. */
export function csvField(cell: Cell): string {
  if (cell === undefined) return '';
  const text = typeof cell === 'number' ? formatNumber(cell) : guardFormula(cell);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function distributionCells(distribution: UsageDistribution | undefined): Cell[] {
  if (distribution === undefined) return Array<Cell>(8).fill(undefined);
  const { statistic, periodSeconds, datapoints, p50, p90, p95, p99, max } = distribution;
  return [statistic, periodSeconds, datapoints, p50, p90, p95, p99, max];
}

function cents(value: number | undefined): Cell {
  return value === undefined || !Number.isFinite(value) ? undefined : Math.round(value * 100) / 100;
}

function rowOf(line: RecommendationLine): Cell[] {
  const co = line.evidence.computeOptimizer;
  return [
    line.id,
    line.kind,
    line.cluster,
    line.namespace,
    line.name,
    line.source,
    line.finding,
    line.current.replicas,
    line.current.instanceType,
    line.recommended.instanceType,
    line.current.cpuMillicores,
    line.recommended.cpuMillicores,
    line.current.memoryBytes,
    line.recommended.memoryBytes,
    ...distributionCells(line.evidence.cpu),
    ...distributionCells(line.evidence.memory),
    co?.finding,
    co?.reasons.join('; '),
    co?.projectedCpuMaxPercent,
    cents(line.cost.current),
    cents(line.cost.recommended),
    line.cost.priceSource === 'none' ? undefined : cents(line.cost.savings),
    line.cost.priceSource,
    line.cost.method,
    line.reason,
  ];
}

/** The CSV of every line: a header row (`CSV_COLUMNS`), then one row per line, CRLF-terminated. */
export function renderCsv(lines: readonly RecommendationLine[]): string {
  const rows: Cell[][] = [CSV_COLUMNS.map(([name]) => name), ...[...lines].sort(bySavings).map(rowOf)];
  return rows.map((row) => row.map(csvField).join(',') + '\r\n').join('');
}
