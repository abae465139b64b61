import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunbooksConfig } from '../../lib/config/schema';
import { LOCK_TABLE, Rehearsal } from '../harness/rehearsal';
import { rehearsedRunbook } from '../harness/rollback/rehearsal';
import { CHECKOUT } from '../harness/rollback/scenarios';

// Shadow mode needs its own configuration (checkout-api's target in shadow), so its own rehearsal.
let rehearsal: Rehearsal<RunbooksConfig>;

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  const scenario = rehearsedRunbook.scenarios.find((candidate) => candidate.name === 'shadow');
  rehearsal = await Rehearsal.start(rehearsedRunbook, scenario?.config?.(rehearsedRunbook.defaultConfig()));
});
afterAll(() => rehearsal?.close());

describe('a target in shadow mode', () => {
  it('runs every guard, plans the patch, reports "would roll back", and changes nothing', async () => {
    const [result] = await rehearsal.runScenario('shadow');

    expect(result?.status).toBe('SUCCEEDED');
    expect(result?.states.at(-1)).toBe('Planned');
    // Nothing patched; the Deployment still runs the bad release.
    expect(rehearsal.cluster().requests.filter((request) => request.method === 'PATCH')).toHaveLength(0);
    expect(
      rehearsal.cluster().getDeployment(CHECKOUT.namespace, CHECKOUT.deployment)?.spec.template.spec
        ?.containers?.[0]?.image,
    ).toBe(CHECKOUT.images[2]);
    // No lock and no cooldown: the lock item was never written.
    expect(await rehearsal.account.readLock(CHECKOUT.lockKey, LOCK_TABLE)).toBeUndefined();
    expect(rehearsal.account.pages).toHaveLength(0);

    expect(rehearsal.account.events.map((event) => event.detailType)).toEqual(['RollbackPlanned']);
    expect(rehearsal.account.events[0]?.detail).toMatchObject({
      decision: 'shadow',
      mode: 'shadow',
      planText: 'roll back checkout-api from revision 3 (1.5.0) to 2 (1.4.2)',
    });
    const [message] = rehearsal.slack.messages.map((received) => JSON.stringify(received.body));
    expect(rehearsal.slack.messages).toHaveLength(1);
    expect(message).toMatch(/Rollback planned \(shadow mode, nothing changed\)/);
    expect(message).toMatch(/would roll back checkout-api from revision 3 \(1\.5\.0\) to 2 \(1\.4\.2\)/);
  });

  it('reports a running canary without asking it to abort', async () => {
    const [result] = await rehearsal.runScenario('canary-in-progress');

    expect(result?.states).toContain('Skipped');
    const lock = await rehearsal.account.readLock(CHECKOUT.lockKey, LOCK_TABLE);
    expect(lock?.holder).toBe('canary');
    expect(lock?.abortReason).toBeUndefined();
    expect(rehearsal.account.events[0]?.detail).toMatchObject({
      reason: 'canary-in-progress',
      detail: expect.stringContaining('In act mode the canary would be asked to abort.'),
    });
    expect(JSON.stringify(rehearsal.slack.messages[0]?.body)).toContain(
      'a canary is in progress on this workload; in act mode it would be asked to abort',
    );
  });

  it('leaves the workload free for a real rollback right after', async () => {
    await rehearsal.runScenario('shadow');
    const lock = await rehearsal.account.readLock(CHECKOUT.lockKey, LOCK_TABLE);
    expect(lock?.lastRollbackAt).toBeUndefined();
  });
});
