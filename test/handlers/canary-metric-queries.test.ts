import {
  CloudWatchClient,
  CloudWatchServiceException,
  GetMetricDataCommand,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CloudWatchUnavailable,
  MetricDataThrottled,
  MetricQueryLimitExceeded,
} from '../../lambdas/aws/cloudwatch';
import { judgeStep } from '../../lambdas/canary/analysis';
import { parseChecks, resolveCheck, type ResolvedCheck } from '../../lambdas/canary/checks';
import { readStep } from '../../lambdas/canary/metric-queries';

const cloudwatch = new CloudWatchClient({ region: 'eu-west-1' });
const mock = mockClient(cloudwatch);
afterEach(() => mock.reset());

const targets = {
  loadBalancer: 'app/web/50dc6c495c0c9188',
  canaryTargetGroup: 'targetgroup/k8s-shop-webcanar-1a2b3c4d5e/73e2d6bc24d8a067',
  stableTargetGroup: 'targetgroup/k8s-shop-webstabl-6f7a8b9c0d/943f017f100becff',
};
const checks: ResolvedCheck[] = parseChecks([
  { name: 'error-rate', template: 'alb-5xx-rate', max: 0.01 },
  { name: 'latency', template: 'alb-p99-latency', max: 0.5, ratio: { limit: 1.5 } },
]).map((check) => resolveCheck(check, targets));

const window = { start: new Date('2026-12-01T10:00:00Z'), end: new Date('2026-12-01T10:05:00Z') };
const at = (minute: number) => new Date(window.start.getTime() + minute * 60_000);
const result = (
  Id: string,
  points: Array<[minute: number, value: number]>,
  StatusCode: MetricDataResult['StatusCode'] = 'Complete',
): MetricDataResult => ({
  Id,
  Timestamps: points.map(([minute]) => at(minute)),
  Values: points.map(([, value]) => value),
  StatusCode,
});
const fault = (name: string, $fault: 'client' | 'server' = 'client') =>
  new CloudWatchServiceException({ name, $fault, $metadata: {}, message: name });

