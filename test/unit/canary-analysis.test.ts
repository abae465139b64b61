import { describe, expect, it } from 'vitest';
import { afterStep, aggregate, judgeCheck, judgeStep, type StepVerdict } from '../../lambdas/canary/analysis';
import {
  albDimension,
  albTemplateSeries,
  parseChecks,
  resolveCheck,
  worseDirection,
  type Check,
  type CheckInput,
} from '../../lambdas/canary/checks';
import { InvalidInput } from '../../lambdas/shared/errors';

// Per-minute series as GetMetricData returns them for a 10-minute step. Values are chosen so the expected
// outcome can be checked by hand; the U test's p-values are worked out in the comments.

const LB = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188';
const CANARY_TG =
  'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/k8s-shop-webcanar-1a2b3c4d5e/73e2d6bc24d8a067';
const STABLE_TG =
  'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/k8s-shop-webstabl-6f7a8b9c0d/943f017f100becff';

/** Parses checks as the configuration will: the defaults applied. */
const checks = (...input: CheckInput[]) => parseChecks(input);
const parseCheck = (input: CheckInput): Check => only(parseChecks([input]));

function only<T>(items: readonly T[] | T | undefined, index = 0): T {
  const item = Array.isArray(items) ? (items[index] as T | undefined) : (items as T | undefined);
  if (item === undefined) throw new Error(`nothing at ${index}`);
  return item;
}
const [errorRate, latency] = checks(
  { name: 'error-rate', template: 'alb-5xx-rate', max: 0.01 },
  { name: 'latency', template: 'alb-p99-latency', max: 0.5 },
);
if (!errorRate || !latency) throw new Error('fixtures');

const stableLatency = [0.101, 0.098, 0.104, 0.099, 0.102, 0.097, 0.103, 0.1, 0.105, 0.096];
/** Twice stable's latency, minute by minute: under a 0.5 s limit, and clearly worse. */
const doubledLatency = stableLatency.map((value) => value * 2);

