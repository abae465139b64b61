import {
  type CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  ListTagsForResourceCommand,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import * as z from 'zod/mini';
import { parseOrThrow, RunbookError } from '../shared/errors';
import { isThrottling, isTransientAwsFault, sendNamingFaults } from './faults';

// CloudWatch as the runbooks use it: alarms (rollback, certificates), tags (alarm → workload) and
// GetMetricData (canary analysis, right-sizing). Answers are parsed at this edge; faults get names the
// workflows route on.

/** CloudWatch did not answer (throttled, 5xx): the state machine retries, then escalates. */
export class CloudWatchUnavailable extends RunbookError {
  override name = 'CloudWatchUnavailable';
}

/** CloudWatch answered with something that is not what the API promises: nothing is decided from it. */
export class CloudWatchInvalidResponse extends RunbookError {
  override name = 'CloudWatchInvalidResponse';
}

/** A GetMetricData request beyond what one analysis may ask (reference.md: ≤ 500 queries per call). */
export class MetricQueryLimitExceeded extends RunbookError {
  override name = 'MetricQueryLimitExceeded';
}

/** GetMetricData takes at most 500 queries per call (CloudWatch API reference). */
export const MAX_METRIC_QUERIES = 500;

/** One SDK call, a transient fault named CloudWatchUnavailable. */
const send = <T>(operation: string, call: () => Promise<T>): Promise<T> =>
  sendNamingFaults(operation, call, CloudWatchUnavailable);

const sdkDate = z.union([
  z.date(),
  z.pipe(
    z.string().check(z.refine((value) => !Number.isNaN(Date.parse(value)), 'must be a timestamp')),
    z.transform((value: string) => new Date(value)),
  ),
]);

const alarmState = z.enum(['OK', 'ALARM', 'INSUFFICIENT_DATA']);
const describedAlarm = z.object({
  AlarmName: z.string(),
  StateValue: alarmState,
  StateUpdatedTimestamp: z.optional(sdkDate),
  StateReason: z.optional(z.string()),
});
const seconds = z.int().check(z.positive());
const describedMetricAlarm = z.extend(describedAlarm, {
  Period: z.optional(seconds),
  EvaluationPeriods: z.optional(seconds),
  // Metric-math alarms carry their periods in the queries instead.
  Metrics: z.optional(
    z.array(
      z.object({
        Period: z.optional(seconds),
        MetricStat: z.optional(z.object({ Period: z.optional(seconds) })),
      }),
    ),
  ),
});
const describeAlarmsAnswer = z.object({
  MetricAlarms: z._default(z.array(describedMetricAlarm), []),
  CompositeAlarms: z._default(z.array(describedAlarm), []),
});

/**
 * How long a metric alarm looks back before it changes state (period × evaluation periods, the longest
 * query period for metric math): it cannot return to OK sooner after a fix. Undefined for composites.
 */
function evaluationSeconds(alarm: z.output<typeof describedMetricAlarm>): number | undefined {
  const periods = [
    alarm.Period,
    ...(alarm.Metrics ?? []).flatMap((query) => [query.Period, query.MetricStat?.Period]),
  ].filter((period): period is number => period !== undefined);
  if (periods.length === 0 || alarm.EvaluationPeriods === undefined) return undefined;
  return Math.max(...periods) * alarm.EvaluationPeriods;
}

export interface DescribedAlarm {
  name: string;
  state: z.output<typeof alarmState>;
  updatedAt?: Date;
  reason?: string;
  /** Metric alarms: the seconds of data it evaluates (period × evaluation periods). */
  evaluationSeconds?: number;
}

/** One alarm by name, metric or composite; undefined when it does not exist. */
export async function describeAlarm(
  cloudwatch: CloudWatchClient,
  alarmName: string,
): Promise<DescribedAlarm | undefined> {
  const raw = await send('DescribeAlarms', () =>
    cloudwatch.send(
      new DescribeAlarmsCommand({ AlarmNames: [alarmName], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] }),
    ),
  );
  const answer = parseOrThrow(
    describeAlarmsAnswer,
    raw,
    'The DescribeAlarms answer',
    CloudWatchInvalidResponse,
  );
  const metric = answer.MetricAlarms.find((found) => found.AlarmName === alarmName);
  const alarm = metric ?? answer.CompositeAlarms.find((found) => found.AlarmName === alarmName);
  if (!alarm) return undefined;
  const evaluation = metric && evaluationSeconds(metric);
  return {
    name: alarm.AlarmName,
    state: alarm.StateValue,
    ...(alarm.StateUpdatedTimestamp && { updatedAt: alarm.StateUpdatedTimestamp }),
    ...(alarm.StateReason !== undefined && { reason: alarm.StateReason }),
    ...(evaluation !== undefined && { evaluationSeconds: evaluation }),
  };
}