describe('readStep', () => {
  it('reads all checks of a step in one request, follows NextToken, and maps the answer back in time order', async () => {
    mock
      .on(GetMetricDataCommand)
      .resolvesOnce({
        MetricDataResults: [
          // CloudWatch splits a series over pages, marking the first part PartialData; order within a page
          // is not guaranteed either.
          result(
            'c0_error_rate_canary',
            [
              [2, 0.003],
              [0, 0.001],
              [1, 0.002],
            ],
            'PartialData',
          ),
          result('c0_error_rate_stable', [
            [0, 0.001],
            [1, 0.001],
            [2, 0.001],
            [3, 0.001],
            [4, 0.001],
          ]),
          result(
            'c1_latency_canary',
            [
              [0, 0.2],
              [1, 0.21],
            ],
            'PartialData',
          ),
        ],
        NextToken: 'page-2',
      })
      .resolvesOnce({
        MetricDataResults: [
          result('c0_error_rate_canary', [
            [4, 0.005],
            [3, 0.004],
          ]),
          result('c1_latency_canary', [
            [2, 0.22],
            [3, 0.23],
            [4, 0.24],
          ]),
          result('c1_latency_stable', [
            [4, 0.14],
            [0, 0.1],
            [1, 0.11],
            [2, 0.12],
            [3, 0.13],
          ]),
        ],
      });

    const read = await readStep(cloudwatch, checks, window);

    expect(read.series).toEqual({
      'error-rate': {
        canary: [0.001, 0.002, 0.003, 0.004, 0.005],
        stable: [0.001, 0.001, 0.001, 0.001, 0.001],
      },
      latency: { canary: [0.2, 0.21, 0.22, 0.23, 0.24], stable: [0.1, 0.11, 0.12, 0.13, 0.14] },
    });
    expect(read.incomplete).toEqual([]);
    expect(read).toMatchObject({ pages: 2, queries: 8 });

    const calls = mock.commandCalls(GetMetricDataCommand);
    expect(calls.map((call) => call.args[0].input.NextToken)).toEqual([undefined, 'page-2']);
    // The same request on both pages: every check, one call.
    const [first, second] = calls.map((call) => call.args[0].input);
    expect(first?.MetricDataQueries).toHaveLength(8);
    expect(second?.MetricDataQueries).toEqual(first?.MetricDataQueries);
    expect(first).toMatchObject({
      StartTime: window.start,
      EndTime: window.end,
      ScanBy: 'TimestampAscending',
    });

    // Ready for judgeStep: latency 0.22 mean against 1.5 × 0.12 = 0.18 fails the ratio.
    const judged = judgeStep(checks, read.series, 'fail');
    expect(judged.verdict).toBe('fail');
    expect(judged.failed).toEqual(['latency']);
  });

  it('maps the values back to checks named with any text', async () => {
    const named = ['p99 latency (ms)', '延迟'].map((name): ResolvedCheck => ({
      ...(checks[1] as ResolvedCheck),
      name,
    }));
    mock.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        result('c0_p99_latency_ms_canary', [[0, 1]]),
        result('c0_p99_latency_ms_stable', [[0, 2]]),
        result('c1_canary', [[0, 3]]),
        result('c1_stable', [[0, 4]]),
      ],
    });
    const read = await readStep(cloudwatch, named, window);
    expect(read.series).toEqual({
      'p99 latency (ms)': { canary: [1], stable: [2] },
      延迟: { canary: [3], stable: [4] },
    });
  });

  it('answers empty series for a check without datapoints: judgeStep applies the no-data policy', async () => {
    mock.on(GetMetricDataCommand).resolves({
      MetricDataResults: [result('c1_latency_canary', [[0, 0.2]]), result('c1_latency_stable', [[0, 0.2]])],
    });
    const read = await readStep(cloudwatch, checks, window);
    expect(read.series['error-rate']).toEqual({ canary: [], stable: [] });
    expect(judgeStep(checks, read.series, 'pause')).toMatchObject({
      verdict: 'pause',
      noData: ['error-rate'],
    });
  });

  it('reports Forbidden, InternalError and a last page PartialData, never judging those checks on them', async () => {
    mock
      .on(GetMetricDataCommand)
      .resolvesOnce({
        MetricDataResults: [
          // InternalError on an early page stands, even if a later page says Complete.
          result('c0_error_rate_canary', [[0, 0.001]], 'InternalError'),
          result('c0_error_rate_stable', [[0, 0.001]]),
          result('c1_latency_canary', [], 'Forbidden'),
        ],
        NextToken: 'page-2',
      })
      .resolvesOnce({
        MetricDataResults: [
          result('c0_error_rate_canary', [[1, 0.001]]),
          // Still partial on the last page: CloudWatch did not give the rest.
          result(
            'c1_latency_stable',
            [
              [0, 0.1],
              [1, 0.1],
            ],
            'PartialData',
          ),
        ],
      });
    const read = await readStep(cloudwatch, checks, window);
    expect(read.incomplete).toEqual([
      { check: 'error-rate', side: 'canary', status: 'InternalError', datapoints: 2 },
      { check: 'latency', side: 'canary', status: 'Forbidden', datapoints: 0 },
      { check: 'latency', side: 'stable', status: 'PartialData', datapoints: 2 },
    ]);
    // Not silently data: the checks are left out, so judgeStep sees no data and the policy decides.
    expect(read.series).toEqual({});
    expect(judgeStep(checks, read.series, 'fail')).toMatchObject({
      verdict: 'fail',
      noData: ['error-rate', 'latency'],
    });
  });

  it('names throttling MetricDataThrottled and other transient faults CloudWatchUnavailable', async () => {
    const throttling = fault('ThrottlingException');
    mock.on(GetMetricDataCommand).rejects(throttling);
    const failure = await readStep(cloudwatch, checks, window).catch((caught: unknown) => caught);
    expect(failure).toBeInstanceOf(MetricDataThrottled);
    expect((failure as Error).name).toBe('MetricDataThrottled');
    expect((failure as Error).cause).toBe(throttling);

    mock.reset();
    mock.on(GetMetricDataCommand).rejects(fault('InternalServiceFault', 'server'));
    await expect(readStep(cloudwatch, checks, window)).rejects.toThrow(CloudWatchUnavailable);
  });

  it('refuses a step beyond 500 queries before calling CloudWatch', async () => {
    const many = Array.from({ length: 126 }, (_, index): ResolvedCheck => ({
      ...(checks[0] as ResolvedCheck),
      name: `rate ${index}`,
    }));
    await expect(readStep(cloudwatch, many, { ...window, step: 'step 3 (50 %)' })).rejects.toThrow(
      MetricQueryLimitExceeded,
    );
    await expect(readStep(cloudwatch, many, { ...window, step: 'step 3 (50 %)' })).rejects.toThrow(
      /^step 3 \(50 %\): its 126 checks need 756/,
    );
    expect(mock.commandCalls(GetMetricDataCommand)).toHaveLength(0);
  });

  it('refuses a window that ends before it starts', async () => {
    await expect(readStep(cloudwatch, checks, { start: window.end, end: window.start })).rejects.toThrow(
      /must end after it starts/,
    );
  });
});
