import type { Aggregate, Check, NoDataPolicy } from './checks';
import { worseDirection } from './checks';
import { mannWhitneyU, type MannWhitneyDirection, type MannWhitneyMethod } from './mann-whitney';

// Judging one step of a canary: each check from the canary's and stable's per-minute values over the step's
// window, then the step from its checks under the no-data policy; and Flagger's bookkeeping across steps (a
// failed step is retried at the same weight until `threshold` failures abort the canary).

/** The parts of a check the judgement reads (a `Check` or a `ResolvedCheck`). */
export type JudgedCheck = Pick<
  Check,
  'name' | 'max' | 'min' | 'worse' | 'aggregate' | 'ratio' | 'mannWhitney'
>;

/** One check's per-minute values over the step's window, oldest first. Either may be empty. */
export interface CheckSeries {
  canary: readonly number[];
  stable: readonly number[];
}

export type CheckStatus = 'passed' | 'failed' | 'no-data';

/** The canary's aggregate against `max` / `min`. */
export interface AbsoluteJudgement {
  status: CheckStatus;
  aggregate: Aggregate;
  /** Absent without canary data. */
  canary?: number;
  max?: number;
  min?: number;
}

/** The canary's aggregate against `limit` × stable's. `not-judged`: stable below `minStable`. */
export interface RatioJudgement {
  status: CheckStatus | 'not-judged';
  limit: number;
  minStable: number;
  canary?: number;
  stable?: number;
  /** limit × stable: the value the canary's aggregate was held to. */
  bound?: number;
}

/** The U test of the canary's values (x) against stable's (y). */
export interface MannWhitneyJudgement {
  status: CheckStatus;
  alpha: number;
  /** Two-sided p-value. */
  pValue?: number;
  /** `greater`: the canary's values tend to be higher than stable's. */
  direction?: MannWhitneyDirection;
  /** Whether that direction is the check's worse one. */
  canaryWorse?: boolean;
  u?: number;
  z?: number;
  method?: MannWhitneyMethod;
  /** Hodges–Lehmann shift canary − stable, in the metric's unit. */
  shift?: number;
}

export interface CheckJudgement {
  name: string;
  status: CheckStatus;
  /** What decided it, for Slack, the event and the CLI: the failing limit first, else the missing data. */
  reason: string;
  /** Datapoints read (non-finite values are dropped before counting). */
  datapoints: { canary: number; stable: number };
  absolute: AbsoluteJudgement;
  ratio?: RatioJudgement;
  mannWhitney?: MannWhitneyJudgement;
}

/** `pass`: advance. `fail`: a failed step (Flagger). `pause`: inconclusive, ask a person (Argo Rollouts). */
export type StepVerdict = 'pass' | 'fail' | 'pause';

export interface StepJudgement {
  verdict: StepVerdict;
  checks: CheckJudgement[];
  /** The names of the checks that failed, and of those without data. */
  failed: string[];
  noData: string[];
  /** Why the step has this verdict, in one line. */
  reason: string;
}

/**
 * Judges a check. It fails if any configured part fails (a failure is decisive even when another part lacks
 * data); else it has no data if any part lacks it; else it passes. The absolute limit needs canary data; the
 * ratio and the U test need both sides: a comparison with a stable version that reports nothing is no
 * comparison, and most likely a wrong metric.
 */
