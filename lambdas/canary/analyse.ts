import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import * as z from 'zod/mini';
import { parseOrThrow } from '../shared/errors';
import { aggregate, afterStep, judgeStep, type CheckJudgement, type StepJudgement } from './analysis';
import { resolveCheck, type AlbTargets } from './checks';
import { readStep } from './metric-queries';
import { formatWeight } from './routers/router';
import {
  albTargetsSchema,
  atLastStep,
  InvalidCanaryRun,
  readRun,
  stepWeight,
  type CanaryRun,
  type CheckOutcome,
  type StepAnalysis,
} from './run';

// One analysis: what an alarm or a person asked first (an abort is honoured within the interval it was asked
// in), then every check of the step read in one GetMetricData call over the minutes the step has held its
// weight, judged against its limits and stable, and Flagger's failed-check counter deciding what follows.

/** What the analysis reads from the lock: whether this run still holds it, and an abort asked meanwhile. */
export interface AnalyseLock {
  read(workload: string): Promise<{
    holderExecution?: string;
    abortRequested?: { reason: string; by: string };
  }>;
}

export interface AnalyseDeps {
  lock: AnalyseLock;
  cloudwatch: CloudWatchClient;
  now: () => Date;
}

const analyseInputSchema = z.object({
  run: z.unknown(),
  /**
   * The last router confirmation (`observe` traffic): its `alb` targets feed the ALB templates, its
   * `windowStart` is where the step's first window begins.
   */
  traffic: z.optional(
    z.looseObject({ alb: z.optional(albTargetsSchema), windowStart: z.optional(z.iso.datetime()) }),
  ),
});

const setAtOf = (run: CanaryRun): number => Date.parse(run.weightSetAt ?? run.startedAt);

const MINUTE = 60_000;

