import {
  CloudWatchServiceException,
  type GetMetricDataCommandInput,
  type GetMetricDataCommandOutput,
  InvalidNextToken,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';
import { createHash } from 'node:crypto';
import { timelineNow } from './virtual-clock';

// CloudWatch's metric store and GetMetricData, as the simulated account serves them (simulated-account.ts
// routes every CloudWatchClient's GetMetricDataCommand here). Series are functions of time giving one sample a
// minute (a workload's usage, an instance's CPU), so fourteen days of five-minute data cost nothing to hold.
// What it keeps faithful (CloudWatch API reference, GetMetricData; reference.md "CloudWatch"):
// - the per-call limits: 1 to 500 MetricDataQueries (ValidationError beyond), MaxDatapoints at most 100,800
//   (its default; InvalidParameterValue beyond); query ids unique and starting with a lower-case letter;
//   periods of 1, 5, 10, 20, 30 s or a multiple of 60 (InvalidParameterValue); StartTime before EndTime;
// - pagination by datapoints: a page holds at most MaxDatapoints datapoints, in query order, each series in
//   ScanBy order (TimestampDescending by default); a series continued on the next page is `PartialData` on
//   this one; NextToken belongs to its request (InvalidNextToken for another or a forged one);
// - retention: 60-second data for 15 days, 300-second data for 63 days, hourly data for 455 days;
// - the statistics of each period over its one-minute samples: Average, Maximum, Minimum, Sum, SampleCount,
//   pNN; a period without a sample has no datapoint;
// - throttling on demand (`Throttling`, "Rate exceeded", as CloudWatch's query API answers it).
// The SDK's own retries do not run (the client's `send` is mocked): a throttled call reaches the adapter as
// the SDK would surface it after its retries.

export const GET_METRIC_DATA_LIMITS = { maxQueries: 500, maxDatapoints: 100_800 } as const;

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** A metric's identity: namespace, name and its full set of dimensions (order does not matter). */
export interface MetricIdentity {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
}

/** One sample a minute: the value at `minute` (epoch ms, a whole minute), or undefined when none was published. */
export type SampleSource = (minute: number) => number | undefined;

/** A GetMetricData request as the simulation saw it, with what it answered. */
export interface GetMetricDataCall {
  /** `timelineNow()` when it arrived. */
  at: number;
  queries: number;
  /** The datapoints this page returned. */
  datapoints: number;
  /** The distinct metrics asked for (namespace/name), for the tests to tell pods' queries from instances'. */
  metricNames: string[];
  /** A page after the first (it carried a NextToken). */
  continued: boolean;
  /** The error it was answered with, if any. */
  error?: string;
}

const identityKey = ({ namespace, metricName, dimensions }: MetricIdentity): string =>
  JSON.stringify([
    namespace,
    metricName,
    Object.entries(dimensions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ]);

function serviceError(name: string, message: string, status = 400): Error {
  return new CloudWatchServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    message,
    $metadata: { httpStatusCode: status },
  });
}

/** Seconds CloudWatch keeps data of this period (high-resolution data: 3 hours). */
function retentionMs(periodSeconds: number): number {
  if (periodSeconds < 60) return 3 * 60 * MINUTE_MS;
  if (periodSeconds < 300) return 15 * DAY_MS;
  if (periodSeconds < 3600) return 63 * DAY_MS;
  return 455 * DAY_MS;
}

function statistic(stat: string, samples: number[]): number | undefined {
  if (samples.length === 0) return undefined;
  switch (stat) {
    case 'Average':
      return samples.reduce((sum, value) => sum + value, 0) / samples.length;
    case 'Maximum':
      return Math.max(...samples);
    case 'Minimum':
      return Math.min(...samples);
    case 'Sum':
      return samples.reduce((sum, value) => sum + value, 0);
    case 'SampleCount':
      return samples.length;
    default: {
      const percentile = /^p(\d{1,2}(?:\.\d+)?)$/.exec(stat);
      if (!percentile) throw serviceError('InvalidParameterValue', `The statistic ${stat} is not valid.`);
      const sorted = [...samples].sort((a, b) => a - b);
      const rank = Math.ceil((Number(percentile[1]) / 100) * sorted.length) - 1;
      return sorted[Math.max(0, Math.min(sorted.length - 1, rank))];
    }
  }
}

const VALID_ID = /^[a-z][a-zA-Z0-9_]*$/;

interface PreparedQuery {
  id: string;
  label: string;
  returnData: boolean;
  /** Timestamps (ms) with a datapoint, in ScanBy order, and their values. */
  timestamps: number[];
  values: number[];
}

