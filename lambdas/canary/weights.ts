import * as z from 'zod/mini';
import { parseOrThrow, RunbookError } from '../shared/errors';

// The canary's step plan: which share of traffic the canary gets at each analysed step, before promotion.
// The settings are Flagger's (docs.flagger.app, "Canary analysis"; fluxcd/flagger pkg/controller/scheduler.go),
// the semantics its users already know:
//   - `stepWeights`: the weights, in order (Flagger's maxWeight is then the last of them);
//   - `stepWeight` + `maxWeight`: stepWeight, 2 × stepWeight, ... while below maxWeight, then promotion.
// Neither given: the seeds' manual plan, 5 → 20 → 50 → 100 %.

/** A step plan or its settings is unusable; the message names the setting at fault. */
export class InvalidStepPlan extends RunbookError {
  override name = 'InvalidStepPlan';
}

/** The seeds shifted traffic by hand through these weights (issue 7). */
export const DEFAULT_STEP_WEIGHTS: readonly number[] = [5, 20, 50, 100];

/** A weight is a whole percentage of requests routed to the canary; 0 is "not started", never a step. */
const stepWeight = z.int().check(z.gte(1, 'must be at least 1 (%)'), z.lte(100, 'must be at most 100 (%)'));

/** The step settings, as a service's canary configuration carries them (all optional). */
export const stepPlanSettingsSchema = z
  .object({
    stepWeights: z.optional(z.array(stepWeight).check(z.minLength(1, 'must list at least one weight'))),
    stepWeight: z.optional(stepWeight),
    maxWeight: z.optional(stepWeight),
  })
  .check(
    z.superRefine((settings, ctx) => {
      const issue = (path: string, message: string) =>
        ctx.addIssue({ code: 'custom', path: [path], message });
      const { stepWeights, stepWeight: step, maxWeight } = settings;
      if (stepWeights && step !== undefined) {
        issue('stepWeight', 'set either stepWeights or stepWeight (+ maxWeight), not both');
      }
      if (maxWeight !== undefined && step === undefined && !stepWeights) {
        issue('maxWeight', 'needs stepWeight (maxWeight caps the stepWeight increments)');
      }
      if (stepWeights) {
        stepWeights.forEach((weight, index) => {
          const previous = stepWeights[index - 1];
          if (previous !== undefined && weight <= previous) {
            issue('stepWeights', `must increase: ${weight} (step ${index + 1}) follows ${previous}`);
          }
        });
        // Flagger ignores maxWeight beside stepWeights (it takes the last weight); a different value is a
        // misunderstanding better refused than silently ignored.
        const last = stepWeights[stepWeights.length - 1];
        if (maxWeight !== undefined && last !== maxWeight) {
          issue('maxWeight', `must equal the last of stepWeights (${String(last)}) when both are set`);
        }
      }
      if (step !== undefined && maxWeight !== undefined && step > maxWeight) {
        issue('stepWeight', `must not exceed maxWeight (${maxWeight})`);
      }
    }),
  );
export type StepPlanSettings = z.input<typeof stepPlanSettingsSchema>;

export interface StepPlan {
  /** The canary's weight at each analysed step, strictly increasing, each 1–100; promotion follows the last. */
  steps: number[];
  /** The last step's weight: the most traffic the canary takes before promotion. */
  maxWeight: number;
  /** Where the steps came from, for the status line ("stepWeight 20 up to 50" reads differently from a list). */
  source: 'stepWeights' | 'stepWeight' | 'default';
}

/**
 * The step plan from a service's settings, or `InvalidStepPlan` naming the setting at fault.
 *
 * `stepWeight` + `maxWeight` follows Flagger's increments with one difference: when maxWeight is not a multiple
 * of stepWeight, Flagger's last step overshoots it (20 up to 50 gives 20, 40, 60: scheduler.go adds stepWeight
 * while below maxWeight, capping only at 100), so a canary takes more traffic than its "max traffic percentage".
 * Here the last step is maxWeight itself (20, 40, 50): the plan always ends at maxWeight before promotion.
 */
