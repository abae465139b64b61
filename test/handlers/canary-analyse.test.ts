// One canary analysis, `analyseStep`, with the real CanaryLock on dynalite (where an alarm or a person asks for
// the abort) and CloudWatch's GetMetricData simulated with metric math (test/harness/simulated-metrics.ts). What
// the workflow test cannot show: the exact window read, the action for each position in the plan, the lock's
// answers honoured before any metric is read, and the check outcomes Slack and the CLI show.
import {
  CloudWatchClient,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
} from '@aws-sdk/client-cloudwatch';
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CheckInput } from '../../lambdas/canary/checks';
import { analyseStep } from '../../lambdas/canary/analyse';
import { InvalidCanaryRun, type CanaryRun } from '../../lambdas/canary/run';
import { CanaryLock } from '../../lambdas/workload-lock/canary-lock';
import type { CanaryServiceInput } from '../../lib/config/canary';
import { startLockTable } from '../harness/lock-table';
import { SimulatedMetrics, type MetricIdentity } from '../harness/simulated-metrics';
import { acquireRequest, canaryRun, RUN_A, RUN_B, WORKLOAD } from './canary-fixtures';

const TABLE = 'locks';
const MINUTE = 60_000;
/** A whole minute, a little in the past: the analyses below happen just after it. */
const T0 = Math.floor(Date.now() / MINUTE) * MINUTE - 30 * MINUTE;
const at = (ms: number) => new Date(T0 + ms);
const iso = (ms: number) => at(ms).toISOString();

const appMetric = (metricName: string, version: 'canary' | 'stable'): MetricIdentity => ({
  namespace: 'Shop',
  metricName,
  dimensions: { Service: 'web', Version: version },
});
const series = (identity: MetricIdentity, stat = 'Average') => ({
  type: 'metric' as const,
  metric: { ...identity, stat },
});
const errorRate: CheckInput = {
  name: 'error-rate',
  canary: series(appMetric('ErrorRate', 'canary')),
  stable: series(appMetric('ErrorRate', 'stable')),
  max: 0.05,
  ratio: { limit: 2, minStable: 0.001 },
};

const LOAD_BALANCER =
  'arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/k8s-shop-web-1a2b3c/50dc6c495c0c9188';
const CANARY_TG =
  'arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/k8s-shop-webcanar-1a2b3c4d5e/73e2d6bc24d8a067';
const STABLE_TG =
  'arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/k8s-shop-webstabl-6f7a8b9c0d/943f017f100becff';
const albMetric = (metricName: string, targetGroup: string): MetricIdentity => ({
  namespace: 'AWS/ApplicationELB',
  metricName,
  dimensions: {
    LoadBalancer: 'app/k8s-shop-web-1a2b3c/50dc6c495c0c9188',
    TargetGroup: targetGroup.slice(targetGroup.indexOf('targetgroup/')),
  },
});

/** The run at step 2 of 4 (20 %), its weight set a minute and a quarter after T0. */
const runAt = (fields: Partial<CanaryRun> = {}, service: Partial<CanaryServiceInput> = {}): CanaryRun =>
  canaryRun(
    {
      requestedAt: iso(0),
      startedAt: iso(0),
      stepIndex: 1,
      weight: 20,
      weightSetAt: iso(75_000),
      ...fields,
    },
    { checks: [errorRate], ...service },
  );