const tagsAnswer = z.object({
  Tags: z._default(z.array(z.object({ Key: z.string(), Value: z.string() })), []),
});

/** The tags of a CloudWatch resource (an alarm), as a map. */
export async function resourceTags(
  cloudwatch: CloudWatchClient,
  resourceArn: string,
): Promise<Map<string, string>> {
  const raw = await send('ListTagsForResource', () =>
    cloudwatch.send(new ListTagsForResourceCommand({ ResourceARN: resourceArn })),
  );
  const answer = parseOrThrow(tagsAnswer, raw, 'The ListTagsForResource answer', CloudWatchInvalidResponse);
  return new Map(answer.Tags.map((tag) => [tag.Key, tag.Value]));
}

const metricDataAnswer = z.object({
  MetricDataResults: z._default(
    z.array(
      z.object({
        Id: z.string().check(z.minLength(1)),
        Label: z.optional(z.string()),
        Timestamps: z._default(z.array(sdkDate), []),
        Values: z._default(z.array(z.number()), []),
        StatusCode: z._default(z.enum(['Complete', 'InternalError', 'PartialData', 'Forbidden']), 'Complete'),
      }),
    ),
    [],
  ),
  NextToken: z.optional(z.string()),
});

export interface MetricSeries {
  id: string;
  label?: string;
  /** Oldest first, one value per timestamp. */
  points: Array<{ at: Date; value: number }>;
  /** `Complete`, unless CloudWatch said otherwise on any page (`PartialData`, `Forbidden`, …). */
  status: MetricStatus;
}

export type MetricStatus = 'Complete' | 'InternalError' | 'PartialData' | 'Forbidden';

export interface MetricDataRequest {
  queries: MetricDataQuery[];
  start: Date;
  end: Date;
  /**
   * Pages followed at most; one page holds up to 100,800 datapoints, so the default allows ~2 million.
   * @default 20
   */
  maxPages?: number;
}

/** GetMetricData throttled the caller (after the SDK's retries): the workflow retries the step with backoff. */
export class MetricDataThrottled extends RunbookError {
  override name = 'MetricDataThrottled';
}

/** One page's part of one query's series, as `streamMetricData` hands it over. */
export interface MetricDataPart {
  id: string;
  label?: string;
  timestamps: Date[];
  values: number[];
  status: MetricStatus;
}

/** What a stream of GetMetricData pages cost: each page is one request (one API call). */
export interface MetricDataStreamed {
  pages: number;
}

/**
 * GetMetricData with its pagination followed, each page's series handed to `onPage` as it arrives and not
 * kept: the caller reduces them (percentiles) so memory follows one page, not the window. A page holds at
 * most 100,800 datapoints (MaxDatapoints' default and maximum, CloudWatch API reference), and CloudWatch
 * splits one series over several pages. Throttling is MetricDataThrottled, other transient faults
 * CloudWatchUnavailable.
 */
