import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rollbackFunctions } from '../../lambdas/rollback/functions';
import { parseConfig } from '../../lib/config/load';
import { rollbackRuntime, STEP_FUNCTIONS_HISTORY_QUOTA } from '../../lib/config/rollback';
import type { RunbooksConfig } from '../../lib/config/schema';
import { LOCK_TABLE, Rehearsal, type RehearsalResult, type Scenario } from '../harness/rehearsal';
import { rehearsedRunbook } from '../harness/rollback/rehearsal';
import { alarmEvent, CHECKOUT } from '../harness/rollback/fixtures';
import { advanceVirtualClock } from '../harness/virtual-clock';

// The largest timings the configuration accepts, rehearsed on the virtual clock: the loops run their full
// length (two hours of rollout polls every 4 s, an hour of recovery polls every 10 s), and the run must still
// page, tell Slack and release the lock inside its execution timeout and its history quota.
const LARGEST = {
  rolloutPollSeconds: 4,
  rolloutTimeoutMinutes: 120,
  recoveryPollSeconds: 10,
  recoveryWindowMinutes: 60,
  recoveryWindowMaxMinutes: 60,
};

const largest = (base: RunbooksConfig): RunbooksConfig =>
  parseConfig({ ...base, rollback: { ...base.rollback, ...LARGEST } }, 'the largest accepted settings');

let rehearsal: Rehearsal<RunbooksConfig>;
let timeoutSeconds: number;

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  const config = largest(rehearsedRunbook.defaultConfig());
  if (!config.rollback) throw new Error('the example configuration has a rollback section');
  timeoutSeconds = rollbackRuntime({
    environment: config.environment,
    settings: config.rollback,
    clusters: config.eksClusters,
  }).stateMachineTimeoutSeconds;
  rehearsal = await Rehearsal.start(rehearsedRunbook, config);
});
afterAll(() => rehearsal?.close());

/** The bad release of checkout-api, its alarm firing and never recovering. */
function firingCheckout(): void {
  rehearsal.cluster().addDeployment({
    namespace: CHECKOUT.namespace,
    name: CHECKOUT.deployment,
    revisions: CHECKOUT.images.map((image) => ({ image })),
    replicas: 3,
  });
  rehearsal.account.addAlarm({ name: CHECKOUT.alarm, state: 'ALARM' });
}

/**
 * Step Functions' history events of a run, counted from what the rehearsal saw: every state entered and
 * exited, and for each Task three more (scheduled, started, succeeded or failed).
 */
const historyEventsOf = (result: RehearsalResult): number =>
  2 + result.states.length * 2 + result.lambdaInvocations.length * 3;

async function runTimed(scenario: Scenario<RunbooksConfig>) {
  const startedAt = Date.now();
  const [result] = await rehearsal.runScenario(scenario);
  return { result: result as RehearsalResult, virtualSeconds: (Date.now() - startedAt) / 1000 };
}

describe('the rollback at the largest accepted settings', () => {
  it('waits out a stalled rollout for two hours, then pages and releases the lock, inside the quota and the timeout', async () => {
    const { result, virtualSeconds } = await runTimed({
      name: 'largest-stalled-rollout',
      summary: 'The rolled-back pods never become available; the rollout wait runs its full two hours.',
      config: largest,
      arrange: async () => {
        firingCheckout();
        rehearsal.cluster().setRollout(CHECKOUT.namespace, CHECKOUT.deployment, { kind: 'stalls' });
        return { events: [alarmEvent(CHECKOUT.alarm)] };
      },
    });

    expect(result.states).toContain('RolloutTimedOut');
    expect(result.states.at(-1)).toBe('Escalated');
    expect(rehearsal.account.pages).toHaveLength(1);
    expect((await rehearsal.account.readLock(CHECKOUT.lockKey, LOCK_TABLE))?.holder).toBeUndefined();
    expect(virtualSeconds).toBeGreaterThanOrEqual(120 * 60);
    expect(virtualSeconds).toBeLessThan(timeoutSeconds);
    expect(historyEventsOf(result)).toBeLessThan(STEP_FUNCTIONS_HISTORY_QUOTA);
  });

  it('with an API server that takes 30 s a poll, still pages and releases the lock before the execution timeout', async () => {
    const { result, virtualSeconds } = await runTimed({
      name: 'largest-slow-api',
      summary:
        'Every status read takes 30 s; the rollout completes, the alarm never recovers within its hour.',
      config: largest,
      arrange: async (current) => {
        firingCheckout();
        rehearsal.cluster().setRollout(CHECKOUT.namespace, CHECKOUT.deployment, {
          kind: 'completes-after',
          reads: 100,
        });
        const slow = (entry: (typeof rollbackFunctions)[keyof typeof rollbackFunctions]) => {
          const handler = current.handlerOf(entry);
          return async (input: Record<string, unknown>) => {
            advanceVirtualClock(30);
            return handler(input);
          };
        };
        return {
          events: [alarmEvent(CHECKOUT.alarm)],
          options: {
            overrides: {
              CheckRollout: slow(rollbackFunctions.rolloutStatus),
              CheckAlarm: slow(rollbackFunctions.alarmStatus),
            },
          },
        };
      },
    });

    expect(result.states).toContain('NotRecovered');
    expect(result.states.at(-1)).toBe('Escalated');
    expect(rehearsal.account.pages).toHaveLength(1);
    expect(rehearsal.slack.messages.map((message) => JSON.stringify(message.body)).at(-1)).toMatch(
      /Rollback failed/,
    );
    expect((await rehearsal.account.readLock(CHECKOUT.lockKey, LOCK_TABLE))?.holder).toBeUndefined();
    expect(virtualSeconds).toBeLessThan(timeoutSeconds);
  });
});