export function judgeCheck(check: JudgedCheck, series: CheckSeries): CheckJudgement {
  // CloudWatch returns only finite values; metric math can still produce none for a minute (x / 0), and one
  // non-finite value would poison a mean. Dropped, and counted as missing.
  const canary = series.canary.filter(Number.isFinite);
  const stable = series.stable.filter(Number.isFinite);
  const worse = worseDirection(check);
  const canaryAggregate = canary.length > 0 ? aggregate(canary, check.aggregate) : undefined;
  const stableAggregate = stable.length > 0 ? aggregate(stable, check.aggregate) : undefined;
  const reasons: { failed: string[]; noData: string[]; passed: string[] } = {
    failed: [],
    noData: [],
    passed: [],
  };
  const label = `canary ${check.aggregate}`;

  const absolute: AbsoluteJudgement = {
    status: 'passed',
    aggregate: check.aggregate,
    ...(canaryAggregate !== undefined && { canary: canaryAggregate }),
    ...(check.max !== undefined && { max: check.max }),
    ...(check.min !== undefined && { min: check.min }),
  };
  if (canaryAggregate === undefined) {
    absolute.status = 'no-data';
    reasons.noData.push('no canary datapoints');
  } else if (check.max !== undefined && canaryAggregate > check.max) {
    absolute.status = 'failed';
    reasons.failed.push(`${label} ${show(canaryAggregate)} > max ${show(check.max)}`);
  } else if (check.min !== undefined && canaryAggregate < check.min) {
    absolute.status = 'failed';
    reasons.failed.push(`${label} ${show(canaryAggregate)} < min ${show(check.min)}`);
  } else {
    reasons.passed.push(
      `${label} ${show(canaryAggregate)} within ${[
        check.min !== undefined ? `min ${show(check.min)}` : '',
        check.max !== undefined ? `max ${show(check.max)}` : '',
      ]
        .filter(Boolean)
        .join(', ')}`,
    );
  }

  let ratio: RatioJudgement | undefined;
  if (check.ratio) {
    const { limit, minStable } = check.ratio;
    ratio = {
      status: 'passed',
      limit,
      minStable,
      ...(canaryAggregate !== undefined && { canary: canaryAggregate }),
      ...(stableAggregate !== undefined && { stable: stableAggregate }),
    };
    if (canaryAggregate === undefined || stableAggregate === undefined) {
      ratio.status = 'no-data';
      if (stableAggregate === undefined) reasons.noData.push('no stable datapoints to compare with');
    } else if (stableAggregate < minStable) {
      ratio.status = 'not-judged';
    } else {
      const bound = limit * stableAggregate;
      ratio.bound = bound;
      const failed = worse === 'higher' ? canaryAggregate > bound : canaryAggregate < bound;
      const comparison = worse === 'higher' ? '>' : '<';
      const text = `${label} ${show(canaryAggregate)} ${failed ? comparison : 'vs'} ${show(limit)} × stable ${show(stableAggregate)} = ${show(bound)}`;
      if (failed) {
        ratio.status = 'failed';
        reasons.failed.push(text);
      } else reasons.passed.push(text);
    }
  }

  let mannWhitney: MannWhitneyJudgement | undefined;
  if (check.mannWhitney) {
    const { alpha } = check.mannWhitney;
    mannWhitney = { status: 'passed', alpha };
    if (canary.length === 0 || stable.length === 0) {
      mannWhitney.status = 'no-data';
      if (stable.length === 0 && !check.ratio) reasons.noData.push('no stable datapoints to compare with');
    } else {
      const test = mannWhitneyU(canary, stable);
      // Two-sided at alpha, then the direction, so a canary significantly better passes. Kayenta decides on the
      // 1 − alpha confidence interval of the same shift instead (MannWhitneyClassifier.scala): High when its
      // lower bound is above 25 % of the estimate (`tolerance`) and the mean ratio agrees; an interval that
      // excludes zero is this test's rejection, Kayenta's margin is stricter by that tolerance.
      const canaryWorse = worse === 'higher' ? test.direction === 'greater' : test.direction === 'less';
      Object.assign(mannWhitney, {
        pValue: test.pValue,
        direction: test.direction,
        canaryWorse,
        u: test.u,
        z: test.z,
        method: test.method,
        shift: test.shift,
      });
      const relation =
        test.direction === 'greater'
          ? 'higher than'
          : test.direction === 'less'
            ? 'lower than'
            : 'level with';
      const figures = `Mann-Whitney p = ${show(test.pValue)}, shift ${show(test.shift)}, ${canary.length} vs ${stable.length} minutes`;
      if (test.pValue < alpha && canaryWorse) {
        mannWhitney.status = 'failed';
        reasons.failed.push(`canary significantly ${relation} stable (${figures}, p < ${show(alpha)})`);
      } else reasons.passed.push(`canary ${relation} stable (${figures})`);
    }
  }

  const parts = [absolute.status, ratio?.status, mannWhitney?.status];
  const status: CheckStatus = parts.includes('failed')
    ? 'failed'
    : parts.includes('no-data')
      ? 'no-data'
      : 'passed';
  const reason =
    status === 'failed'
      ? reasons.failed.join('; ')
      : status === 'no-data'
        ? reasons.noData.join('; ') || 'no data'
        : reasons.passed.join('; ');
  return {
    name: check.name,
    status,
    reason,
    datapoints: { canary: canary.length, stable: stable.length },
    absolute,
    ...(ratio && { ratio }),
    ...(mannWhitney && { mannWhitney }),
  };
}

