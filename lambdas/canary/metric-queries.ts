import type { CloudWatchClient, MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import {
  MAX_METRIC_QUERIES,
  MetricQueryLimitExceeded,
  type MetricStatus,
  streamMetricData,
} from '../aws/cloudwatch';
import { InvalidInput } from '../shared/errors';
import type { CheckSeries } from './analysis';
import type { MetricStat, ResolvedCheck, Series } from './checks';

// The canary analysis's reads: one GetMetricData request for every check of a step (issue 7, "one
// GetMetricData call for all checks of the step"), and its answer mapped back to each check's canary and
// stable per-minute values, as `judgeStep` takes them.
//
// Query ids: CloudWatch wants each id to start with a lowercase letter, then letters, digits and "_", unique
// in the request (CloudWatch API Reference, MetricDataQuery.Id). Check names are text for people, so they are
// never put into an id as they are: check i's series are `c<i>_<slug>_canary` and `c<i>_<slug>_stable`, where
// the slug (a readable hint, at most 32 characters, possibly empty) is the name lowercased with anything but
// a-z and 0-9 made "_". The index makes the ids unique whatever the names; the slug only helps whoever reads
// the request. An expression's inputs become `<series id>_<position>_<input id>`, the expression rewritten to
// match, and are not returned (`ReturnData: false`): only the two top-level series of each check are.

/** Which version a series reads. */
export type Side = 'canary' | 'stable';
const SIDES: readonly Side[] = ['canary', 'stable'];

const MAX_ID_LENGTH = 255;
const MAX_SLUG_LENGTH = 32;

/** What `stepQueries` returns: the request's queries, and which check and side each returned id is. */
export interface StepQueries {
  queries: MetricDataQuery[];
  /** The returned (top-level) query ids, each with its check's name and side. */
  returned: Map<string, { check: string; side: Side }>;
}

export interface StepQueryOptions {
  /**
   * Seconds per datapoint: 1, 5, 10, 20, 30 (high-resolution metrics) or a multiple of 60. The analysis
   * compares per-minute values. @default 60
   */
  periodSeconds?: number;
  /** The step, as error messages name it (e.g. `step 2 (20 %)`). @default 'the step' */
  step?: string;
}

/**
 * The GetMetricData queries of one step: every check's canary and stable series, each a metric or a metric
 * math expression with its inputs. Throws MetricQueryLimitExceeded, naming the step, beyond 500 queries (the
 * per-call limit), and InvalidInput for two checks with the same name (their values could not be told apart)
 * or an expression the shared request would change the meaning of.
 */
export function stepQueries(
  checks: readonly ResolvedCheck[],
  { periodSeconds = 60, step = 'the step' }: StepQueryOptions = {},
): StepQueries {
  requirePeriod(periodSeconds);
  if (checks.length === 0) throw new InvalidInput(`${step} has no checks to read`);
  const names = new Set<string>();
  for (const check of checks) {
    if (names.has(check.name)) {
      throw new InvalidInput(`${step} has two checks named ${JSON.stringify(check.name)}`);
    }
    names.add(check.name);
  }

  const needed = checks.reduce(
    (sum, check) => sum + SIDES.reduce((count, side) => count + queriesOf(check[side]), 0),
    0,
  );
  if (needed > MAX_METRIC_QUERIES) {
    const heaviest = [...checks]
      .map((check) => ({ name: check.name, count: queriesOf(check.canary) + queriesOf(check.stable) }))
      .sort((a, b) => b.count - a.count)
      .slice(0, 3)
      .map(({ name, count }) => `${JSON.stringify(name)} ${count}`)
      .join(', ');
    throw new MetricQueryLimitExceeded(
      `${step}: its ${checks.length} checks need ${needed} GetMetricData queries, more than the ${MAX_METRIC_QUERIES} one call takes (the most: ${heaviest}). Split the checks or use fewer expression inputs.`,
    );
  }

  const queries: MetricDataQuery[] = [];
  const returned = new Map<string, { check: string; side: Side }>();
  checks.forEach((check, index) => {
    const base = [`c${index}`, slug(check.name)].filter(Boolean).join('_');
    for (const side of SIDES) {
      const id = `${base}_${side}`;
      const series = check[side];
      const label = `${check.name} ${side}`;
      returned.set(id, { check: check.name, side });
      if (series.type === 'metric') {
        queries.push({
          Id: id,
          Label: label,
          MetricStat: metricStat(series.metric, periodSeconds),
          ReturnData: true,
        });
        continue;
      }
      const renamed = new Map(
        Object.keys(series.inputs).map((input, position) => [
          input,
          `${id}_${position}_${input}`.slice(0, MAX_ID_LENGTH),
        ]),
      );
      for (const [input, metric] of Object.entries(series.inputs)) {
        queries.push({
          Id: renamed.get(input) as string,
          MetricStat: metricStat(metric, periodSeconds),
          ReturnData: false,
        });
      }
      queries.push({
        Id: id,
        Label: label,
        Expression: rewriteExpression(
          series.expression,
          renamed,
          `check ${JSON.stringify(check.name)} ${side}`,
        ),
        ReturnData: true,
      });
    }
  });

  // The construction above makes them unique and valid; checked anyway, since CloudWatch would refuse the
  // whole step for one bad id.
  const ids = new Set<string>();
  for (const query of queries) {
    const id = query.Id ?? '';
    if (!QUERY_ID.test(id) || ids.has(id)) throw new Error(`invalid or duplicate query id "${id}"`);
    ids.add(id);
  }
  return { queries, returned };
}

const QUERY_ID = /^[a-z][a-zA-Z0-9_]{0,254}$/;

/** A readable, id-safe hint of a check's name: lowercase a-z, 0-9 and "_", at most 32 characters. */
function slug(name: string): string {
  return name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, MAX_SLUG_LENGTH)
    .replace(/_+$/, '');
}

