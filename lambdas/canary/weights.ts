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