/**
 * Judges a step: `fail` if any check failed; else, if any check has no data, `fail` or `pause` as the policy
 * says; else `pass`. A check whose series is missing from `series` has no data.
 */
export function judgeStep(
  checks: readonly JudgedCheck[],
  series: Readonly<Record<string, CheckSeries>>,
  noDataPolicy: NoDataPolicy,
): StepJudgement {
  const judged = checks.map((check) => judgeCheck(check, series[check.name] ?? { canary: [], stable: [] }));
  const failed = judged.filter((check) => check.status === 'failed').map((check) => check.name);
  const noData = judged.filter((check) => check.status === 'no-data').map((check) => check.name);
  if (failed.length > 0) {
    return { verdict: 'fail', checks: judged, failed, noData, reason: `failed: ${failed.join(', ')}` };
  }
  if (noData.length > 0) {
    const verdict = noDataPolicy === 'fail' ? 'fail' : 'pause';
    const reason =
      noDataPolicy === 'fail'
        ? `no data for ${noData.join(', ')}: counted as failed (no-data policy: fail)`
        : `no data for ${noData.join(', ')}: inconclusive, waiting for a person (no-data policy: pause)`;
    return { verdict, checks: judged, failed, noData, reason };
  }
  return { verdict: 'pass', checks: judged, failed, noData, reason: 'every check passed' };
}

// --- Across steps (Flagger's analysis) ---------------------------------------------------------------------

/**
 * What follows a step: `advance` to the next weight; `retry` this weight after another interval; `abort`; or
 * `pause` for a person.
 */
export type StepAction = 'advance' | 'retry' | 'abort' | 'pause';

/**
 * Flagger's failed-checks counter (fluxcd/flagger pkg/controller/scheduler.go): every failed analysis run adds
 * one, however many of its checks failed; a passed run leaves it as it is (it is not reset until the next
 * canary); the canary is rolled back once it reaches `threshold`. Flagger notices that at its next tick; here
 * the step that reaches it aborts at once. An inconclusive step (no-data policy `pause`) counts nothing.
 */
export function afterStep(
  failedChecks: number,
  verdict: StepVerdict,
  threshold: number,
): { failedChecks: number; action: StepAction } {
  requireCount('failedChecks', failedChecks, 0);
  requireCount('threshold', threshold, 1);
  switch (verdict) {
    case 'pass':
      return { failedChecks, action: 'advance' };
    case 'pause':
      return { failedChecks, action: 'pause' };
    case 'fail': {
      const next = failedChecks + 1;
      return { failedChecks: next, action: next >= threshold ? 'abort' : 'retry' };
    }
  }
}

function requireCount(name: string, value: number, min: number): void {
  if (!(Number.isInteger(value) && value >= min))
    throw new RangeError(`${name} must be an integer ≥ ${min}, not ${value}`);
}

/** The aggregate of a non-empty series. */
export function aggregate(values: readonly number[], how: Aggregate): number {
  if (values.length === 0) throw new RangeError('cannot aggregate an empty series');
  switch (how) {
    case 'mean':
      return values.reduce((sum, value) => sum + value, 0) / values.length;
    case 'max':
      return values.reduce((max, value) => Math.max(max, value), -Infinity);
    case 'min':
      return values.reduce((min, value) => Math.min(min, value), Infinity);
    case 'median': {
      const sorted = [...values].sort((a, b) => a - b);
      const middle = sorted.length >> 1;
      return sorted.length % 2 === 1
        ? (sorted[middle] ?? NaN)
        : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
    }
  }
}

/** A value for a human: 4 significant digits, no trailing zeros. */
function show(value: number): string {
  return String(Number(value.toPrecision(4)));
}