export async function analyseStep(input: unknown, deps: AnalyseDeps): Promise<CanaryRun> {
  const parsed = parseOrThrow(analyseInputSchema, input, 'the analysis input', InvalidCanaryRun);
  const run = readRun(parsed.run);
  const now = deps.now();
  const weight = stepWeight(run);
  const stepName = `step ${run.stepIndex + 1} of ${run.steps.length} (${formatWeight(weight)})`;

  const lock = await deps.lock.read(run.workload);
  const stop = (summary: string, abortRequested?: { reason: string; by: string }): CanaryRun => ({
    ...run,
    analysis: {
      action: 'abort',
      summary,
      at: now.toISOString(),
      stepIndex: run.stepIndex,
      window: { start: now.toISOString(), end: now.toISOString() },
      nextAnalyseAt: now.toISOString(),
      checks: run.analysis?.checks ?? [],
      ...(abortRequested && { abortRequested }),
      metricRequests: 0,
    },
  });
  if (lock.holderExecution !== run.executionArn) {
    return stop(
      `${stepName}: this run no longer holds the lock of ${run.workload} (held by ${lock.holderExecution ?? 'nobody'}): it stops acting`,
    );
  }
  if (lock.abortRequested) {
    return stop(
      `${stepName}: abort requested by ${lock.abortRequested.by}: ${lock.abortRequested.reason}`,
      lock.abortRequested,
    );
  }

  // The window: the step's whole minutes with its weight applied, one interval of them (observe's windowStart),
  // or for a retry of the same step the interval after the last window. Never past the last whole minute.
  const intervalMs = run.intervalSeconds * 1000;
  const previous = run.analysis?.stepIndex === run.stepIndex ? run.analysis.window.end : undefined;
  const startMs = Date.parse(
    previous ??
      parsed.traffic?.windowStart ??
      new Date(Math.ceil(setAtOf(run) / MINUTE) * MINUTE).toISOString(),
  );
  const start = new Date(startMs);
  const end = new Date(Math.min(startMs + intervalMs, Math.floor(now.getTime() / MINUTE) * MINUTE));
  const nextAnalyseAt = new Date(end.getTime() + intervalMs + MINUTE).toISOString();
  const alb = parsed.traffic?.alb;
  const targets: AlbTargets | undefined = alb && {
    loadBalancer: alb.loadBalancerArn,
    canaryTargetGroup: alb.canaryTargetGroupArn,
    stableTargetGroup: alb.stableTargetGroupArn,
  };
  // At 100 % stable serves nothing, so it publishes nothing to compare with: the last step is judged on the
  // absolute limits alone (its comparisons were made at every step before), rather than failing on no data.
  const stableServes = weight < 100;
  const checks = run.service.checks
    .map((check) => resolveCheck(check, targets))
    .map((check) => {
      if (stableServes) return check;
      const absolute = { ...check };
      delete absolute.ratio;
      delete absolute.mannWhitney;
      return absolute;
    });
  let metricRequests = 0;
  let series: Awaited<ReturnType<typeof readStep>>['series'] = {};
  if (start.getTime() < end.getTime()) {
    const read = await readStep(deps.cloudwatch, checks, { start, end, periodSeconds: 60, step: stepName });
    metricRequests = read.pages;
    series = read.series;
  }
  const judgement: StepJudgement = judgeStep(checks, series, run.service.noData);
  const counted = afterStep(run.failures, judgement.verdict, run.threshold);
  const last = atLastStep(run);
  const approval = run.service.approval !== undefined;
  const action: StepAnalysis['action'] =
    counted.action === 'advance' ? (last ? (approval ? 'approve' : 'promote') : 'advance') : counted.action;
  const onApproval: StepAnalysis['onApproval'] =
    action === 'approve' ? 'promote' : action === 'pause' ? (last ? 'promote' : 'advance') : undefined;

  const failedChecks = judgement.checks.filter((check) => check.status !== 'passed');
  const detail = failedChecks.map((check) => `${check.name}: ${check.reason}`).join('; ');
  const summary =
    `${stepName}: ${judgement.reason}` +
    (stableServes ? '' : ' (stable takes no traffic at 100 %: absolute limits only)') +
    (detail && judgement.verdict !== 'pass' ? ` (${detail})` : '') +
    (judgement.verdict === 'fail' ? ` — ${counted.failedChecks} of ${run.threshold} failed analyses` : '');

  return {
    ...run,
    failures: counted.failedChecks,
    analysis: {
      action,
      ...(onApproval && { onApproval }),
      summary,
      at: now.toISOString(),
      stepIndex: run.stepIndex,
      window: { start: start.toISOString(), end: end.toISOString() },
      nextAnalyseAt,
      checks: judgement.checks.map((check) =>
        checkOutcome(
          check,
          series[check.name]?.stable ?? [],
          checks.find((c) => c.name === check.name)?.aggregate ?? 'mean',
        ),
      ),
      metricRequests,
    },
  };
}

/** A value for a human: 4 significant digits, no trailing zeros. */
const show = (value: number): string => String(Number(value.toPrecision(4)));

/** A check's judgement as Slack and the CLI show it: its values against the limits it was held to. */
export function checkOutcome(
  check: CheckJudgement,
  stableValues: readonly number[],
  how: Parameters<typeof aggregate>[1],
): CheckOutcome {
  const limits: string[] = [];
  if (check.absolute.max !== undefined) limits.push(`≤ ${show(check.absolute.max)}`);
  if (check.absolute.min !== undefined) limits.push(`≥ ${show(check.absolute.min)}`);
  if (check.ratio) limits.push(`${show(check.ratio.limit)} × stable`);
  if (check.mannWhitney) limits.push(`U test α ${show(check.mannWhitney.alpha)}`);
  const finiteStable = stableValues.filter(Number.isFinite);
  const stable = check.ratio?.stable ?? (finiteStable.length > 0 ? aggregate(finiteStable, how) : undefined);
  return {
    name: check.name,
    status: check.status,
    ...(check.absolute.canary !== undefined && { canary: check.absolute.canary }),
    ...(stable !== undefined && { stable }),
    limit: limits.join(', '),
    reason: check.reason,
  };
}
