import {
  CloudWatchClient,
  CloudWatchServiceException,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
} from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { CloudWatchUnavailable, MetricDataThrottled } from '../../lambdas/aws/cloudwatch';
import {
  collectDistributions,
  instanceCpuSeries,
  packSeries,
} from '../../lambdas/rightsizing/metric-queries';

const cloudwatch = new CloudWatchClient({ region: 'eu-west-1' });
const mock = mockClient(cloudwatch);
afterEach(() => mock.reset());

const window = { start: new Date('2026-11-17T00:00:00Z'), end: new Date('2026-12-01T00:00:00Z') };
const at = (i: number) => new Date(window.start.getTime() + i * 300_000);
const fault = (name: string, $fault: 'client' | 'server' = 'client') =>
  new CloudWatchServiceException({ name, $fault, $metadata: {}, message: name });

describe('collectDistributions', () => {
  it('reads every batch, follows NextToken, and reduces each series once its call is answered', async () => {
    const requests = ['a', 'b'].map((id) => instanceCpuSeries('rds', id, 300));
    const batches = packSeries(requests, window);
    expect(batches).toHaveLength(1);
    mock
      .on(GetMetricDataCommand)
      .resolvesOnce({
        // CloudWatch splits series "q0" over two pages and marks the first part PartialData.
        MetricDataResults: [
          { Id: 'q0', Timestamps: [at(0), at(1)], Values: [10, 30], StatusCode: 'PartialData' },
        ],
        NextToken: 'page-2',
      })
      .resolvesOnce({
        MetricDataResults: [
          { Id: 'q0', Timestamps: [at(2)], Values: [20], StatusCode: 'Complete' },
          { Id: 'q1', Timestamps: [at(0)], Values: [5], StatusCode: 'Forbidden' },
        ],
      });
    const collected = await collectDistributions(cloudwatch, batches, window);
    expect(collected.calls).toBe(2);
    expect(collected.distributions.get('rds:a#cpu')).toMatchObject({
      statistic: 'Average',
      periodSeconds: 300,
      datapoints: 3,
      p50: 20,
      max: 30,
    });
    // Only a series whose last page was not Complete is incomplete.
    expect([...collected.incomplete]).toEqual([['rds:b#cpu', 'Forbidden']]);
    const sent = mock
      .commandCalls(GetMetricDataCommand)
      .map((call) => call.args[0].input as GetMetricDataCommandInput);
    expect(sent[1]?.NextToken).toBe('page-2');
    expect(sent[0]?.MetricDataQueries?.map((query) => query.Id)).toEqual(['q0', 'q1']);
    expect(sent[0]).toMatchObject({ StartTime: window.start, EndTime: window.end });
  });

  it('leaves a series with no datapoints out (the recommendation says insufficient data)', async () => {
    mock.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'q0', Timestamps: [], Values: [] }] });
    const collected = await collectDistributions(
      cloudwatch,
      packSeries([instanceCpuSeries('ec2', 'i-1', 300)], window),
      window,
    );
    expect(collected.distributions.size).toBe(0);
  });

  it('names throttling MetricDataThrottled, for the workflow to retry with backoff', async () => {
    mock.on(GetMetricDataCommand).rejects(fault('Throttling'));
    const failure = await collectDistributions(
      cloudwatch,
      packSeries([instanceCpuSeries('ec2', 'i-1', 300)], window),
      window,
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(MetricDataThrottled);
    expect((failure as Error).name).toBe('MetricDataThrottled');
  });

  it('names a 5xx CloudWatchUnavailable', async () => {
    mock.on(GetMetricDataCommand).rejects(fault('InternalServiceFault', 'server'));
    await expect(
      collectDistributions(cloudwatch, packSeries([instanceCpuSeries('ec2', 'i-1', 300)], window), window),
    ).rejects.toBeInstanceOf(CloudWatchUnavailable);
  });

  it('stops between batches when told to, and continues from where it stopped', async () => {
    const requests = Array.from({ length: 60 }, (_, i) => instanceCpuSeries('ec2', `i-${i}`, 300));
    const batches = packSeries(requests, window); // 25 + 25 + 10
    mock.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) =>
      Promise.resolve({
        MetricDataResults: (input.MetricDataQueries ?? []).map((query) => ({
          Id: query.Id,
          Timestamps: [at(0)],
          Values: [1],
        })),
      }),
    );
    let allowed = 1;
    const first = await collectDistributions(cloudwatch, batches, window, {
      continueWhile: () => allowed-- > 0,
    });
    expect(first).toMatchObject({ calls: 2, nextBatch: 2 });
    expect(first.distributions.size).toBe(50);
    const rest = await collectDistributions(cloudwatch, batches, window, { fromBatch: first.nextBatch });
    expect(rest.calls).toBe(1);
    expect(rest.nextBatch).toBeUndefined();
    expect(rest.distributions.size).toBe(10);
  });
});