/** CloudWatch's series and GetMetricData; reset per scenario. */
export class SimulatedMetrics {
  private readonly series = new Map<string, { identity: MetricIdentity; source: SampleSource }>();
  /** Every GetMetricData request (every page is one), in order. */
  readonly calls: GetMetricDataCall[] = [];
  private throttles: Array<{ remaining: number; when?: (call: number) => boolean }> = [];

  /** Publishes a series: `source` gives the sample of each minute (undefined: nothing that minute). */
  put(identity: MetricIdentity, source: SampleSource): void {
    this.series.set(identityKey(identity), { identity: structuredClone(identity), source });
  }

  has(identity: MetricIdentity): boolean {
    return this.series.has(identityKey(identity));
  }

  /** Answers the next `times` GetMetricData calls with `Throttling` (HTTP 400, "Rate exceeded"). */
  throttle(times: number): void {
    this.throttles.push({ remaining: times });
  }

  /** Throttles the `callNumber`-th GetMetricData request from now on (1 = the next), once. */
  throttleCall(callNumber: number): void {
    const target = this.calls.length + callNumber;
    this.throttles.push({ remaining: 1, when: (call) => call === target });
  }

  /** Requests that returned data (not throttled, not refused), pages included. */
  get answeredCalls(): number {
    return this.calls.filter((call) => call.error === undefined).length;
  }

  get throttledCalls(): number {
    return this.calls.filter((call) => call.error === 'Throttling').length;
  }

  reset(): void {
    this.series.clear();
    this.calls.length = 0;
    this.throttles = [];
  }

  /** GetMetricData, as CloudWatch answers it (or throws). */
  getMetricData(input: GetMetricDataCommandInput): Omit<GetMetricDataCommandOutput, '$metadata'> {
    const queries = input.MetricDataQueries ?? [];
    const call: GetMetricDataCall = {
      at: timelineNow(),
      queries: queries.length,
      datapoints: 0,
      metricNames: [
        ...new Set(
          queries.map((query) =>
            query.MetricStat
              ? `${query.MetricStat.Metric?.Namespace}/${query.MetricStat.Metric?.MetricName}`
              : 'expression',
          ),
        ),
      ],
      continued: input.NextToken !== undefined,
    };
    this.calls.push(call);
    try {
      const number = this.calls.length;
      const throttle = this.throttles.find(
        (candidate) => candidate.remaining > 0 && (candidate.when?.(number) ?? true),
      );
      if (throttle) {
        throttle.remaining -= 1;
        throw serviceError('Throttling', 'Rate exceeded');
      }
      const answer = this.answer(input);
      call.datapoints = (answer.MetricDataResults ?? []).reduce(
        (sum, result) => sum + (result.Timestamps?.length ?? 0),
        0,
      );
      return answer;
    } catch (error) {
      call.error = (error as Error).name;
      throw error;
    }
  }

  private answer(input: GetMetricDataCommandInput): Omit<GetMetricDataCommandOutput, '$metadata'> {
    const queries = input.MetricDataQueries ?? [];
    if (queries.length === 0)
      throw serviceError(
        'ValidationError',
        "1 validation error detected: Value '[]' at 'metricDataQueries' failed to satisfy constraint: Member must have length greater than or equal to 1",
      );
    if (queries.length > GET_METRIC_DATA_LIMITS.maxQueries)
      throw serviceError(
        'ValidationError',
        `1 validation error detected: Value at 'metricDataQueries' failed to satisfy constraint: Member must have length less than or equal to ${GET_METRIC_DATA_LIMITS.maxQueries}`,
      );
    const maxDatapoints = input.MaxDatapoints ?? GET_METRIC_DATA_LIMITS.maxDatapoints;
    if (
      !Number.isInteger(maxDatapoints) ||
      maxDatapoints < 1 ||
      maxDatapoints > GET_METRIC_DATA_LIMITS.maxDatapoints
    )
      throw serviceError(
        'InvalidParameterValue',
        `The value ${maxDatapoints} for parameter MaxDatapoints is not valid: it must be between 1 and ${GET_METRIC_DATA_LIMITS.maxDatapoints}.`,
      );
    const start = input.StartTime ? new Date(input.StartTime).getTime() : Number.NaN;
    const end = input.EndTime ? new Date(input.EndTime).getTime() : Number.NaN;
    if (!Number.isFinite(start) || !Number.isFinite(end))
      throw serviceError('MissingParameter', 'The parameters StartTime and EndTime are required.');
    if (start >= end)
      throw serviceError(
        'ValidationError',
        'The parameter StartTime must be less than the parameter EndTime.',
      );
    const ids = new Set<string>();
    for (const [index, query] of queries.entries()) {
      const id = query.Id ?? '';
      if (!VALID_ID.test(id))
        throw serviceError(
          'ValidationError',
          `The value ${id} for parameter MetricDataQueries.member.${index + 1}.Id is not valid: it must start with a lower-case letter and contain only letters, digits and underscores.`,
        );
      if (ids.has(id))
        throw serviceError(
          'ValidationError',
          `The values for parameter id in MetricDataQueries are not unique: ${id} is used twice.`,
        );
      ids.add(id);
      if (query.Expression !== undefined)
        throw serviceError(
          'InvalidParameterValue',
          `The simulated CloudWatch serves MetricStat queries only (MetricDataQueries.member.${index + 1} has an Expression).`,
        );
      const period = query.MetricStat?.Period ?? 0;
      if (!([1, 5, 10, 20, 30].includes(period) || (period >= 60 && period % 60 === 0)))
        throw serviceError(
          'InvalidParameterValue',
          `The parameter MetricDataQueries.member.${index + 1}.MetricStat.Period must be 1, 5, 10, 20, 30, or any multiple of 60.`,
        );
    }

    const descending = (input.ScanBy ?? 'TimestampDescending') === 'TimestampDescending';
    const prepared = queries.map((query) => this.prepare(query, start, end, descending));
    const returned = prepared.filter((query) => query.returnData);
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([queries, start, end, input.ScanBy ?? '', maxDatapoints]))
      .digest('base64url')
      .slice(0, 16);