function queriesOf(series: Series): number {
  return series.type === 'metric' ? 1 : Object.keys(series.inputs).length + 1;
}

function metricStat(metric: MetricStat, periodSeconds: number): MetricDataQuery['MetricStat'] {
  return {
    Metric: {
      Namespace: metric.namespace,
      MetricName: metric.metricName,
      Dimensions: Object.entries(metric.dimensions).map(([Name, Value]) => ({ Name, Value })),
    },
    Period: periodSeconds,
    Stat: metric.stat,
  };
}

function requirePeriod(periodSeconds: number): void {
  const valid =
    Number.isInteger(periodSeconds) &&
    periodSeconds > 0 &&
    ([1, 5, 10, 20, 30].includes(periodSeconds) || periodSeconds % 60 === 0);
  if (!valid) {
    throw new RangeError(`periodSeconds must be 1, 5, 10, 20, 30 or a multiple of 60, not ${periodSeconds}`);
  }
}

/**
 * The expression with each input id replaced by its id in the request. Ids are the identifiers that start with
 * a lowercase letter (metric math's functions and keywords are uppercase); string literals (`SEARCH('…')`)
 * and numbers (`1e3`) are left as they are. An id that is not one of the inputs would refer to whatever else
 * the shared request holds, and `METRICS()` to every check's metrics: both are refused.
 */
