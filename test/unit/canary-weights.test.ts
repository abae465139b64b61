import { describe, expect, it } from 'vitest';
import { DEFAULT_STEP_WEIGHTS, InvalidStepPlan, planSteps } from '../../lambdas/canary/weights';

describe('planSteps', () => {
  it('defaults to the seeds’ 5, 20, 50, 100', () => {
    expect(planSteps(undefined)).toEqual({ steps: [5, 20, 50, 100], maxWeight: 100, source: 'default' });
    expect(planSteps({})).toEqual(planSteps(undefined));
    expect(DEFAULT_STEP_WEIGHTS).toEqual([5, 20, 50, 100]);
  });

  it('takes stepWeights as given, the last being the max weight', () => {
    expect(planSteps({ stepWeights: [10, 25, 50, 90] })).toEqual({
      steps: [10, 25, 50, 90],
      maxWeight: 90,
      source: 'stepWeights',
    });
    expect(planSteps({ stepWeights: [100] }).steps).toEqual([100]);
    expect(planSteps({ stepWeights: [10, 50], maxWeight: 50 }).maxWeight).toBe(50);
  });

  it('increments stepWeight up to maxWeight, as Flagger', () => {
    expect(planSteps({ stepWeight: 10, maxWeight: 50 }).steps).toEqual([10, 20, 30, 40, 50]);
    expect(planSteps({ stepWeight: 25 }).steps).toEqual([25, 50, 75, 100]);
    expect(planSteps({ stepWeight: 100 }).steps).toEqual([100]);
  });

  it('ends at maxWeight when it is not a multiple of stepWeight (Flagger would overshoot to 60)', () => {
    expect(planSteps({ stepWeight: 20, maxWeight: 50 })).toEqual({
      steps: [20, 40, 50],
      maxWeight: 50,
      source: 'stepWeight',
    });
    expect(planSteps({ stepWeight: 30 }).steps).toEqual([30, 60, 90, 100]);
  });

  it.each([
    [{ stepWeights: [5, 20, 20, 100] }, /stepWeights: must increase: 20 \(step 3\) follows 20/],
    [{ stepWeights: [50, 20] }, /stepWeights: must increase/],
    [{ stepWeights: [] }, /stepWeights: must list at least one weight/],
    [{ stepWeights: [0, 50] }, /stepWeights\.0: must be at least 1/],
    [{ stepWeights: [50, 101] }, /stepWeights\.1: must be at most 100/],
    [{ stepWeights: [5.5] }, /stepWeights\.0/],
    [{ stepWeights: [10, 50], maxWeight: 60 }, /maxWeight: must equal the last of stepWeights \(50\)/],
    [{ stepWeights: [10, 50], stepWeight: 10 }, /stepWeight: set either stepWeights or stepWeight/],
    [{ maxWeight: 50 }, /maxWeight: needs stepWeight/],
    [{ stepWeight: 60, maxWeight: 50 }, /stepWeight: must not exceed maxWeight \(50\)/],
    [{ stepWeight: 0 }, /stepWeight: must be at least 1/],
    [{ stepWeight: '10' }, /stepWeight/],
  ])('refuses %j', (settings, message) => {
    expect(() => planSteps(settings)).toThrow(InvalidStepPlan);
    expect(() => planSteps(settings)).toThrow(message);
  });

  it('names the settings in its message', () => {
    const error = (() => {
      try {
        planSteps({ stepWeights: [50, 20] });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toMatchObject({ name: 'InvalidStepPlan' });
    expect((error as Error).message).toMatch(/^the canary step settings is malformed: /);
  });
});
