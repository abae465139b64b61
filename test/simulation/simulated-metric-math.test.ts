import {
  CloudWatchClient,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
  type MetricDataQuery,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALB_NAMESPACE, parseChecks, resolveCheck } from '../../lambdas/canary/checks';
import { readStep, stepQueries } from '../../lambdas/canary/metric-queries';
import { GET_METRIC_DATA_LIMITS, type MetricIdentity, SimulatedMetrics } from '../harness/simulated-metrics';

// Metric math in the simulated GetMetricData (CloudWatch User Guide, "Metric math syntax and functions"): the
// expressions the canary's checks send, evaluated as CloudWatch does, within the API's limits; and a step of
// the canary read end to end through `readStep`.

const MINUTE = 60_000;

let metrics: SimulatedMetrics;
beforeEach(() => {
  metrics = new SimulatedMetrics();
});

/** Ten whole minutes ending two minutes ago; `minute(i)` is the i-th of them (epoch ms). */
const end = Math.floor(Date.now() / MINUTE) * MINUTE - 2 * MINUTE;
const start = end - 10 * MINUTE;
const minute = (index: number) => start + index * MINUTE;
const window = { StartTime: new Date(start), EndTime: new Date(end), ScanBy: 'TimestampAscending' } as const;

const custom = (metricName: string): MetricIdentity => ({
  namespace: 'Shop/Checkout',
  metricName,
  dimensions: { Service: 'checkout' },
});

/** Publishes one sample at each of the given minutes (index → value), nothing at the others. */
function publish(identity: MetricIdentity, values: Record<number, number>): void {
  metrics.put(identity, (at) => values[(at - start) / MINUTE]);
}

const metricQuery = (id: string, metricName: string, returnData = false): MetricDataQuery => ({
  Id: id,
  MetricStat: {
    Metric: {
      Namespace: 'Shop/Checkout',
      MetricName: metricName,
      Dimensions: [{ Name: 'Service', Value: 'checkout' }],
    },
    Period: 60,
    Stat: 'Sum',
  },
  ReturnData: returnData,
});

const expression = (id: string, text: string, extra: Partial<MetricDataQuery> = {}): MetricDataQuery => ({
  Id: id,
  Expression: text,
  ...extra,
});

function answer(queries: MetricDataQuery[], extra: Partial<GetMetricDataCommandInput> = {}) {
  return metrics.getMetricData({ MetricDataQueries: queries, ...window, ...extra });
}

/** A result's datapoints as minute index → value. */
function byMinute(result: MetricDataResult | undefined): Record<number, number | undefined> {
  return Object.fromEntries(
    (result?.Timestamps ?? []).map((at, index) => [(at.getTime() - start) / MINUTE, result?.Values?.[index]]),
  );
}

function rejection(queries: MetricDataQuery[]): Error {
  try {
    answer(queries);
  } catch (error) {
    return error as Error;
  }
  throw new Error('GetMetricData answered');
}