    let offset = 0;
    if (input.NextToken !== undefined) {
      const decoded = /^([\w-]{16}):(\d+)$/.exec(Buffer.from(input.NextToken, 'base64url').toString('utf8'));
      if (!decoded || decoded[1] !== fingerprint)
        throw new InvalidNextToken({ message: 'The service returned an invalid NextToken.', $metadata: {} });
      offset = Number(decoded[2]);
    }

    // The page: datapoints [offset, offset + maxDatapoints) of the queries' series laid end to end.
    const total = returned.reduce((sum, query) => sum + query.timestamps.length, 0);
    const pageEnd = Math.min(total, offset + maxDatapoints);
    const results: MetricDataResult[] = [];
    let position = 0;
    for (const query of returned) {
      const from = Math.max(offset, position);
      const to = Math.min(pageEnd, position + query.timestamps.length);
      const last = pageEnd === total;
      if (to > from || (last && query.timestamps.length === 0)) {
        results.push({
          Id: query.id,
          Label: query.label,
          Timestamps: query.timestamps.slice(from - position, to - position).map((at) => new Date(at)),
          Values: query.values.slice(from - position, to - position),
          StatusCode: to < position + query.timestamps.length ? 'PartialData' : 'Complete',
        });
      }
      position += query.timestamps.length;
    }
    return {
      MetricDataResults: results,
      Messages: [],
      ...(pageEnd < total && {
        NextToken: Buffer.from(`${fingerprint}:${pageEnd}`).toString('base64url'),
      }),
    };
  }

  private prepare(
    query: NonNullable<GetMetricDataCommandInput['MetricDataQueries']>[number],
    start: number,
    end: number,
    descending: boolean,
  ): PreparedQuery {
    const stat = query.MetricStat;
    const metric = stat?.Metric;
    const identity: MetricIdentity = {
      namespace: metric?.Namespace ?? '',
      metricName: metric?.MetricName ?? '',
      dimensions: Object.fromEntries((metric?.Dimensions ?? []).map((d) => [d.Name ?? '', d.Value ?? ''])),
    };
    const periodMs = (stat?.Period ?? 60) * 1000;
    const found = this.series.get(identityKey(identity));
    const timestamps: number[] = [];
    const values: number[] = [];
    if (found) {
      const kept = Date.now() - retentionMs(stat?.Period ?? 60);
      // Periods aligned to the epoch, from the first whole period at or after StartTime to before EndTime.
      for (let at = Math.ceil(start / periodMs) * periodMs; at < end; at += periodMs) {
        if (at < kept || at > Date.now()) continue;
        const samples: number[] = [];
        for (let minute = at; minute < at + periodMs; minute += MINUTE_MS) {
          const sample = found.source(minute);
          if (sample !== undefined) samples.push(sample);
        }
        const value = statistic(stat?.Stat ?? 'Average', samples);
        if (value === undefined) continue;
        timestamps.push(at);
        values.push(value);
      }
    }
    if (descending) {
      timestamps.reverse();
      values.reverse();
    }
    return {
      id: query.Id ?? '',
      label: query.Label ?? identity.metricName,
      returnData: query.ReturnData ?? true,
      timestamps,
      values,
    };
  }
}