export function rewriteExpression(
  expression: string,
  renamed: ReadonlyMap<string, string>,
  what: string,
): string {
  let out = '';
  let index = 0;
  while (index < expression.length) {
    const char = expression[index] as string;
    if (char === '"' || char === "'") {
      let end = index + 1;
      while (end < expression.length && expression[end] !== char) end += expression[end] === '\\' ? 2 : 1;
      out += expression.slice(index, end + 1);
      index = end + 1;
      continue;
    }
    const number = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(expression.slice(index));
    if (number) {
      out += number[0];
      index += number[0].length;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(expression.slice(index));
    if (word) {
      const token = word[0];
      index += token.length;
      if (/^[a-z]/.test(token)) {
        const id = renamed.get(token);
        if (id === undefined) {
          throw new InvalidInput(
            `${what}: the expression "${expression}" refers to "${token}", which is not one of its inputs (${[...renamed.keys()].join(', ')})`,
          );
        }
        out += id;
      } else {
        if (token === 'METRICS') {
          throw new InvalidInput(
            `${what}: the expression "${expression}" uses METRICS(), which would read every check's metrics in the step's shared request; name its inputs instead`,
          );
        }
        out += token;
      }
      continue;
    }
    out += char;
    index += 1;
  }
  return out;
}

// --- Reading a step --------------------------------------------------------------------------------------

/** A series CloudWatch did not answer in full: its check is left out of `series`, so it is never judged on it. */
export interface IncompleteSeries {
  check: string;
  side: Side;
  status: Exclude<MetricStatus, 'Complete'>;
  /** Datapoints received anyway (not judged). */
  datapoints: number;
}

export interface StepSeries {
  /**
   * Per check, its per-minute values oldest first, for `judgeStep`. A check with an incomplete series is
   * absent: `judgeStep` sees no data, and the no-data policy decides (fail, or pause and ask).
   */
  series: Record<string, CheckSeries>;
  /** The series CloudWatch answered `Forbidden`, `InternalError`, or `PartialData` on its last page. */
  incomplete: IncompleteSeries[];
  /** GetMetricData requests made (pages): one call, paginated. */
  pages: number;
  /** Queries in the request, expression inputs included. */
  queries: number;
}

export interface StepWindow extends StepQueryOptions {
  start: Date;
  end: Date;
}

/**
 * Reads a step's checks over [start, end) in one GetMetricData request, its pages followed, and maps the
 * answer back to each check's canary and stable values, oldest first. Throttling throws MetricDataThrottled
 * (the workflow retries with backoff), other transient faults CloudWatchUnavailable; more than 500 queries
 * MetricQueryLimitExceeded. A series CloudWatch answered `Forbidden` or `InternalError` on any page, or
 * `PartialData` on the last page it appeared on, is reported in `incomplete`, and its check left out of
 * `series` (CloudWatch marks a series PartialData on a page whose rest follows on the next: that is not
 * reported).
 */
export async function readStep(
  cloudwatch: CloudWatchClient,
  checks: readonly ResolvedCheck[],
  { start, end, ...options }: StepWindow,
): Promise<StepSeries> {
  if (!(start.getTime() < end.getTime())) {
    throw new RangeError(
      `the window must end after it starts: ${start.toISOString()} → ${end.toISOString()}`,
    );
  }
  const { queries, returned } = stepQueries(checks, options);
  const points = new Map<string, Array<{ at: number; value: number }>>(
    [...returned.keys()].map((id) => [id, []]),
  );
  const lastStatus = new Map<string, MetricStatus>();
  const failed = new Map<string, MetricStatus>();
  const periodSeconds = options.periodSeconds ?? 60;
  const datapoints = Math.ceil((end.getTime() - start.getTime()) / 1000 / periodSeconds) * returned.size;
  const streamed = await streamMetricData(
    cloudwatch,
    // One page holds 100,800 datapoints; a step's window is minutes, but allow what it could need.
    { queries, start, end, maxPages: Math.max(20, Math.ceil(datapoints / 100_800) + 2) },
    (parts) => {
      for (const part of parts) {
        const target = points.get(part.id);
        // An expression input: asked with ReturnData false, so CloudWatch should not answer it.
        if (!target) continue;
        lastStatus.set(part.id, part.status);
        if (part.status === 'Forbidden' || part.status === 'InternalError') failed.set(part.id, part.status);
        part.timestamps.forEach((at, index) =>
          target.push({ at: at.getTime(), value: part.values[index] as number }),
        );
      }
    },
  );

  const incomplete: IncompleteSeries[] = [];
  for (const [id, { check, side }] of returned) {
    const status = failed.get(id) ?? lastStatus.get(id) ?? 'Complete';
    if (status !== 'Complete') {
      incomplete.push({ check, side, status, datapoints: points.get(id)?.length ?? 0 });
    }
  }
  const left = new Set(incomplete.map((series) => series.check));
  const series: Record<string, CheckSeries> = {};
  for (const [id, { check, side }] of returned) {
    if (left.has(check)) continue;
    const values = (points.get(id) ?? []).sort((a, b) => a.at - b.at).map((point) => point.value);
    (series[check] ??= { canary: [], stable: [] })[side] = values;
  }
  return { series, incomplete, pages: streamed.pages, queries: queries.length };
}
