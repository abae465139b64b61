import {
  CloudWatchClient,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
  type MetricDataQuery,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { diurnal, jitter, since, steady, withSpike } from '../harness/rightsizing/usage-series';
import { SimulatedAccount } from '../harness/simulated-account';
import type { MetricIdentity } from '../harness/simulated-metrics';

// The simulated account's GetMetricData, through the real SDK client as the handlers call it: the API's
// per-call limits, pagination by datapoints with NextToken, retention, the statistics per period, and
// throttling on demand.

const DAY = 86_400_000;
const HOUR = 3_600_000;

let account: SimulatedAccount;
const cloudwatch = new CloudWatchClient({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
});

beforeAll(async () => {
  account = await SimulatedAccount.start('metrics-test-locks');
});
afterAll(() => account.close());
beforeEach(() => account.reset());

const pod = (name: string): MetricIdentity => ({
  namespace: 'ContainerInsights',
  metricName: 'pod_cpu_usage_total',
  dimensions: { ClusterName: 'prod-eks', Namespace: 'shop', PodName: name },
});

const query = (id: string, name: string, stat = 'Average', period = 300): MetricDataQuery => ({
  Id: id,
  MetricStat: {
    Metric: {
      Namespace: 'ContainerInsights',
      MetricName: 'pod_cpu_usage_total',
      // In another order than published: dimensions are a set.
      Dimensions: [
        { Name: 'PodName', Value: name },
        { Name: 'Namespace', Value: 'shop' },
        { Name: 'ClusterName', Value: 'prod-eks' },
      ],
    },
    Period: period,
    Stat: stat,
  },
});

/** A window ending on a whole hour, `days` long. */
function window(days: number): { StartTime: Date; EndTime: Date } {
  const end = Math.floor(Date.now() / HOUR) * HOUR;
  return { StartTime: new Date(end - days * DAY), EndTime: new Date(end) };
}

const send = (input: GetMetricDataCommandInput) => cloudwatch.send(new GetMetricDataCommand(input));

async function rejection(input: GetMetricDataCommandInput): Promise<Error & { $fault?: string }> {
  try {
    await send(input);
  } catch (error) {
    return error as Error & { $fault?: string };
  }
  throw new Error('GetMetricData answered');
}

describe('the simulated GetMetricData', () => {
  it('answers a day of 5-minute averages of a diurnal series, newest first by default', async () => {
    account.metrics.put(pod('web'), diurnal({ mean: 400, amplitude: 200, noise: 0 }));
    const answer = await send({ MetricDataQueries: [query('cpu', 'web')], ...window(1) });
    const [result] = answer.MetricDataResults ?? [];
    expect(result).toMatchObject({ Id: 'cpu', Label: 'pod_cpu_usage_total', StatusCode: 'Complete' });
    expect(result?.Timestamps).toHaveLength(288);
    const times = (result?.Timestamps ?? []).map((at) => at.getTime());
    expect(times[0]).toBeGreaterThan(times[1] ?? 0);
    const values = result?.Values ?? [];
    expect(Math.max(...values)).toBeGreaterThan(595);
    expect(Math.min(...values)).toBeLessThan(205);
    expect(answer.NextToken).toBeUndefined();
  });

  it('aggregates each period’s one-minute samples by the statistic asked', async () => {
    // The minute's own number: Maximum and Minimum of a period are its last and first minute.
    account.metrics.put(pod('web'), (minute) => (minute / 60_000) % 5);
    const answer = await send({
      MetricDataQueries: [
        query('avg', 'web', 'Average'),
        query('max', 'web', 'Maximum'),
        query('min', 'web', 'Minimum'),
        query('n', 'web', 'SampleCount'),
        query('p80', 'web', 'p80'),
      ],
      ...window(1),
      ScanBy: 'TimestampAscending',
    });
    const first = (id: string) => answer.MetricDataResults?.find((result) => result.Id === id)?.Values?.[0];
    expect([first('avg'), first('max'), first('min'), first('n'), first('p80')]).toEqual([2, 4, 0, 5, 3]);
  });

  it('has no datapoint for a period without a sample, and no series for an unknown metric', async () => {
    const start = window(14).EndTime.getTime() - 2 * HOUR;
    account.metrics.put(pod('new'), since(start, steady(100)));
    const answer = await send({
      MetricDataQueries: [query('recent', 'new'), query('unknown', 'ghost')],
      ...window(14),
    });
    const [recent, unknown] = answer.MetricDataResults ?? [];
    expect(recent?.Values).toHaveLength(24);
    expect(unknown).toMatchObject({ Id: 'unknown', Timestamps: [], Values: [], StatusCode: 'Complete' });
  });

  it('keeps one-minute data 15 days and five-minute data 63 days', async () => {
    account.metrics.put(pod('web'), steady(10));
    const minutes = await send({ MetricDataQueries: [query('m', 'web', 'Average', 60)], ...window(20) });
    expect(minutes.MetricDataResults?.[0]?.Values?.length).toBeLessThanOrEqual(15 * 1440);
    expect(minutes.MetricDataResults?.[0]?.Values?.length).toBeGreaterThan(15 * 1440 - 120);
    const fives = await send({ MetricDataQueries: [query('f', 'web', 'Average', 300)], ...window(20) });
    expect(fives.MetricDataResults?.[0]?.Values).toHaveLength(20 * 288);
  });

  it('keeps a spike of a few minutes in the maxima, and averages it away', async () => {
    const { EndTime } = window(14);
    const at = EndTime.getTime() - 3 * DAY + 7 * 60_000;
    account.metrics.put(pod('spiky'), withSpike(steady(50, { noise: 0 }), { at, minutes: 2, peak: 4000 }));
    const answer = await send({
      MetricDataQueries: [query('avg', 'spiky'), query('max', 'spiky', 'Maximum')],
      ...window(14),
    });
    const [avg, max] = answer.MetricDataResults ?? [];
    expect(Math.max(...(max?.Values ?? []))).toBe(4000);
    expect(Math.max(...(avg?.Values ?? []))).toBe((2 * 4000 + 3 * 50) / 5);
    expect(avg?.Values?.filter((value) => value > 50)).toHaveLength(1);
  });

  it('pages by datapoints: at most MaxDatapoints a page, a series split across pages marked PartialData', async () => {
    for (const name of ['a', 'b', 'c']) account.metrics.put(pod(name), steady(100));
    const queries = ['a', 'b', 'c'].map((name) => query(name, name));
    const pages: MetricDataResult[][] = [];
    let NextToken: string | undefined;
    do {
      const answer = await send({ MetricDataQueries: queries, ...window(1), MaxDatapoints: 500, NextToken });
      pages.push(answer.MetricDataResults ?? []);
      NextToken = answer.NextToken;
    } while (NextToken !== undefined);
    // 3 × 288 = 864 datapoints: 500, then 364.
    expect(pages.map((page) => page.reduce((sum, r) => sum + (r.Values?.length ?? 0), 0))).toEqual([
      500, 364,
    ]);
    expect(pages[0]?.map((r) => [r.Id, r.Values?.length, r.StatusCode])).toEqual([
      ['a', 288, 'Complete'],
      ['b', 212, 'PartialData'],
    ]);
    expect(pages[1]?.map((r) => [r.Id, r.Values?.length, r.StatusCode])).toEqual([
      ['b', 76, 'Complete'],
      ['c', 288, 'Complete'],
    ]);
    // Merged by id, each series is whole and has no duplicate timestamp.
    const b = pages
      .flat()
      .filter((r) => r.Id === 'b')
      .flatMap((r) => r.Timestamps ?? []);
    expect(new Set(b.map((at) => at.getTime())).size).toBe(288);
    expect(account.metrics.calls.map((call) => [call.datapoints, call.continued])).toEqual([
      [500, false],
      [364, true],
    ]);
  });

  it('pages at 100,800 datapoints by default: 25 series of 14 days of 5-minute data fill a page exactly', async () => {
    // 26 series × 4,032 datapoints = 104,832: the 26th is on the second page.
    const names = Array.from({ length: 26 }, (_, index) => `w${index}`);
    for (const name of names) account.metrics.put(pod(name), steady(100));
    const input = { MetricDataQueries: names.map((name) => query(name, name)), ...window(14) };
    const first = await send(input);
    const count = (first.MetricDataResults ?? []).reduce((sum, r) => sum + (r.Values?.length ?? 0), 0);
    expect(count).toBe(100_800);
    expect(first.MetricDataResults?.map((r) => r.Id)).toEqual(names.slice(0, 25));
    const second = await send({ ...input, NextToken: first.NextToken });
    expect(second.MetricDataResults).toMatchObject([{ Id: 'w25', StatusCode: 'Complete' }]);
    expect(second.MetricDataResults?.[0]?.Values).toHaveLength(4032);
    expect(second.NextToken).toBeUndefined();
  });

  it('refuses more than 500 queries, MaxDatapoints over 100,800, bad ids, periods and windows', async () => {
    const many = Array.from({ length: 501 }, (_, index) => query(`q${index}`, 'web'));
    expect(await rejection({ MetricDataQueries: many, ...window(1) })).toMatchObject({
      name: 'ValidationError',
      $fault: 'client',
      message: expect.stringContaining('less than or equal to 500'),
    });
    expect(
      (await rejection({ MetricDataQueries: [query('a', 'web')], ...window(1), MaxDatapoints: 100_801 }))
        .name,
    ).toBe('InvalidParameterValue');
    expect((await rejection({ MetricDataQueries: [query('Q1', 'web')], ...window(1) })).name).toBe(
      'ValidationError',
    );
    expect(
      (await rejection({ MetricDataQueries: [query('a', 'x'), query('a', 'y')], ...window(1) })).name,
    ).toBe('ValidationError');
    expect(
      (await rejection({ MetricDataQueries: [query('a', 'web', 'Average', 90)], ...window(1) })).name,
    ).toBe('InvalidParameterValue');
    const { StartTime, EndTime } = window(1);
    expect(
      (await rejection({ MetricDataQueries: [query('a', 'web')], StartTime: EndTime, EndTime: StartTime }))
        .name,
    ).toBe('ValidationError');
    // 500 queries are fine.
    await expect(send({ MetricDataQueries: many.slice(0, 500), ...window(1) })).resolves.toBeDefined();
  });

  it('refuses a NextToken of another request', async () => {
    for (const name of ['a', 'b']) account.metrics.put(pod(name), steady(1));
    const first = await send({
      MetricDataQueries: [query('a', 'a'), query('b', 'b')],
      ...window(1),
      MaxDatapoints: 300,
    });
    expect(first.NextToken).toBeDefined();
    const other = await rejection({
      MetricDataQueries: [query('a', 'a')],
      ...window(1),
      NextToken: first.NextToken,
    });
    expect(other.name).toBe('InvalidNextToken');
  });

  it('throttles the calls it is told to, as CloudWatch does (Throttling, HTTP 400), then answers', async () => {
    account.metrics.put(pod('web'), steady(1));
    account.metrics.throttle(2);
    const input = { MetricDataQueries: [query('a', 'web')], ...window(1) };
    for (let attempt = 0; attempt < 2; attempt += 1) {
      expect(await rejection(input)).toMatchObject({
        name: 'Throttling',
        message: 'Rate exceeded',
        $fault: 'client',
      });
    }
    await expect(send(input)).resolves.toMatchObject({ MetricDataResults: [{ Id: 'a' }] });
    expect(account.metrics.throttledCalls).toBe(2);
    expect(account.metrics.answeredCalls).toBe(1);
    expect(account.calls.filter((call) => call.operation === 'GetMetricData')).toHaveLength(3);
  });

  it('gives the same series every time: the noise is a function of the minute', () => {
    expect(jitter(7, 1_700_000_000_000)).toBe(jitter(7, 1_700_000_000_000));
    expect(jitter(7, 1_700_000_000_000)).not.toBe(jitter(8, 1_700_000_000_000));
  });
});
