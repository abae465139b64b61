import {
  CloudWatchClient,
  CloudWatchServiceException,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  ListTagsForResourceCommand,
} from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CloudWatchInvalidResponse,
  CloudWatchUnavailable,
  describeAlarm,
  getMetricData,
  MetricQueryLimitExceeded,
  resourceTags,
} from '../../lambdas/aws/cloudwatch';

const cloudwatch = new CloudWatchClient({ region: 'eu-west-1' });
const mock = mockClient(cloudwatch);
afterEach(() => mock.reset());

const query = (id: string) => ({
  Id: id,
  MetricStat: {
    Metric: { Namespace: 'AWS/ApplicationELB', MetricName: 'HTTPCode_Target_5XX_Count' },
    Period: 60,
    Stat: 'Sum',
  },
});
const window = { start: new Date('2026-12-01T10:00:00Z'), end: new Date('2026-12-01T11:00:00Z') };
const at = (minute: number) => new Date(Date.UTC(2026, 11, 1, 10, minute));
const throttled = () =>
  new CloudWatchServiceException({
    name: 'Throttling',
    $fault: 'client',
    $metadata: {},
    message: 'Rate exceeded',
  });

describe('getMetricData', () => {
  it('follows NextToken and merges a series CloudWatch split over pages, oldest first', async () => {
    mock
      .on(GetMetricDataCommand)
      .resolvesOnce({
        MetricDataResults: [
          {
            Id: 'errors',
            Label: '5xx',
            Timestamps: [at(2), at(1)],
            Values: [4, 3],
            StatusCode: 'PartialData',
          },
        ],
        NextToken: 'page-2',
      })
      .resolvesOnce({
        MetricDataResults: [{ Id: 'errors', Timestamps: [at(0)], Values: [1], StatusCode: 'Complete' }],
      });
    const [series, ...rest] = await getMetricData(cloudwatch, { queries: [query('errors')], ...window });
    expect(rest).toEqual([]);
    expect(series?.points.map((point) => point.value)).toEqual([1, 3, 4]);
    expect(series?.label).toBe('5xx');
    // A page that said PartialData makes the whole series partial.
    expect(series?.status).toBe('PartialData');
    const calls = mock.commandCalls(GetMetricDataCommand);
    expect(calls.map((call) => call.args[0].input.NextToken)).toEqual([undefined, 'page-2']);
    expect(calls[0]?.args[0].input.ScanBy).toBe('TimestampAscending');
  });

  it('answers an empty series for a query with no datapoints, so the caller decides what no data means', async () => {
    mock.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    const series = await getMetricData(cloudwatch, { queries: [query('latency')], ...window });
    expect(series).toEqual([{ id: 'latency', points: [], status: 'Complete' }]);
  });

  it('refuses more than 500 queries, or none, before calling CloudWatch', async () => {
    const many = Array.from({ length: 501 }, (_, index) => query(`q${index}`));
    await expect(getMetricData(cloudwatch, { queries: many, ...window })).rejects.toThrow(
      MetricQueryLimitExceeded,
    );
    await expect(getMetricData(cloudwatch, { queries: [], ...window })).rejects.toThrow(/1 to 500 queries/);
    expect(mock.commandCalls(GetMetricDataCommand)).toHaveLength(0);
  });

  it('stops after maxPages rather than paging forever', async () => {
    mock.on(GetMetricDataCommand).resolves({ MetricDataResults: [], NextToken: 'again' });
    await expect(
      getMetricData(cloudwatch, { queries: [query('errors')], ...window, maxPages: 3 }),
    ).rejects.toThrow(/more pages after 3/);
    expect(mock.commandCalls(GetMetricDataCommand)).toHaveLength(3);
  });

  it('names throttling CloudWatchUnavailable and keeps the SDK error as its cause', async () => {
    const error = throttled();
    mock.on(GetMetricDataCommand).rejects(error);
    const failure = await getMetricData(cloudwatch, { queries: [query('errors')], ...window }).catch(
      (caught: unknown) => caught,
    );
    expect(failure).toBeInstanceOf(CloudWatchUnavailable);
    expect((failure as Error).cause).toBe(error);
  });

  it('refuses an answer whose timestamps and values do not pair up, or that names a series nobody asked for', async () => {
    mock
      .on(GetMetricDataCommand)
      .resolvesOnce({ MetricDataResults: [{ Id: 'errors', Timestamps: [at(0), at(1)], Values: [1] }] })
      .resolvesOnce({ MetricDataResults: [{ Id: 'other', Timestamps: [], Values: [] }] });
    await expect(getMetricData(cloudwatch, { queries: [query('errors')], ...window })).rejects.toThrow(
      /2 timestamps but 1 values/,
    );
    const failure = await getMetricData(cloudwatch, { queries: [query('errors')], ...window }).catch(
      (caught: unknown) => caught,
    );
    expect(failure).toBeInstanceOf(CloudWatchInvalidResponse);
    expect((failure as Error).message).toMatch(/series "other" nobody asked for/);
  });
});

describe('describeAlarm', () => {
  it('finds a composite alarm as well as a metric alarm, and says undefined when there is none', async () => {
    mock
      .on(DescribeAlarmsCommand)
      .resolvesOnce({
        MetricAlarms: [],
        CompositeAlarms: [
          { AlarmName: 'checkout-slo', StateValue: 'ALARM', StateReason: 'children in ALARM' },
        ],
      })
      .resolvesOnce({ MetricAlarms: [], CompositeAlarms: [] });
    expect(await describeAlarm(cloudwatch, 'checkout-slo')).toEqual({
      name: 'checkout-slo',
      state: 'ALARM',
      reason: 'children in ALARM',
    });
    expect(await describeAlarm(cloudwatch, 'gone')).toBeUndefined();
  });

  it('refuses a state CloudWatch does not have, naming the field', async () => {
    mock
      .on(DescribeAlarmsCommand)
      .resolves({ MetricAlarms: [{ AlarmName: 'a', StateValue: 'BROKEN' as never }] });
    await expect(describeAlarm(cloudwatch, 'a')).rejects.toThrow(/MetricAlarms\.0\.StateValue/);
  });
});

describe('resourceTags', () => {
  it('answers the tags as a map', async () => {
    mock
      .on(ListTagsForResourceCommand)
      .resolves({ Tags: [{ Key: 'runbooks:rollback-target', Value: 'a/b/c' }] });
    const tags = await resourceTags(cloudwatch, 'arn:aws:cloudwatch:eu-west-1:111122223333:alarm:x');
    expect(tags.get('runbooks:rollback-target')).toBe('a/b/c');
  });
});