export async function streamMetricData(
  cloudwatch: CloudWatchClient,
  { queries, start, end, maxPages = 20 }: MetricDataRequest,
  onPage: (parts: MetricDataPart[]) => void,
  { throttledAs = MetricDataThrottled }: { throttledAs?: typeof CloudWatchUnavailable } = {},
): Promise<MetricDataStreamed> {
  if (queries.length === 0 || queries.length > MAX_METRIC_QUERIES) {
    throw new MetricQueryLimitExceeded(
      `GetMetricData takes 1 to ${MAX_METRIC_QUERIES} queries per call; ${queries.length} were given.`,
    );
  }
  const asked = new Set(queries.map((query) => query.Id ?? ''));
  let nextToken: string | undefined;
  for (let page = 1; ; page += 1) {
    const raw = await sendMetricData(
      () =>
        cloudwatch.send(
          new GetMetricDataCommand({
            MetricDataQueries: queries,
            StartTime: start,
            EndTime: end,
            ScanBy: 'TimestampAscending',
            NextToken: nextToken,
          }),
        ),
      throttledAs,
    );
    const answer = parseOrThrow(metricDataAnswer, raw, 'The GetMetricData answer', CloudWatchInvalidResponse);
    const parts = answer.MetricDataResults.map((result): MetricDataPart => {
      if (!asked.has(result.Id)) {
        throw new CloudWatchInvalidResponse(
          `The GetMetricData answer has a series "${result.Id}" nobody asked for.`,
        );
      }
      if (result.Timestamps.length !== result.Values.length) {
        throw new CloudWatchInvalidResponse(
          `The GetMetricData answer for "${result.Id}" has ${result.Timestamps.length} timestamps but ${result.Values.length} values.`,
        );
      }
      return {
        id: result.Id,
        ...(result.Label !== undefined && { label: result.Label }),
        timestamps: result.Timestamps,
        values: result.Values,
        status: result.StatusCode,
      };
    });
    onPage(parts);
    nextToken = answer.NextToken;
    if (nextToken === undefined) return { pages: page };
    if (page >= maxPages) {
      throw new MetricQueryLimitExceeded(
        `GetMetricData still had more pages after ${maxPages}: narrow the window or the queries.`,
      );
    }
  }
}

/** The GetMetricData call, throttling named `throttledAs`, any other transient fault CloudWatchUnavailable. */
async function sendMetricData<T>(
  call: () => Promise<T>,
  throttledAs: typeof CloudWatchUnavailable,
): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isThrottling(error)) {
      throw new throttledAs(`GetMetricData failed: ${(error as Error).name}`, { cause: error });
    }
    if (isTransientAwsFault(error)) {
      throw new CloudWatchUnavailable(`GetMetricData failed: ${(error as Error).name}`, { cause: error });
    }
    throw error;
  }
}

/**
 * GetMetricData with its pagination followed: the series of each query, merged across pages (CloudWatch
 * splits one series over several pages), oldest first. An id missing from the answer is an empty series:
 * the caller decides whether no data fails a check (Flagger) or makes it inconclusive (Argo Rollouts).
 * Every transient fault, throttling included, is CloudWatchUnavailable (the rollback and canary route on it).
 */
export async function getMetricData(
  cloudwatch: CloudWatchClient,
  request: MetricDataRequest,
): Promise<MetricSeries[]> {
  const series = new Map<string, MetricSeries>(
    request.queries.map((query) => [query.Id ?? '', { id: query.Id ?? '', points: [], status: 'Complete' }]),
  );
  await streamMetricData(
    cloudwatch,
    request,
    (parts) => {
      for (const part of parts) {
        const target = series.get(part.id) as MetricSeries;
        if (part.label !== undefined) target.label = part.label;
        if (part.status !== 'Complete') target.status = part.status;
        part.timestamps.forEach((at, index) =>
          target.points.push({ at, value: part.values[index] as number }),
        );
      }
    },
    { throttledAs: CloudWatchUnavailable },
  );
  for (const each of series.values()) each.points.sort((a, b) => a.at.getTime() - b.at.getTime());
  return [...series.values()];
}
