import type { MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { describe, expect, it } from 'vitest';
import { MetricQueryLimitExceeded } from '../../lambdas/aws/cloudwatch';
import {
  type MetricStat,
  parseChecks,
  resolveCheck,
  type ResolvedCheck,
  type Series,
} from '../../lambdas/canary/checks';
import { rewriteExpression, stepQueries } from '../../lambdas/canary/metric-queries';
import { InvalidInput } from '../../lambdas/shared/errors';

const LB = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188';
const CANARY_TG =
  'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/k8s-shop-webcanar-1a2b3c4d5e/73e2d6bc24d8a067';
const STABLE_TG =
  'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/k8s-shop-webstabl-6f7a8b9c0d/943f017f100becff';
const targets = { loadBalancer: LB, canaryTargetGroup: CANARY_TG, stableTargetGroup: STABLE_TG };

const albChecks = (): ResolvedCheck[] =>
  parseChecks([
    { name: 'error-rate', template: 'alb-5xx-rate', max: 0.01 },
    { name: 'latency', template: 'alb-p99-latency', max: 0.5 },
  ]).map((check) => resolveCheck(check, targets));

const stat = (metricName: string, service: string): MetricStat => ({
  namespace: 'Shop',
  metricName,
  dimensions: { Service: service },
  stat: 'Average',
});
const metric = (metricName: string, service: string): Series => ({
  type: 'metric',
  metric: stat(metricName, service),
});

/** A written-out check, its name as given: names are text for people, whatever the config schema allows. */
const custom = (name: string, canary: Series = metric('Latency', 'canary')): ResolvedCheck => ({
  name,
  max: 1,
  aggregate: 'mean',
  canary,
  stable: metric('Latency', 'stable'),
});

const ids = (queries: MetricDataQuery[]) => queries.map((query) => query.Id ?? '');
const returnedIds = (queries: MetricDataQuery[]) =>
  queries.filter((query) => query.ReturnData !== false).map((query) => query.Id);

describe('stepQueries', () => {
  it('gives every query a unique, valid id whatever the check names', () => {
    const hostile = [
      'error rate',
      'error-rate',
      'error_rate',
      'ERROR RATE',
      '5xx',
      '9 lives',
      'délai p99',
      '延迟',
      '🔥',
      '',
      ' ',
      '-',
      'a'.repeat(300),
      'a'.repeat(301),
      "'; DROP TABLE checks; --",
      'c0_error_rate_canary',
    ];
    const { queries, returned } = stepQueries(hostile.map((name) => custom(name)));
    expect(queries).toHaveLength(hostile.length * 2);
    for (const id of ids(queries)) {
      expect(id).toMatch(/^[a-z][a-zA-Z0-9_]*$/);
      expect(id.length).toBeLessThanOrEqual(255);
    }
    expect(new Set(ids(queries)).size).toBe(queries.length);
    // Each id maps back to its check's name exactly as given.
    expect(new Set([...returned.values()].map((entry) => entry.check))).toEqual(new Set(hostile));
    expect(returned.get('c1_error_rate_canary')).toEqual({ check: 'error-rate', side: 'canary' });
    expect(returned.get('c7_stable')).toEqual({ check: '延迟', side: 'stable' });
  });

  it('labels each returned series with its check and side, never putting the name into the id raw', () => {
    const { queries } = stepQueries([custom('p99 latency (ms)')]);
    expect(queries.map((query) => [query.Id, query.Label])).toEqual([
      ['c0_p99_latency_ms_canary', 'p99 latency (ms) canary'],
      ['c0_p99_latency_ms_stable', 'p99 latency (ms) stable'],
    ]);
  });

  it('refuses two checks with the same name, whose values could not be told apart', () => {
    expect(() => stepQueries([custom('latency'), custom('latency')])).toThrow(InvalidInput);
    expect(() => stepQueries([custom('latency'), custom('latency')])).toThrow(/two checks named "latency"/);
  });

  it('reads the ALB templates per target group: dimensions TargetGroup and LoadBalancer, Sum and p99', () => {
    const { queries } = stepQueries(albChecks());
    const lb = { Name: 'LoadBalancer', Value: 'app/web/50dc6c495c0c9188' };
    const tg = (side: 'canary' | 'stable') => ({
      Name: 'TargetGroup',
      Value:
        side === 'canary'
          ? 'targetgroup/k8s-shop-webcanar-1a2b3c4d5e/73e2d6bc24d8a067'
          : 'targetgroup/k8s-shop-webstabl-6f7a8b9c0d/943f017f100becff',
    });
    const stat = (side: 'canary' | 'stable', MetricName: string, Stat: string) => ({
      Metric: { Namespace: 'AWS/ApplicationELB', MetricName, Dimensions: [tg(side), lb] },
      Period: 60,
      Stat,
    });
    expect(queries).toEqual([
      {
        Id: 'c0_error_rate_canary_0_errors',
        MetricStat: stat('canary', 'HTTPCode_Target_5XX_Count', 'Sum'),
        ReturnData: false,
      },
      {
        Id: 'c0_error_rate_canary_1_requests',
        MetricStat: stat('canary', 'RequestCount', 'Sum'),
        ReturnData: false,
      },
      {
        Id: 'c0_error_rate_canary',
        Label: 'error-rate canary',
        Expression: 'FILL(c0_error_rate_canary_0_errors, 0) / c0_error_rate_canary_1_requests',
        ReturnData: true,
      },
      {
        Id: 'c0_error_rate_stable_0_errors',
        MetricStat: stat('stable', 'HTTPCode_Target_5XX_Count', 'Sum'),
        ReturnData: false,
      },
      {
        Id: 'c0_error_rate_stable_1_requests',
        MetricStat: stat('stable', 'RequestCount', 'Sum'),
        ReturnData: false,
      },
      {
        Id: 'c0_error_rate_stable',
        Label: 'error-rate stable',
        Expression: 'FILL(c0_error_rate_stable_0_errors, 0) / c0_error_rate_stable_1_requests',
        ReturnData: true,
      },
      {
        Id: 'c1_latency_canary',
        Label: 'latency canary',
        MetricStat: stat('canary', 'TargetResponseTime', 'p99'),
        ReturnData: true,
      },
      {
        Id: 'c1_latency_stable',
        Label: 'latency stable',
        MetricStat: stat('stable', 'TargetResponseTime', 'p99'),
        ReturnData: true,
      },
    ]);
  });

  it('hides expression inputs and returns only each check’s canary and stable series', () => {
    const { queries, returned } = stepQueries(albChecks());
    expect(returnedIds(queries)).toEqual([
      'c0_error_rate_canary',
      'c0_error_rate_stable',
      'c1_latency_canary',
      'c1_latency_stable',
    ]);
    expect([...returned.keys()]).toEqual(returnedIds(queries));
    // Two checks with the same input ids keep them apart.
    const both = stepQueries([
      ...albChecks(),
      { ...(albChecks()[0] as ResolvedCheck), name: 'error-rate-2' },
    ]);
    expect(new Set(ids(both.queries)).size).toBe(both.queries.length);
  });

  it('uses the period asked for on every metric', () => {
    const { queries } = stepQueries(albChecks(), { periodSeconds: 300 });
    const periods = queries.filter((query) => query.MetricStat).map((query) => query.MetricStat?.Period);
    expect(periods).toEqual([300, 300, 300, 300, 300, 300]);
    expect(() => stepQueries(albChecks(), { periodSeconds: 90 })).toThrow(/multiple of 60/);
  });

  it('refuses more than 500 queries in one step with MetricQueryLimitExceeded naming the step', () => {
    // 250 metric checks: 500 queries, the limit, accepted.
    const many = Array.from({ length: 250 }, (_, index) => custom(`check ${index}`));
    expect(stepQueries(many).queries).toHaveLength(500);
    // One more expression check: 2 × 2 inputs + 2 expressions = 6 queries over.
    const over = [...many, { ...(albChecks()[0] as ResolvedCheck), name: 'error-rate' }];
    const failure = (() => {
      try {
        stepQueries(over, { step: 'step 2 (20 %)' });
      } catch (error) {
        return error;
      }
    })();
    expect(failure).toBeInstanceOf(MetricQueryLimitExceeded);
    expect((failure as Error).name).toBe('MetricQueryLimitExceeded');
    expect((failure as Error).message).toMatch(
      /^step 2 \(20 %\): its 251 checks need 506 GetMetricData queries/,
    );
    expect((failure as Error).message).toMatch(/"error-rate" 6/);
  });
});

describe('rewriteExpression', () => {
  const renamed = new Map([
    ['errors', 'c0_x_canary_0_errors'],
    ['requests', 'c0_x_canary_1_requests'],
  ]);

  it('renames the inputs, leaving functions, keywords, numbers and strings alone', () => {
    expect(
      rewriteExpression('IF(requests > 1e3, 100 * FILL(errors, REPEAT) / requests, 0.5)', renamed, 'x'),
    ).toBe(
      'IF(c0_x_canary_1_requests > 1e3, 100 * FILL(c0_x_canary_0_errors, REPEAT) / c0_x_canary_1_requests, 0.5)',
    );
    expect(
      rewriteExpression(`SUM(SEARCH('{Shop,Service} errors', 'Sum', 60)) / requests`, renamed, 'x'),
    ).toBe(`SUM(SEARCH('{Shop,Service} errors', 'Sum', 60)) / c0_x_canary_1_requests`);
  });

  it('refuses an id that is not an input, and METRICS(), which would read the other checks', () => {
    expect(() => rewriteExpression('errors / c1_latency_canary', renamed, 'check "x" canary')).toThrow(
      /check "x" canary: .* refers to "c1_latency_canary", which is not one of its inputs/,
    );
    expect(() => rewriteExpression('SUM(METRICS())', renamed, 'x')).toThrow(InvalidInput);
  });

  it('is applied to written-out expressions in stepQueries', () => {
    const canary: Series = {
      type: 'expression',
      expression: 'errors / requests',
      inputs: { errors: stat('Errors', 'canary'), requests: stat('Requests', 'canary') },
    };
    const { queries } = stepQueries([custom('Error %', canary)]);
    expect(queries.find((query) => query.Id === 'c0_error_canary')?.Expression).toBe(
      'c0_error_canary_0_errors / c0_error_canary_1_requests',
    );
  });
});