describe('judgeStep', () => {
  it('passes when every check is within its limits and level with stable', () => {
    const [rate, p99] = checks(
      {
        name: 'error-rate',
        template: 'alb-5xx-rate',
        max: 0.01,
        ratio: { limit: 2, minStable: 0.001 },
        mannWhitney: {},
      },
      { name: 'latency', template: 'alb-p99-latency', max: 0.5, ratio: { limit: 1.5 }, mannWhitney: {} },
    );
    const step = judgeStep(
      [only(rate), only(p99)],
      {
        'error-rate': {
          canary: [0.002, 0.001, 0.003, 0.002, 0.002, 0.001, 0.002, 0.003, 0.002, 0.002],
          stable: [0.002, 0.002, 0.001, 0.003, 0.002, 0.002, 0.002, 0.001, 0.003, 0.002],
        },
        latency: { canary: [...stableLatency].reverse(), stable: stableLatency },
      },
      'fail',
    );
    expect(step.verdict).toBe('pass');
    expect(step.failed).toEqual([]);
    expect(step.noData).toEqual([]);
    expect(step.checks.map((check) => check.status)).toEqual(['passed', 'passed']);
    const latencyJudgement = only(step.checks, 1);
    expect(latencyJudgement.mannWhitney?.pValue).toBe(1); // the same values: U at its mean
    expect(latencyJudgement.ratio?.status).toBe('passed');
    expect(latencyJudgement.reason).toMatch(/^canary mean 0.1005 within max 0.5; /);
  });

  it('fails on the absolute limit, with the value and the limit that decided it', () => {
    const step = judgeStep(
      [errorRate, latency],
      {
        'error-rate': { canary: [0.01, 0.02, 0.03, 0.02], stable: [0, 0, 0, 0] },
        latency: { canary: stableLatency, stable: stableLatency },
      },
      'fail',
    );
    expect(step.verdict).toBe('fail');
    expect(step.failed).toEqual(['error-rate']);
    const check = only(step.checks, 0);
    expect(check.absolute).toEqual({ status: 'failed', aggregate: 'mean', canary: 0.02, max: 0.01 });
    expect(check.reason).toBe('canary mean 0.02 > max 0.01');
    expect(step.reason).toBe('failed: error-rate');
  });

  it('fails a min limit (a success rate) when the canary falls below it', () => {
    const success = parseCheck({
      name: 'success-rate',
      canary: { type: 'metric', metric: { namespace: 'Shop', metricName: 'SuccessRate', stat: 'Average' } },
      stable: { type: 'metric', metric: { namespace: 'Shop', metricName: 'SuccessRate', stat: 'Average' } },
      min: 99,
    });
    const judgement = judgeCheck(success, { canary: [99.5, 98, 97.9], stable: [99.9] });
    expect(judgement.status).toBe('failed');
    expect(judgement.reason).toBe('canary mean 98.47 < min 99');
  });

  describe('a canary 2× worse than stable, under the absolute limit', () => {
    it('passes with the absolute limit alone (what a fixed threshold misses)', () => {
      expect(judgeCheck(latency, { canary: doubledLatency, stable: stableLatency }).status).toBe('passed');
    });

    it('fails on a ratio limit: canary > limit × stable', () => {
      const check = parseCheck({
        name: 'latency',
        template: 'alb-p99-latency',
        max: 0.5,
        ratio: { limit: 1.5 },
      });
      const judgement = judgeCheck(check, { canary: doubledLatency, stable: stableLatency });
      expect(judgement.status).toBe('failed');
      expect(judgement.absolute.status).toBe('passed');
      expect(judgement.ratio).toEqual({
        status: 'failed',
        limit: 1.5,
        minStable: 0,
        canary: expect.closeTo(0.201, 12),
        stable: expect.closeTo(0.1005, 12),
        bound: expect.closeTo(0.15075, 12),
      });
      expect(judgement.reason).toBe('canary mean 0.201 > 1.5 × stable 0.1005 = 0.1507');
    });

    it('fails the U test even where the ratio limit is too loose to notice', () => {
      const check = parseCheck({
        name: 'latency',
        template: 'alb-p99-latency',
        max: 0.5,
        ratio: { limit: 3 },
        mannWhitney: {},
      });
      const judgement = judgeCheck(check, { canary: doubledLatency, stable: stableLatency });
      expect(judgement.absolute.status).toBe('passed');
      expect(judgement.ratio?.status).toBe('passed');
      expect(judgement.status).toBe('failed');
      // 10 against 10, every canary value above every stable one: U = 100, asymptotic (both > 8),
      // z = (100 − 50 − 0.5) / √(10·10·21/12) = 49.5 / 13.2288 = 3.7418, p = 2·(1 − Φ(3.7418)) = 1.827e-4.
      expect(judgement.mannWhitney).toMatchObject({
        status: 'failed',
        alpha: 0.05,
        direction: 'greater',
        canaryWorse: true,
        u: 100,
        method: 'asymptotic',
      });
      expect(judgement.mannWhitney?.z).toBeCloseTo(3.7418, 4);
      expect(judgement.mannWhitney?.pValue).toBeCloseTo(1.827e-4, 6);
      expect(judgement.mannWhitney?.shift).toBeCloseTo(0.1005, 3);
      expect(judgement.reason).toMatch(
        /^canary significantly higher than stable \(Mann-Whitney p = 0.0001827, shift 0.10\d+, 10 vs 10 minutes, p < 0.05\)$/,
      );
    });
  });

  it('does not fail the U test when the canary is significantly better', () => {
    const check = parseCheck({ name: 'latency', template: 'alb-p99-latency', max: 0.5, mannWhitney: {} });
    const judgement = judgeCheck(check, { canary: stableLatency, stable: doubledLatency });
    expect(judgement.status).toBe('passed');
    expect(judgement.mannWhitney).toMatchObject({ status: 'passed', direction: 'less', canaryWorse: false });
    expect(judgement.mannWhitney?.pValue).toBeLessThan(0.001);
    expect(judgement.reason).toMatch(/canary lower than stable \(Mann-Whitney p = 0.0001827/);
  });

  it('fails the U test the other way for a check where lower is worse', () => {
    const check = parseCheck({
      name: 'throughput',
      canary: { type: 'metric', metric: { namespace: 'Shop', metricName: 'Orders', stat: 'Sum' } },
      stable: { type: 'metric', metric: { namespace: 'Shop', metricName: 'Orders', stat: 'Sum' } },
      min: 1,
      mannWhitney: { alpha: 0.01 },
    });
    expect(worseDirection(check)).toBe('lower');
    const judgement = judgeCheck(check, {
      canary: stableLatency.map((v) => v * 100),
      stable: doubledLatency.map((v) => v * 100),
    });
    expect(judgement.status).toBe('failed');
    expect(judgement.mannWhitney).toMatchObject({ direction: 'less', canaryWorse: true, alpha: 0.01 });
  });

  describe('no data', () => {
    const series = {
      'error-rate': { canary: [], stable: [0, 0, 0] },
      latency: { canary: stableLatency, stable: stableLatency },
    };

    it('fails the step under the policy fail (Flagger)', () => {
      const step = judgeStep([errorRate, latency], series, 'fail');
      expect(step.verdict).toBe('fail');
      expect(step.failed).toEqual([]);
      expect(step.noData).toEqual(['error-rate']);
      expect(step.checks[0]).toMatchObject({ status: 'no-data', reason: 'no canary datapoints' });
      expect(step.reason).toBe('no data for error-rate: counted as failed (no-data policy: fail)');
    });

    it('pauses the step under the policy pause (Argo Rollouts: inconclusive)', () => {
      const step = judgeStep([errorRate, latency], series, 'pause');
      expect(step.verdict).toBe('pause');
      expect(step.reason).toBe(
        'no data for error-rate: inconclusive, waiting for a person (no-data policy: pause)',
      );
    });

    it('a check missing from the series has no data', () => {
      expect(judgeStep([errorRate, latency], { latency: series.latency }, 'pause').noData).toEqual([
        'error-rate',
      ]);
    });

    it('a failed check decides the step whatever the policy', () => {
      const step = judgeStep(
        [errorRate, latency],
        {
          'error-rate': { canary: [], stable: [] },
          latency: { canary: [0.9, 0.8], stable: stableLatency },
        },
        'pause',
      );
      expect(step.verdict).toBe('fail');
      expect(step.failed).toEqual(['latency']);
      expect(step.noData).toEqual(['error-rate']);
    });

    it('a comparison needs stable data; an absolute limit alone does not', () => {
      const compared = parseCheck({
        name: 'latency',
        template: 'alb-p99-latency',
        max: 0.5,
        mannWhitney: {},
      });
      const judged = judgeCheck(compared, { canary: stableLatency, stable: [] });
      expect(judged).toMatchObject({ status: 'no-data', reason: 'no stable datapoints to compare with' });
      expect(judged.absolute.status).toBe('passed');
      expect(judgeCheck(latency, { canary: stableLatency, stable: [] }).status).toBe('passed');
    });

    it('an absolute failure is decisive even without stable data to compare with', () => {
      const compared = parseCheck({
        name: 'latency',
        template: 'alb-p99-latency',
        max: 0.5,
        ratio: { limit: 2 },
      });
      const judged = judgeCheck(compared, { canary: [0.7, 0.9], stable: [] });
      expect(judged.status).toBe('failed');
      expect(judged.ratio?.status).toBe('no-data');
    });

    it('drops non-finite values before judging', () => {
      const judged = judgeCheck(latency, { canary: [NaN, Infinity], stable: stableLatency });
      expect(judged).toMatchObject({ status: 'no-data', datapoints: { canary: 0, stable: 10 } });
    });
  });

  describe('ties-heavy error rates (most minutes 0)', () => {
    const rate = parseCheck({ name: 'error-rate', template: 'alb-5xx-rate', max: 0.05, mannWhitney: {} });

    it('fails when the canary errs in half its minutes and stable never', () => {
      // 15 zeros (average rank 8) and five 0.01 (average rank 18): canary rank sum 5·8 + 5·18 = 130,
      // U = 130 − 55 = 75; tie term (15³ − 15) + (5³ − 5) = 3,480; σ = √(100/12 · (21 − 3,480/380)) = 9.93398;
      // z = (75 − 50 − 0.5) / σ = 2.46628; p = 2·(1 − Φ(2.46628)) = 0.013652.
      const judged = judgeCheck(rate, {
        canary: [0, 0.01, 0, 0.01, 0, 0.01, 0, 0.01, 0, 0.01],
        stable: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      });
      expect(judged.absolute.status).toBe('passed'); // mean 0.005 under 0.05
      expect(judged.status).toBe('failed');
      expect(judged.mannWhitney?.u).toBe(75);
      expect(judged.mannWhitney?.method).toBe('asymptotic');
      expect(judged.mannWhitney?.z).toBeCloseTo(2.46628, 5);
      expect(judged.mannWhitney?.pValue).toBeCloseTo(0.013652, 5);
    });

    it('passes when both are all zeros (every value tied: p = 1)', () => {
      const judged = judgeCheck(rate, { canary: Array(10).fill(0), stable: Array(10).fill(0) });
      expect(judged.status).toBe('passed');
      expect(judged.mannWhitney).toMatchObject({ pValue: 1, direction: 'none' });
    });

    it('passes one stray error against a clean stable (p = 0.3681)', () => {
      // U = 55 (one canary value above all ten stable zeros); ties 19 zeros: σ = √(100/12 · (21 − 6,840/380)) =
      // √(25) = 5; z = (55 − 50 − 0.5)/5 = 0.9, p = 2·(1 − Φ(0.9)) = 0.36812.
      const judged = judgeCheck(rate, {
        canary: [0, 0, 0, 0, 0.1, 0, 0, 0, 0, 0],
        stable: Array(10).fill(0),
      });
      expect(judged.status).toBe('passed');
      expect(judged.mannWhitney?.pValue).toBeCloseTo(0.36812, 5);
    });
  });

  describe('small samples', () => {
    const check = parseCheck({ name: 'latency', template: 'alb-p99-latency', max: 0.5, mannWhitney: {} });

    it('3 against 3 minutes cannot reach significance: the smallest exact p is 2/20 = 0.1', () => {
      const judged = judgeCheck(check, { canary: [0.3, 0.31, 0.32], stable: [0.1, 0.11, 0.12] });
      expect(judged.mannWhitney).toMatchObject({
        status: 'passed',
        method: 'exact',
        u: 9,
        canaryWorse: true,
      });
      expect(judged.mannWhitney?.pValue).toBeCloseTo(0.1, 12);
      expect(judged.status).toBe('passed');
    });

    it('4 against 4 minutes can: complete separation gives exact p = 2/70', () => {
      const judged = judgeCheck(check, { canary: [0.3, 0.31, 0.32, 0.33], stable: [0.1, 0.11, 0.12, 0.13] });
      expect(judged.mannWhitney?.method).toBe('exact');
      expect(judged.mannWhitney?.pValue).toBeCloseTo(2 / 70, 12);
      expect(judged.status).toBe('failed');
    });

    it('one minute each is judged (p = 1) rather than refused', () => {
      const judged = judgeCheck(check, { canary: [0.2], stable: [0.1] });
      expect(judged.mannWhitney).toMatchObject({ status: 'passed', pValue: 1, method: 'exact' });
    });
  });

  it('a ratio is not judged while stable is below minStable (one canary error against none)', () => {
    const check = parseCheck({
      name: 'error-rate',
      template: 'alb-5xx-rate',
      max: 0.05,
      ratio: { limit: 2, minStable: 0.001 },
    });
    const judged = judgeCheck(check, { canary: [0, 0, 0.004], stable: [0, 0, 0] });
    expect(judged.ratio?.status).toBe('not-judged');
    expect(judged.status).toBe('passed');
    // With the default minStable 0, a stable without errors makes any canary error fail the ratio.
    const strict = parseCheck({
      name: 'error-rate',
      template: 'alb-5xx-rate',
      max: 0.05,
      ratio: { limit: 2 },
    });
    expect(judgeCheck(strict, { canary: [0, 0, 0.004], stable: [0, 0, 0] }).status).toBe('failed');
  });

  it('aggregates as configured', () => {
    expect(aggregate([1, 5, 3, 2], 'mean')).toBe(2.75);
    expect(aggregate([1, 5, 3, 2], 'median')).toBe(2.5);
    expect(aggregate([1, 5, 3], 'median')).toBe(3);
    expect(aggregate([1, 5, 3], 'max')).toBe(5);
    expect(aggregate([1, 5, 3], 'min')).toBe(1);
    const peak = parseCheck({ name: 'latency', template: 'alb-p99-latency', max: 0.5, aggregate: 'max' });
    expect(judgeCheck(peak, { canary: [0.1, 0.6, 0.1], stable: [] }).reason).toBe('canary max 0.6 > max 0.5');
  });
});

describe('Flagger bookkeeping across steps', () => {
  it('counts failed steps, not failed checks, and aborts when the count reaches the threshold', () => {
    const threshold = 3;
    const verdicts: StepVerdict[] = ['pass', 'fail', 'pass', 'pause', 'fail', 'fail'];
    let failedChecks = 0;
    const actions = verdicts.map((verdict) => {
      const next = afterStep(failedChecks, verdict, threshold);
      failedChecks = next.failedChecks;
      return `${next.action}:${next.failedChecks}`;
    });
    // A pass does not reset the counter (Flagger resets it only for a new canary); a pause counts nothing.
    expect(actions).toEqual(['advance:0', 'retry:1', 'advance:1', 'pause:1', 'retry:2', 'abort:3']);
  });

  it('aborts on the first failure with threshold 1 (Flagger GetAnalysisThreshold: 1 when unset)', () => {
    expect(afterStep(0, 'fail', 1)).toEqual({ failedChecks: 1, action: 'abort' });
  });

  it('refuses impossible arguments', () => {
    expect(() => afterStep(0, 'fail', 0)).toThrow(/threshold must be an integer ≥ 1, not 0/);
    expect(() => afterStep(-1, 'pass', 3)).toThrow(/failedChecks must be an integer ≥ 0/);
  });
});

describe('the check schema', () => {
  const malformed = (input: unknown) => {
    try {
      parseChecks(input);
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidInput);
      return (error as Error).message;
    }
    throw new Error('parsed');
  };

  it('applies the defaults', () => {
    const check = parseCheck({
      name: 'latency',
      template: 'alb-p99-latency',
      max: 0.5,
      ratio: { limit: 2 },
      mannWhitney: {},
    });
    expect(check).toEqual({
      name: 'latency',
      template: 'alb-p99-latency',
      max: 0.5,
      aggregate: 'mean',
      ratio: { limit: 2, minStable: 0 },
      mannWhitney: { alpha: 0.05 },
    });
    expect(worseDirection(check)).toBe('higher');
  });

  it('refuses malformed checks with a message naming the field', () => {
    expect(malformed([{ name: 'latency', template: 'alb-p99-latency' }])).toBe(
      'checks is malformed: 0.max: a check needs an absolute limit: max or min (or both)',
    );
    expect(malformed([{ name: 'x', template: 'alb-p99-latency', max: 1, ratio: { limit: 0 } }])).toMatch(
      /^checks is malformed: 0\.ratio\.limit: Too small: expected number to be >0$/,
    );
    expect(
      malformed([{ name: 'x', template: 'alb-p99-latency', max: 1, mannWhitney: { alpha: 0.5 } }]),
    ).toMatch(/0\.mannWhitney\.alpha: Too big/);
    expect(malformed([{ name: 'x', template: 'alb-p99', max: 1 }])).toMatch(/0\.template: Invalid option/);
    expect(malformed([{ name: 'x', template: 'alb-p99-latency', max: 1, threshold: 2 }])).toMatch(
      /0: Unrecognized key: "threshold"/,
    );
    expect(malformed([{ name: 'x', max: 1 }])).toBe(
      'checks is malformed: 0.canary: is required without a template; 0.stable: is required without a template',
    );
    expect(malformed([{ name: 'x', min: 2, max: 1, template: 'alb-5xx-rate' }])).toBe(
      'checks is malformed: 0.min: is above max (2 > 1)',
    );
    expect(malformed([{ name: 'Latency!', template: 'alb-p99-latency', max: 1 }])).toMatch(
      /0\.name: must be a lowercase name/,
    );
    expect(malformed([])).toBe('checks is malformed: (root): a canary needs at least one check');
    expect(
      malformed([
        { name: 'x', template: 'alb-p99-latency', max: 1 },
        { name: 'x', template: 'alb-5xx-rate', max: 1 },
      ]),
    ).toBe('checks is malformed: 1.name: check "x" is defined twice');
  });

  it('refuses malformed series, naming the field inside them', () => {
    const metric = { namespace: 'Shop', metricName: 'Errors', stat: 'Sum' };
    const base = { name: 'x', max: 1, stable: { type: 'metric', metric } };
    expect(malformed([{ ...base, canary: { type: 'metric', metric: { ...metric, stat: '' } } }])).toMatch(
      /0\.canary\.metric\.stat: Too small/,
    );
    expect(malformed([{ ...base, canary: { type: 'graph', metric } }])).toMatch(
      /0\.canary\.type: Invalid discriminator value\. Expected 'metric' \| 'expression'/,
    );
    expect(
      malformed([
        {
          ...base,
          canary: { type: 'expression', expression: 'errors / requests', inputs: { Errors: metric } },
        },
      ]),
    ).toMatch(/0\.canary\.inputs\.Errors: .*must be a CloudWatch query id/);
    expect(
      malformed([
        {
          ...base,
          canary: { type: 'expression', expression: 'errors / requests', inputs: { errros: metric } },
        },
      ]),
    ).toBe(
      'checks is malformed: 0.canary.inputs.errros: input "errros" is not used by the expression "errors / requests"',
    );
    expect(malformed([{ ...base, canary: { type: 'expression', expression: 'm1', inputs: {} } }])).toMatch(
      /0\.canary\.inputs: an expression needs at least one input metric/,
    );
  });

  it('accepts a custom metric math check and leaves it as written when resolved', () => {
    const side = (service: string) => ({
      type: 'expression' as const,
      expression: '100 * FILL(failed, 0) / total',
      inputs: {
        failed: {
          namespace: 'Shop',
          metricName: 'Checkouts',
          dimensions: { Service: service, Result: 'failed' },
          stat: 'Sum',
        },
        total: { namespace: 'Shop', metricName: 'Checkouts', dimensions: { Service: service }, stat: 'Sum' },
      },
    });
    const check = parseCheck({
      name: 'checkout-failures',
      canary: side('shop-canary'),
      stable: side('shop'),
      max: 1,
    });
    expect(resolveCheck(check).canary).toEqual(side('shop-canary'));
  });
});

