import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  EVENTS_OUTSIDE_LOOPS,
  HISTORY_EVENT_BUDGET,
  RECOVERY_POLL_EVENTS,
  ROLLOUT_POLL_EVENTS,
  STEP_FUNCTIONS_HISTORY_QUOTA,
  historyEvents,
} from '../../lib/config/rollback';
import { parseConfig } from '../../lib/config/load';
import { allStates, type Definition, type State } from './asl-rules';
import { exampleConfig } from '../infrastructure/synth';

// lib/config/rollback.ts refuses settings whose run could outgrow Step Functions' execution history. It counts
// with constants, since Lambda code imports that module and cannot read the ASL file; this test counts the
// same figures from the ASL's own shape, so the two cannot drift apart.

const definition = JSON.parse(
  readFileSync(new URL('../../state-machines/rollback.asl.json', import.meta.url), 'utf8'),
) as Definition;

/**
 * History events a state writes when it runs once without a retry (Step Functions' history event types):
 * entered and exited, plus scheduled, started and succeeded for a Task, started and succeeded for a
 * Parallel (its branches' states counted on their own).
 */
function eventsOf(state: State): number {
  if (state.Type === 'Task') return 5;
  if (state.Type === 'Parallel') return 4;
  return 2;
}

/** The states of the cycle that starts at `start` and follows Next/Default/Choices back to it. */
function loopFrom(start: string): string[] {
  const found = (path: string[]): string[] | undefined => {
    const here = definition.States[path.at(-1) ?? ''];
    if (!here) return undefined;
    const next = [
      ...(here.Next === undefined ? [] : [here.Next]),
      ...(here.Default === undefined ? [] : [here.Default]),
      ...(here.Choices ?? []).flatMap((choice) => (choice.Next === undefined ? [] : [choice.Next])),
    ];
    if (next.includes(start)) return path;
    for (const candidate of next) {
      if (path.includes(candidate)) continue;
      const cycle = found([...path, candidate]);
      if (cycle) return cycle;
    }
    return undefined;
  };
  return found([start]) ?? [];
}

const eventsIn = (names: string[]) =>
  names.reduce((sum, name) => sum + eventsOf(definition.States[name] as State), 0);

describe('the execution history quota', () => {
  const rolloutLoop = loopFrom('WaitForRollout');
  const recoveryLoop = loopFrom('WaitForRecovery');

  it('finds both wait loops in the ASL', () => {
    expect(rolloutLoop).toEqual(['WaitForRollout', 'CheckRollout', 'RolloutDone']);
    expect(recoveryLoop).toEqual(['WaitForRecovery', 'CheckAlarm', 'Recovered']);
  });

  it('counts as many events per poll as lib/config/rollback.ts assumes', () => {
    expect(eventsIn(rolloutLoop)).toBe(ROLLOUT_POLL_EVENTS);
    expect(eventsIn(recoveryLoop)).toBe(RECOVERY_POLL_EVENTS);
  });

  it('bounds everything outside the loops, every state run once, by EVENTS_OUTSIDE_LOOPS', () => {
    const loops = new Set([...rolloutLoop, ...recoveryLoop]);
    const outside = allStates(definition)
      .filter(({ name }) => !loops.has(name))
      .reduce((sum, { state }) => sum + eventsOf(state), 0);
    expect(outside).toBeLessThanOrEqual(EVENTS_OUTSIDE_LOOPS);
  });

  it('keeps every accepted combination of polls and waits under the quota, and names the settings of a refused one', () => {
    const refusals: string[] = [];
    for (const rolloutPollSeconds of [1, 2, 4, 5, 10, 30, 300])
      for (const rolloutTimeoutMinutes of [1, 15, 60, 120])
        for (const recoveryPollSeconds of [10, 30, 600])
          for (const recoveryWindowMaxMinutes of [10, 60, 240]) {
            const raw = exampleConfig();
            const settings = {
              rolloutPollSeconds,
              rolloutTimeoutMinutes,
              recoveryPollSeconds,
              recoveryWindowMaxMinutes,
              recoveryWindowMinutes: 10,
            };
            Object.assign(raw.rollback as Record<string, unknown>, settings);
            const events = historyEvents(settings);
            try {
              parseConfig(raw, 'grid.yaml');
              expect(events, JSON.stringify(settings)).toBeLessThanOrEqual(HISTORY_EVENT_BUDGET);
            } catch (error) {
              expect(events, JSON.stringify(settings)).toBeGreaterThan(HISTORY_EVENT_BUDGET);
              refusals.push((error as Error).message);
            }
          }
    expect(HISTORY_EVENT_BUDGET).toBeLessThan(STEP_FUNCTIONS_HISTORY_QUOTA);
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals[0]).toMatch(
      /rollback\.rolloutPollSeconds: with rolloutTimeoutMinutes \d+, recoveryPollSeconds \d+ and recoveryWindowMaxMinutes \d+, one run could write \d+ execution history events, more than the 20000 .*fails an execution at 25000/,
    );
  });

  it('refuses the issue’s example: polling every second for two hours', () => {
    const raw = exampleConfig();
    Object.assign(raw.rollback as Record<string, unknown>, {
      rolloutPollSeconds: 1,
      rolloutTimeoutMinutes: 120,
    });
    expect(() => parseConfig(raw, 'example.yaml')).toThrow(
      /one run could write 66\d{3} execution history events/,
    );
  });
});