describe('analyseStep', () => {
  let table: Awaited<ReturnType<typeof startLockTable>>;
  let lock: CanaryLock;
  const metrics = new SimulatedMetrics();
  const cloudwatch = new CloudWatchClient({ region: 'eu-west-1' });
  const cloudwatchMock = mockClient(cloudwatch);
  /** The GetMetricData requests made, as sent. */
  const sent: GetMetricDataCommandInput[] = [];

  /** Analyses `run` at T0 + `nowMs`, with the router's last observation when given. */
  const analyse = (run: CanaryRun, nowMs: number, traffic?: unknown) =>
    analyseStep(
      { run, ...(traffic !== undefined && { traffic }) },
      { lock, cloudwatch, now: () => at(nowMs) },
    );
  const acquire = (executionArn: string) =>
    lock.acquire(
      acquireRequest(executionArn, {
        eventId: `event-${executionArn}`,
        holderIsRunning: () => Promise.resolve(false),
      }),
    );
  const publishErrorRate = (canary: number, stable: number) => {
    metrics.put(appMetric('ErrorRate', 'canary'), () => canary);
    metrics.put(appMetric('ErrorRate', 'stable'), () => stable);
  };

  beforeAll(async () => {
    table = await startLockTable(TABLE);
    lock = new CanaryLock(table.dynamodb, TABLE);
  });
  afterAll(async () => {
    cloudwatchMock.restore();
    await table.close();
  });
  beforeEach(async () => {
    metrics.reset();
    sent.length = 0;
    cloudwatchMock.reset();
    cloudwatchMock.on(GetMetricDataCommand).callsFake(async (input: GetMetricDataCommandInput) => {
      sent.push(input);
      return metrics.getMetricData(input);
    });
    await table.dynamodb.send(
      new DeleteItemCommand({ TableName: TABLE, Key: { workload: { S: WORKLOAD } } }),
    );
    await acquire(RUN_A);
  });
  afterEach(() => cloudwatchMock.reset());

  describe('the lock, read first', () => {
    it('an abort asked on the lock: abort with its reason and who asked, no metric read', async () => {
      publishErrorRate(0.01, 0.01);
      const previous = runAt({ analysis: (await analyse(runAt(), 6 * MINUTE + 10_000)).analysis });
      sent.length = 0;
      await lock.requestAbort(WORKLOAD, {
        reason: 'alarm "web-5xx-rate" fired',
        by: 'rollback run r-1',
        at: new Date(),
      });

      const { analysis, failures } = await analyse(previous, 11 * MINUTE);

      expect(analysis).toMatchObject({
        action: 'abort',
        summary: 'step 2 of 4 (20 %): abort requested by rollback run r-1: alarm "web-5xx-rate" fired',
        abortRequested: { reason: 'alarm "web-5xx-rate" fired', by: 'rollback run r-1' },
        at: iso(11 * MINUTE),
        window: { start: iso(11 * MINUTE), end: iso(11 * MINUTE) },
        metricRequests: 0,
      });
      // The last checks stay what Slack and the CLI show.
      expect(analysis?.checks).toEqual(previous.analysis?.checks);
      expect(failures).toBe(0);
      expect(sent).toEqual([]);
    });

    it('the lock held by another run: abort, this run stops acting, no metric read', async () => {
      await lock.release(WORKLOAD, RUN_A);
      await acquire(RUN_B);

      const { analysis } = await analyse(runAt(), 6 * MINUTE);

      expect(analysis?.action).toBe('abort');
      expect(analysis?.summary).toBe(
        `step 2 of 4 (20 %): this run no longer holds the lock of ${WORKLOAD} (held by ${RUN_B}): it stops acting`,
      );
      expect(analysis?.abortRequested).toBeUndefined();
      expect(sent).toEqual([]);
    });

    it('the lock held by nobody: abort', async () => {
      await lock.release(WORKLOAD, RUN_A);
      const { analysis } = await analyse(runAt(), 6 * MINUTE);
      expect(analysis?.action).toBe('abort');
      expect(analysis?.summary).toContain('(held by nobody)');
      expect(sent).toEqual([]);
    });
  });

  describe('the window', () => {
    it('whole minutes from the minute after the shift to the last whole minute', async () => {
      publishErrorRate(0.01, 0.01);
      // Weight set at T0 + 1m15s, analysed at T0 + 4m40s: minutes 2 and 3 are whole on both sides.
      const { analysis } = await analyse(runAt(), 4 * MINUTE + 40_000);

      expect(analysis?.window).toEqual({ start: iso(2 * MINUTE), end: iso(4 * MINUTE) });
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatchObject({ StartTime: at(2 * MINUTE), EndTime: at(4 * MINUTE) });
      expect(analysis?.metricRequests).toBe(1);
    });

    it('one interval from the first whole minute after the shift, however long the step has held its weight', async () => {
      publishErrorRate(0.01, 0.01);
      const { analysis } = await analyse(runAt(), 20 * MINUTE + 5_000);
      expect(analysis?.window).toEqual({ start: iso(2 * MINUTE), end: iso(7 * MINUTE) });
      // A retry of the step: the next interval, after the window it judged, a minute more for CloudWatch.
      expect(analysis?.nextAnalyseAt).toBe(iso(13 * MINUTE));
    });

    it('a retry of the same step reads the interval after the last window; a new step starts where observe saw it applied', async () => {
      publishErrorRate(0.01, 0.01);
      const first = await analyse(runAt(), 8 * MINUTE);
      const retry = await analyse({ ...first, failures: 1 }, 13 * MINUTE);
      expect(retry.analysis?.window).toEqual({ start: iso(7 * MINUTE), end: iso(12 * MINUTE) });
      const nextStep = await analyse({ ...first, stepIndex: 2, weight: 50 }, 20 * MINUTE, {
        windowStart: iso(14 * MINUTE),
      });
      expect(nextStep.analysis?.window).toEqual({ start: iso(14 * MINUTE), end: iso(19 * MINUTE) });
    });

    it('at 100 % stable serves nothing: the comparisons are left out and the absolute limits decide', async () => {
      // Stable publishes nothing; the canary is within max but far above any stable ratio.
      metrics.put(appMetric('ErrorRate', 'canary'), () => 0.01);
      const last = await analyse(runAt({ stepIndex: 3, weight: 100 }), 8 * MINUTE);
      expect(last.analysis?.action).toBe('promote');
      expect(last.analysis?.summary).toContain('absolute limits only');
      expect(last.analysis?.checks[0]?.limit).not.toContain('stable');
      // Below 100 % the same data is no comparison at all: a failed analysis under the no-data policy fail.
      const before = await analyse(runAt({ stepIndex: 2, weight: 50 }), 8 * MINUTE);
      expect(before.analysis?.action).toBe('retry');
    });

    it('shorter than a minute: no GetMetricData call, the checks have no data', async () => {
      publishErrorRate(0.01, 0.01);
      // Set at T0 + 1m15s, analysed at T0 + 1m50s: not one whole minute after the shift.
      const { analysis, failures } = await analyse(runAt(), MINUTE + 50_000);

      expect(sent).toEqual([]);
      expect(analysis?.metricRequests).toBe(0);
      expect(analysis?.checks.map((check) => check.status)).toEqual(['no-data']);
      // No data under the fail policy is a failed analysis.
      expect(analysis?.action).toBe('retry');
      expect(failures).toBe(1);
    });
  });

  describe('what follows a passed analysis', () => {
    it('before the last step: advance', async () => {
      publishErrorRate(0.01, 0.01);
      const { analysis } = await analyse(runAt(), 7 * MINUTE);
      expect(analysis?.action).toBe('advance');
      expect(analysis?.onApproval).toBeUndefined();
      expect(analysis?.summary).toBe('step 2 of 4 (20 %): every check passed');
    });

    it('at the last step without approval: promote', async () => {
      publishErrorRate(0.01, 0.01);
      const { analysis } = await analyse(runAt({ stepIndex: 3, weight: 100 }), 7 * MINUTE);
      expect(analysis?.action).toBe('promote');
      expect(analysis?.onApproval).toBeUndefined();
    });

    it('at the last step with approval: approve, then promote', async () => {
      publishErrorRate(0.01, 0.01);
      const run = runAt({ stepIndex: 3, weight: 100 }, { approval: { approvers: ['U024BE7LH'] } });
      const { analysis } = await analyse(run, 7 * MINUTE);
      expect(analysis).toMatchObject({ action: 'approve', onApproval: 'promote' });
    });
  });

  describe('no data with the pause policy', () => {
    const pausing: Partial<CanaryServiceInput> = { noData: 'pause', approval: { approvers: ['U024BE7LH'] } };

    it('pauses mid-plan, to advance once a person says go on; no failure counted', async () => {
      metrics.put(appMetric('ErrorRate', 'stable'), () => 0.01);
      const { analysis, failures } = await analyse(runAt({}, pausing), 7 * MINUTE);
      expect(analysis).toMatchObject({ action: 'pause', onApproval: 'advance' });
      expect(analysis?.summary).toContain('no data for error-rate: inconclusive, waiting for a person');
      expect(failures).toBe(0);
    });

    it('pauses at the last step, to promote', async () => {
      const { analysis } = await analyse(runAt({ stepIndex: 3, weight: 100 }, pausing), 7 * MINUTE);
      expect(analysis).toMatchObject({ action: 'pause', onApproval: 'promote' });
    });
  });

  describe('a failed analysis', () => {
    it('under the threshold: retry the step, one more failure counted', async () => {
      publishErrorRate(0.2, 0.01);
      const run = await analyse(runAt({ threshold: 3, failures: 1 }), 7 * MINUTE);
      expect(run.analysis?.action).toBe('retry');
      expect(run.failures).toBe(2);
      expect(run.analysis?.summary).toBe(
        'step 2 of 4 (20 %): failed: error-rate (error-rate: canary mean 0.2 > max 0.05; canary mean 0.2 > 2 × stable 0.01 = 0.02) — 2 of 3 failed analyses',
      );
      expect(run.stepIndex).toBe(1);
    });

    it('reaching the threshold: abort', async () => {
      publishErrorRate(0.2, 0.01);
      const run = await analyse(runAt({ failures: 1 }), 7 * MINUTE);
      expect(run.analysis?.action).toBe('abort');
      expect(run.failures).toBe(2);
      expect(run.analysis?.abortRequested).toBeUndefined();
    });
  });

  describe('the ALB templates', () => {
    it("read the target groups of the router's last observation, through metric math", async () => {
      metrics.put(albMetric('RequestCount', CANARY_TG), () => 200);
      metrics.put(albMetric('HTTPCode_Target_5XX_Count', CANARY_TG), () => 2);
      metrics.put(albMetric('RequestCount', STABLE_TG), () => 800);
      // Stable had no 5xx: ELB publishes nothing for those minutes, which FILL reads as 0.
      metrics.put(albMetric('TargetResponseTime', CANARY_TG), () => 0.25);
      metrics.put(albMetric('TargetResponseTime', STABLE_TG), () => 0.2);
      const run = runAt(
        {},
        {
          checks: [
            { name: 'errors', template: 'alb-5xx-rate', max: 0.02, ratio: { limit: 2, minStable: 0.001 } },
            { name: 'latency', template: 'alb-p99-latency', max: 0.5, ratio: { limit: 1.5 } },
          ],
        },
      );
      const traffic = {
        state: 'applied',
        alb: {
          loadBalancerArn: LOAD_BALANCER,
          listenerArns: [`${LOAD_BALANCER.replace(':loadbalancer/', ':listener/')}/f5a1b2c3d4e5f6a7`],
          stableTargetGroupArn: STABLE_TG,
          canaryTargetGroupArn: CANARY_TG,
        },
      };

      const { analysis } = await analyse(run, 7 * MINUTE, traffic);

      expect(analysis?.action).toBe('advance');
      expect(analysis?.checks).toEqual([
        {
          name: 'errors',
          status: 'passed',
          canary: 0.01,
          stable: 0,
          limit: '≤ 0.02, 2 × stable',
          reason: 'canary mean 0.01 within max 0.02',
        },
        {
          name: 'latency',
          status: 'passed',
          canary: 0.25,
          stable: 0.2,
          limit: '≤ 0.5, 1.5 × stable',
          reason: 'canary mean 0.25 within max 0.5; canary mean 0.25 vs 1.5 × stable 0.2 = 0.3',
        },
      ]);
      const dimensions = (sent[0]?.MetricDataQueries ?? []).flatMap(
        (query) => query.MetricStat?.Metric?.Dimensions?.map((d) => `${d.Name}=${d.Value}`) ?? [],
      );
      expect(new Set(dimensions)).toEqual(
        new Set([
          'LoadBalancer=app/k8s-shop-web-1a2b3c/50dc6c495c0c9188',
          'TargetGroup=targetgroup/k8s-shop-webcanar-1a2b3c4d5e/73e2d6bc24d8a067',
          'TargetGroup=targetgroup/k8s-shop-webstabl-6f7a8b9c0d/943f017f100becff',
        ]),
      );
    });
  });

  describe('the check outcomes', () => {
    it('name every limit; stable is the aggregate of its values, the ratio failing on it', async () => {
      const latency = (version: 'canary' | 'stable') => appMetric('Latency', version);
      const canaryValues = [0.3, 0.32, 0.31, 0.33, 0.34];
      const stableValues = [0.1, 0.12, 0.11, 0.13, 0.5];
      const minute = (time: number) => (time - T0) / MINUTE - 2;
      metrics.put(latency('canary'), (time) => canaryValues[minute(time)]);
      metrics.put(latency('stable'), (time) => stableValues[minute(time)]);
      metrics.put(appMetric('Success', 'canary'), () => 0.95);
      metrics.put(appMetric('Success', 'stable'), () => 0.99);
      const run = runAt(
        {},
        {
          checks: [
            {
              name: 'latency',
              canary: series(latency('canary')),
              stable: series(latency('stable')),
              max: 1,
              aggregate: 'median',
              ratio: { limit: 1.5 },
              mannWhitney: { alpha: 0.05 },
            },
            {
              name: 'peak-latency',
              canary: series(latency('canary')),
              stable: series(latency('stable')),
              max: 1,
              aggregate: 'max',
            },
            {
              name: 'success',
              canary: series(appMetric('Success', 'canary')),
              stable: series(appMetric('Success', 'stable')),
              min: 0.98,
            },
          ],
        },
      );

      const { analysis } = await analyse(run, 7 * MINUTE + 5_000);

      expect(analysis?.window).toEqual({ start: iso(2 * MINUTE), end: iso(7 * MINUTE) });
      const [latencyOutcome, peak, success] = analysis?.checks ?? [];
      expect(latencyOutcome).toMatchObject({
        status: 'failed',
        canary: 0.32,
        stable: 0.12,
        limit: '≤ 1, 1.5 × stable, U test α 0.05',
      });
      expect(latencyOutcome?.reason).toContain('canary median 0.32 > 1.5 × stable 0.12 = 0.18');
      // Without a ratio, stable's own aggregate of its values: the max.
      expect(peak).toEqual({
        name: 'peak-latency',
        status: 'passed',
        canary: 0.34,
        stable: 0.5,
        limit: '≤ 1',
        reason: 'canary max 0.34 within max 1',
      });
      expect(success).toMatchObject({ status: 'failed', canary: 0.95, stable: 0.99, limit: '≥ 0.98' });
      expect(success?.reason).toBe('canary mean 0.95 < min 0.98');
      expect(analysis?.summary).toContain('failed: latency, success');
    });
  });

  it('refuses a malformed run before reading the lock or any metric', async () => {
    const reads: string[] = [];
    const watched = {
      read: (workload: string) => {
        reads.push(workload);
        return lock.read(workload);
      },
    };
    await expect(
      analyseStep(
        { run: { ...runAt(), stepIndex: 'second' } },
        { lock: watched, cloudwatch, now: () => new Date() },
      ),
    ).rejects.toThrow(InvalidCanaryRun);
    expect(reads).toEqual([]);
    expect(sent).toEqual([]);
  });
});
