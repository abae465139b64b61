import { describe, expect, it } from 'vitest';
import { planText, recoveryTiming } from '../../lambdas/rollback/prepare';
import { hasExpired } from '../../lambdas/shared/deadline';

const settings = { recoveryWindowSeconds: 600, recoveryWindowMaxSeconds: 3_600 };

describe('the recovery window of a run', () => {
  it("is the section's, or the target's when it has one", () => {
    expect(recoveryTiming(undefined, 300, settings)).toEqual({ kind: 'measurable', seconds: 600 });
    expect(recoveryTiming(20, 300, settings)).toEqual({ kind: 'measurable', seconds: 1_200 });
  });

  it('is extended, and says so, for an alarm that evaluates more data than the window', () => {
    // 5-minute periods, 3 evaluation periods: it cannot return to OK in 10 minutes.
    const timing = recoveryTiming(undefined, 900, settings);
    expect(timing).toEqual({
      kind: 'measurable',
      seconds: 900,
      note: 'Recovery window extended from 10 min to 15 min: the alarm evaluates 15 min of data.',
    });
  });

  it('refuses an alarm that evaluates more than any window may last, naming the setting', () => {
    const timing = recoveryTiming(undefined, 86_400, settings);
    expect(timing.kind).toBe('unmeasurable');
    expect(timing.kind === 'unmeasurable' && timing.detail).toMatch(
      /evaluates 1440 min of data .*, more than the 60 min a recovery window may last \(rollback\.recoveryWindowMaxMinutes\)/,
    );
  });

  it('keeps the configured window for a composite alarm, whose evaluation is unknown', () => {
    expect(recoveryTiming(undefined, undefined, settings)).toEqual({ kind: 'measurable', seconds: 600 });
  });
});

describe('a wait bounded by the clock', () => {
  it('is over exactly when its seconds have passed, whatever the number of polls', () => {
    const start = '2026-12-02T03:00:00.000Z';
    expect(hasExpired(start, 900, new Date('2026-12-02T03:14:59.999Z'))).toBe(false);
    expect(hasExpired(start, 900, new Date('2026-12-02T03:15:00.000Z'))).toBe(true);
  });
});

describe('the plan in words', () => {
  it('names the Deployment, both revisions and their image tags', () => {
    expect(
      planText('checkout-api', {
        fromRevision: 7,
        toRevision: 6,
        fromImages: ['registry.example.com/checkout-api:1.5.0'],
        toImages: ['registry.example.com/checkout-api:1.4.2'],
      }),
    ).toBe('roll back checkout-api from revision 7 (1.5.0) to 6 (1.4.2)');
  });

  it('lists every container and keeps a digest-pinned image whole', () => {
    expect(
      planText('web', {
        fromRevision: 2,
        toRevision: 1,
        fromImages: ['web:2', 'sidecar@sha256:abc'],
        toImages: ['web:1', 'sidecar@sha256:abc'],
      }),
    ).toBe('roll back web from revision 2 (2, sha256:abc) to 1 (1, sha256:abc)');
  });

  it("reads a tag after a registry's port, and names an untagged image whole", () => {
    expect(
      planText('api', {
        fromRevision: 4,
        toRevision: 3,
        fromImages: ['registry.internal:5000/team/api:2.0.1'],
        toImages: ['registry.internal:5000/team/api'],
      }),
    ).toBe('roll back api from revision 4 (2.0.1) to 3 (registry.internal:5000/team/api)');
  });
});