export function planSteps(settings: unknown): StepPlan {
  const {
    stepWeights,
    stepWeight: step,
    maxWeight,
  } = parseOrThrow(stepPlanSettingsSchema, settings ?? {}, 'the canary step settings', InvalidStepPlan);
  if (stepWeights) return plan([...stepWeights], 'stepWeights');
  if (step !== undefined) {
    // Flagger's default maxWeight is the total weight, 100.
    const max = maxWeight ?? 100;
    const steps: number[] = [];
    for (let weight = step; weight < max; weight += step) steps.push(weight);
    steps.push(max);
    return plan(steps, 'stepWeight');
  }
  return plan([...DEFAULT_STEP_WEIGHTS], 'default');
}

function plan(steps: number[], source: StepPlan['source']): StepPlan {
  const maxWeight = steps[steps.length - 1];
  // The schema guarantees a non-empty list; this keeps the type honest.
  if (maxWeight === undefined) throw new InvalidStepPlan('the canary step plan has no step');
  return { steps, maxWeight, source };
}

/** What follows a step: the next weight, or promotion once the last step's analysis passed. */
export type NextStep = { action: 'shift'; step: number; weight: number } | { action: 'promote' };

/**
 * The move after the canary held `currentWeight` through a passing analysis (0: not started). A weight that is
 * not in the plan means the run's state and its plan disagree (a plan changed mid-run): refused, not guessed.
 */
export function nextStep(plan: StepPlan, currentWeight: number): NextStep {
  const index = currentWeight === 0 ? -1 : plan.steps.indexOf(currentWeight);
  if (currentWeight !== 0 && index === -1) {
    throw new InvalidStepPlan(
      `weight ${currentWeight} is not a step of the plan (${plan.steps.join(', ')}): the plan changed mid-run`,
    );
  }
  const weight = plan.steps[index + 1];
  return weight === undefined ? { action: 'promote' } : { action: 'shift', step: index + 2, weight };
}

const intervalSchema = z.int().check(z.positive('must be a positive number of seconds'));
const thresholdSchema = z.int().check(z.positive('must be at least 1 failed check'));

/**
 * The shortest time from the first step to promotion: each step holds its weight for one analysis interval,
 * so interval × steps (Flagger's "promotion time"; an approval gate adds its wait on top).
 */
export function promotionSeconds(plan: StepPlan, intervalSeconds: number): number {
  return parseOrThrow(intervalSchema, intervalSeconds, 'interval', InvalidStepPlan) * plan.steps.length;
}

/**
 * The longest a failing canary keeps its traffic once checks start failing: `threshold` failed checks, one per
 * interval, before the abort (Flagger's "abort time" = interval × threshold).
 */
export function abortSeconds(intervalSeconds: number, threshold: number): number {
  const interval = parseOrThrow(intervalSchema, intervalSeconds, 'interval', InvalidStepPlan);
  return interval * parseOrThrow(thresholdSchema, threshold, 'threshold', InvalidStepPlan);
}

export interface ScheduledStep {
  /** 1-based, as the status line and Slack thread number them. */
  step: number;
  weight: number;
  /** Seconds after the first shift at which this step's weight is set, when every analysis passes first time. */
  startsAtSeconds: number;
}

/** When each step starts and when promotion comes, for `canary status` ("time to the next step"). */
export function stepSchedule(
  plan: StepPlan,
  intervalSeconds: number,
): { steps: ScheduledStep[]; promotionAtSeconds: number } {
  const interval = parseOrThrow(intervalSchema, intervalSeconds, 'interval', InvalidStepPlan);
  return {
    steps: plan.steps.map((weight, index) => ({
      step: index + 1,
      weight,
      startsAtSeconds: index * interval,
    })),
    promotionAtSeconds: promotionSeconds(plan, interval),
  };
}
