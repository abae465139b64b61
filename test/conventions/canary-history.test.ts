import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  canaryHistoryEvents,
  CANARY_HISTORY_EVENT_BUDGET,
  HOLD_MARGIN_MINUTES,
  historyEventsPerAnalysis,
  ROUTER_CONFIRM_MINUTES,
  ROUTER_POLL_SECONDS,
} from '../../lib/config/canary';

// lib/config/canary.ts refuses a step plan whose run could outgrow Step Functions' execution history. It counts
// with constants (Lambda code imports that module and cannot read the ASL); this test counts the per-analysis
// figure from the ASL's own shape, so the two cannot drift apart.

interface State {
  Type: string;
  Seconds?: number;
}
const { States: states } = JSON.parse(
  readFileSync(new URL('../../state-machines/canary.asl.json', import.meta.url), 'utf8'),
) as { States: Record<string, State> };

/** Entered and exited, plus scheduled, started and succeeded for a Task. */
const eventsOf = (name: string): number => {
  const state = states[name];
  if (!state) throw new Error(`canary.asl.json has no state ${name}`);
  return state.Type === 'Task' ? 5 : 2;
};

describe('the canary execution history budget', () => {
  it('polls the router as often as the budget assumes', () => {
    expect(states.WaitForRouter?.Seconds).toBe(ROUTER_POLL_SECONDS);
  });

  it('counts one analysis as the ASL runs it: shift, the confirmation loop, the hold, analysis, thread, choice, a pause', () => {
    const look = eventsOf('WaitForRouter') + eventsOf('ConfirmWeight') + eventsOf('WeightApplied');
    const looks = (ROUTER_CONFIRM_MINUTES * 60) / ROUTER_POLL_SECONDS;
    const holdMinute = eventsOf('HoldAMinute') + eventsOf('ReadAbortRequest') + eventsOf('AnalyseOrHold');
    const intervalMinutes = 5;
    expect(states.HoldAMinute?.Seconds).toBe(60);
    const counted =
      eventsOf('Shift') +
      looks * look +
      eventsOf('HoldStep') +
      (intervalMinutes + HOLD_MARGIN_MINUTES) * holdMinute +
      eventsOf('Analyse') +
      eventsOf('UpdateThread') +
      eventsOf('NextAction') +
      eventsOf('AskApproval') +
      eventsOf('AfterApproval');
    expect(historyEventsPerAnalysis(intervalMinutes)).toBe(counted);
  });

  it('keeps the seeds plan far below the budget and refuses a hundred steps', () => {
    expect(canaryHistoryEvents({ threshold: 2, intervalMinutes: 5 })).toBeLessThan(
      CANARY_HISTORY_EVENT_BUDGET / 5,
    );
    expect(
      canaryHistoryEvents({ stepWeight: 1, maxWeight: 100, threshold: 2, intervalMinutes: 5 }),
    ).toBeGreaterThan(CANARY_HISTORY_EVENT_BUDGET);
  });
});