describe('metric math in the simulated GetMetricData', () => {
  it('answers FILL(errors, 0) / requests: 0 for minutes without errors, nothing for minutes without requests', () => {
    // Requests every minute but 3 and 6; errors only at minutes 1, 3 and 5 (ELB publishes only nonzero counts).
    publish(custom('Requests'), { 0: 100, 1: 200, 2: 50, 4: 80, 5: 40, 7: 10, 8: 20, 9: 30 });
    publish(custom('Errors'), { 1: 10, 3: 7, 5: 4 });
    const { MetricDataResults } = answer([
      metricQuery('errors', 'Errors'),
      metricQuery('requests', 'Requests'),
      expression('rate', 'FILL(errors, 0) / requests'),
    ]);
    // The inputs were asked with ReturnData false: only the expression comes back, labelled with its id.
    expect(MetricDataResults?.map((result) => [result.Id, result.Label, result.StatusCode])).toEqual([
      ['rate', 'rate', 'Complete'],
    ]);
    expect(byMinute(MetricDataResults?.[0])).toEqual({
      0: 0,
      1: 0.05,
      2: 0,
      4: 0,
      5: 0.1,
      7: 0,
      8: 0,
      9: 0,
    });
    // Minute 3 (7 / 0) and minute 6 (0 / 0) were dropped, which CloudWatch reports on the result.
    expect(MetricDataResults?.[0]?.Messages).toEqual([
      {
        Code: 'ArithmeticError',
        Value:
          'One or more data-points have been dropped due to non-numeric values (NaN, -Infinite, +Infinite)',
      },
    ]);
  });

  it('drops a/b where b is 0 and counts a value missing from one series as 0', () => {
    publish(custom('A'), { 0: 6, 1: 6, 2: 6, 4: 6 });
    publish(custom('B'), { 0: 3, 1: 0, 2: 2, 3: 5 });
    const { MetricDataResults } = answer([
      metricQuery('a', 'A'),
      metricQuery('b', 'B'),
      expression('quotient', 'a / b'),
      expression('total', 'a + b'),
    ]);
    const [quotient, total] = MetricDataResults ?? [];
    // Minute 1 divides by zero, minute 4 by the missing (0) b; minute 3's missing a counts as 0: 0 / 5.
    expect(byMinute(quotient)).toEqual({ 0: 2, 2: 3, 3: 0 });
    expect(quotient?.Messages?.map((message) => message.Code)).toEqual(['ArithmeticError']);
    expect(byMinute(total)).toEqual({ 0: 9, 1: 6, 2: 8, 3: 5, 4: 6 });
    expect(total?.Messages).toBeUndefined();
    // Minutes neither series has stay empty: 5 to 9.
    expect(total?.Timestamps).toHaveLength(5);
  });

  it('evaluates expressions over other expressions in any order, with precedence, unary minus and ABS', () => {
    publish(custom('A'), { 0: 6, 1: 4 });
    publish(custom('B'), { 0: 2, 1: 8 });
    const { MetricDataResults } = answer([
      // Listed before the expression it reads, which is not returned.
      expression('percent', 'ratio * 100', { Label: 'A per B (%)' }),
      metricQuery('a', 'A'),
      expression('ratio', 'a / b', { ReturnData: false }),
      metricQuery('b', 'B', true),
      expression('mixed', '-(a - b) * 2 + 2 ^ 3 - ABS(b - a) / 2'),
    ]);
    expect(MetricDataResults?.map((result) => [result.Id, result.Label])).toEqual([
      ['percent', 'A per B (%)'],
      ['b', 'B'],
      ['mixed', 'mixed'],
    ]);
    const [percent, b, mixed] = MetricDataResults ?? [];
    expect(byMinute(percent)).toEqual({ 0: 300, 1: 50 });
    expect(byMinute(b)).toEqual({ 0: 2, 1: 8 });
    // Minute 0: -(6 - 2) * 2 + 8 - 4 / 2 = -2; minute 1: -(4 - 8) * 2 + 8 - 4 / 2 = 14.
    expect(byMinute(mixed)).toEqual({ 0: -2, 1: 14 });
  });

  it('refuses an expression giving a number rather than a time series', () => {
    expect(rejection([metricQuery('a', 'A', true), expression('constant', '2 ^ 3 + 1')])).toMatchObject({
      name: 'ValidationError',
      message: expect.stringContaining('Error in expression constant') as unknown,
    });
  });

  it('binds ^ tighter than unary minus, to the right, and fills the whole window at the period', () => {
    publish(custom('A'), { 0: 2, 5: 3 });
    const { MetricDataResults } = answer([
      metricQuery('a', 'A'),
      // -(2 ^ 2) * a + 2 ^ (3 ^ 2)
      expression('power', '-2 ^ 2 * a + 2 ^ 3 ^ 2'),
      expression('scaled', 'FILL(a, -1) * 10', { Period: 60 }),
    ]);
    const [power, scaled] = MetricDataResults ?? [];
    expect(byMinute(power)).toEqual({ 0: 504, 5: 500 });
    expect(byMinute(scaled)).toEqual({
      0: 20,
      1: -10,
      2: -10,
      3: -10,
      4: -10,
      5: 30,
      6: -10,
      7: -10,
      8: -10,
      9: -10,
    });
  });

  it('answers a ValidationError naming the expression for an unknown id, a cycle or a syntax error', () => {
    const invalid: Array<[string, string]> = [
      ['e1', 'a / missing'],
      ['e1', 'e1 + a'],
      ['e1', 'a +'],
      ['e1', '(a * 2'],
      ['e1', 'a b'],
      ['e1', 'FILL(a 0)'],
      ['e1', 'a % 2'],
      ['e1', 'FILL(a)'],
      ['e1', 'FILL(3, 0)'],
    ];
    for (const [id, text] of invalid) {
      const error = rejection([metricQuery('a', 'A'), expression(id, text)]);
      expect({ text, name: error.name }).toEqual({ text, name: 'ValidationError' });
      expect(error.message).toContain(`Error in expression ${id}`);
    }
    expect(rejection([metricQuery('a', 'A'), expression('e1', 'a / missing')]).message).toContain(
      'unknown id "missing"',
    );
    // A cycle through two expressions names the one it was found in.
    expect(
      rejection([metricQuery('a', 'A'), expression('e1', 'e2 + a'), expression('e2', 'e1 * 2')]).message,
    ).toMatch(/^Error in expression e2: circular reference e1 -> e2 -> e1/);
    // Every refusal is in the call log, as CloudWatch's would be in CloudTrail.
    expect(metrics.calls.every((call) => call.error === 'ValidationError')).toBe(true);
  });

  it('refuses a query with both MetricStat and Expression, or an invalid Period', () => {
    const both = { ...metricQuery('a', 'A'), Expression: 'a * 2' };
    expect(rejection([both]).name).toBe('ValidationError');
    expect(rejection([metricQuery('a', 'A'), expression('e1', 'a * 2', { Period: 90 })])).toMatchObject({
      name: 'InvalidParameterValue',
      message: expect.stringContaining('MetricDataQueries.member.2.Period') as unknown,
    });
  });

  it('says so when the expression uses metric math the simulation does not implement', () => {
    for (const text of ['IF(a > 1, a, 0)', 'SUM(METRICS())', 'FILL(a, REPEAT)', 'a > 1 AND a < 3']) {
      const error = rejection([metricQuery('a', 'A'), expression('e1', text)]);
      expect({ text, name: error.name }).toEqual({ text, name: 'InvalidParameterValue' });
      expect(error.message).toContain('The simulated CloudWatch cannot evaluate expression e1');
    }
  });

  it('counts expressions toward the 500 queries and their datapoints toward MaxDatapoints', () => {
    publish(custom('A'), { 0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 7, 7: 8 });
    const inputs = Array.from({ length: 250 }, (_, index) => metricQuery(`m${index}`, 'A'));
    const doubled = (count: number) =>
      Array.from({ length: count }, (_, index) => expression(`e${index}`, `m${index % 250} * 2`));
    expect(answer([...inputs, ...doubled(250)]).MetricDataResults).toHaveLength(250);
    expect(rejection([...inputs, ...doubled(251)])).toMatchObject({
      name: 'ValidationError',
      message: expect.stringContaining(
        `less than or equal to ${GET_METRIC_DATA_LIMITS.maxQueries}`,
      ) as unknown,
    });

    // 8 datapoints of the metric and 8 of its expression, 10 a page: the expression continues on page 2.
    const queries = [metricQuery('a', 'A', true), expression('e1', 'a * 2')];
    const first = answer(queries, { MaxDatapoints: 10 });
    expect(
      first.MetricDataResults?.map((result) => [result.Id, result.Values?.length, result.StatusCode]),
    ).toEqual([
      ['a', 8, 'Complete'],
      ['e1', 2, 'PartialData'],
    ]);
    const second = answer(queries, { MaxDatapoints: 10, NextToken: first.NextToken });
    expect(second.MetricDataResults?.map((result) => [result.Id, result.Values])).toEqual([
      ['e1', [6, 8, 10, 12, 14, 16]],
    ]);
    expect(second.NextToken).toBeUndefined();
    expect(metrics.calls.slice(-2).map((call) => [call.datapoints, call.continued])).toEqual([
      [10, false],
      [6, true],
    ]);
    // An input asked with ReturnData false is not returned and takes no room on the page.
    const hidden = answer([metricQuery('a', 'A'), expression('e1', 'a * 2')], { MaxDatapoints: 10 });
    expect(hidden.MetricDataResults?.map((result) => [result.Id, result.Values?.length])).toEqual([
      ['e1', 8],
    ]);
    expect(hidden.NextToken).toBeUndefined();
  });
});