describe('ALB templates', () => {
  const targets = { loadBalancer: LB, canaryTargetGroup: CANARY_TG, stableTargetGroup: STABLE_TG };

  it('reads the 5xx rate per target group, with both dimensions', () => {
    const resolved = resolveCheck(errorRate, targets);
    const dimensions = (targetGroup: string) => ({
      TargetGroup: targetGroup,
      LoadBalancer: 'app/web/50dc6c495c0c9188',
    });
    expect(resolved.canary).toEqual({
      type: 'expression',
      expression: 'FILL(errors, 0) / requests',
      inputs: {
        errors: {
          namespace: 'AWS/ApplicationELB',
          metricName: 'HTTPCode_Target_5XX_Count',
          dimensions: dimensions('targetgroup/k8s-shop-webcanar-1a2b3c4d5e/73e2d6bc24d8a067'),
          stat: 'Sum',
        },
        requests: {
          namespace: 'AWS/ApplicationELB',
          metricName: 'RequestCount',
          dimensions: dimensions('targetgroup/k8s-shop-webcanar-1a2b3c4d5e/73e2d6bc24d8a067'),
          stat: 'Sum',
        },
      },
    });
    expect(resolved.stable.type === 'expression' && resolved.stable.inputs.requests?.dimensions).toEqual(
      dimensions('targetgroup/k8s-shop-webstabl-6f7a8b9c0d/943f017f100becff'),
    );
  });

  it('reads the p99 TargetResponseTime per target group', () => {
    expect(resolveCheck(latency, targets).stable).toEqual({
      type: 'metric',
      metric: {
        namespace: 'AWS/ApplicationELB',
        metricName: 'TargetResponseTime',
        dimensions: {
          TargetGroup: 'targetgroup/k8s-shop-webstabl-6f7a8b9c0d/943f017f100becff',
          LoadBalancer: 'app/web/50dc6c495c0c9188',
        },
        stat: 'p99',
      },
    });
  });

  it('the series a template produces pass the schema', () => {
    const series = albTemplateSeries('alb-5xx-rate', LB, CANARY_TG);
    expect(() => checks({ name: 'copy', canary: series, stable: series, max: 1 })).not.toThrow();
  });

  it('derives dimension values from ARNs, and refuses anything else', () => {
    expect(albDimension(LB)).toBe('app/web/50dc6c495c0c9188');
    expect(albDimension('targetgroup/web/943f017f100becff')).toBe('targetgroup/web/943f017f100becff');
    expect(() => albDimension('arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/net/nlb/1')).toThrow(
      /neither/,
    );
  });

  it('needs the ALB router', () => {
    expect(() => resolveCheck(errorRate)).toThrow(
      'check "error-rate" uses template alb-5xx-rate, which needs the ALB router',
    );
  });
});