describe("the canary's step read through metric math", () => {
  const cloudwatch = new CloudWatchClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
  });
  const mock = mockClient(cloudwatch);
  beforeEach(() => {
    mock
      .on(GetMetricDataCommand)
      .callsFake((input: GetMetricDataCommandInput) => metrics.getMetricData(input));
  });
  afterEach(() => mock.reset());

  const alb = {
    loadBalancer: 'app/shop/50dc6c495c0c9188',
    canaryTargetGroup: 'targetgroup/checkout-canary/6d0ecf831eec9f09',
    stableTargetGroup: 'targetgroup/checkout-stable/943f017f100becff',
  };
  const albMetric = (metricName: string, targetGroup: string): MetricIdentity => ({
    namespace: ALB_NAMESPACE,
    metricName,
    dimensions: { LoadBalancer: alb.loadBalancer, TargetGroup: targetGroup },
  });

  it("answers an alb-5xx-rate check and a custom expression check with the canary's own queries", async () => {
    // The canary: errors at minutes 2 and 6, no requests at minute 4. Stable: steady, one error at minute 3.
    publish(albMetric('RequestCount', alb.canaryTargetGroup), { 0: 10, 1: 20, 2: 20, 3: 10, 5: 10, 6: 40 });
    publish(albMetric('HTTPCode_Target_5XX_Count', alb.canaryTargetGroup), { 2: 5, 6: 4 });
    publish(
      albMetric('RequestCount', alb.stableTargetGroup),
      Object.fromEntries(Array.from({ length: 7 }, (_, index) => [index, 100])),
    );
    publish(albMetric('HTTPCode_Target_5XX_Count', alb.stableTargetGroup), { 3: 2 });
    // A custom success rate in percent, over the same metrics, reading its inputs by its own ids.
    const successRate = (targetGroup: string) => ({
      type: 'expression',
      expression: '100 * (requests - FILL(errors, 0)) / requests',
      inputs: {
        requests: {
          namespace: ALB_NAMESPACE,
          metricName: 'RequestCount',
          dimensions: { LoadBalancer: alb.loadBalancer, TargetGroup: targetGroup },
          stat: 'Sum',
        },
        errors: {
          namespace: ALB_NAMESPACE,
          metricName: 'HTTPCode_Target_5XX_Count',
          dimensions: { LoadBalancer: alb.loadBalancer, TargetGroup: targetGroup },
          stat: 'Sum',
        },
      },
    });
    const checks = parseChecks([
      { name: 'errors', template: 'alb-5xx-rate', max: 0.05 },
      {
        name: 'success-rate',
        canary: successRate(alb.canaryTargetGroup),
        stable: successRate(alb.stableTargetGroup),
        min: 99,
      },
    ]).map((check) => resolveCheck(check, alb));
    const window = { start: new Date(start), end: new Date(minute(7)) };

    const read = await readStep(cloudwatch, checks, window);

    expect(read.incomplete).toEqual([]);
    expect(read.pages).toBe(1);
    // Two checks, two sides, each an expression and its two inputs: one call of 12 queries.
    expect(read.queries).toBe(12);
    expect(read.queries).toBe(stepQueries(checks).queries.length);
    expect(metrics.calls.map((call) => [call.queries, call.error])).toEqual([[12, undefined]]);
    expect(read.series).toEqual({
      // Minute 4 had no canary requests: no value, not 0 %.
      errors: { canary: [0, 0, 0.25, 0, 0, 0.1], stable: [0, 0, 0, 0.02, 0, 0, 0] },
      'success-rate': { canary: [100, 100, 75, 100, 100, 90], stable: [100, 100, 100, 98, 100, 100, 100] },
    });
  });
});
