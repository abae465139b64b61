import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WorkloadLock, type AcquireRequest } from '../../lambdas/workload-lock/workload-lock';
import { SimulatedAccount } from '../harness/simulated-account';

// Against dynalite: the condition expressions are evaluated by a DynamoDB implementation, not by the test.
const TABLE = 'locks';
const KEY = 'prod-eks/checkout/checkout-api';
let account: SimulatedAccount;
let lock: WorkloadLock;

const request = (overrides: Partial<AcquireRequest> = {}): AcquireRequest => ({
  workload: KEY,
  executionId: 'execution-a',
  eventId: 'event-a',
  alarmName: 'checkout-api-5xx-rate',
  now: new Date('2026-11-22T03:00:00Z'),
  lockTtlSeconds: 1_500,
  cooldownSeconds: 1_800,
  // Every holder still runs unless a test says otherwise.
  holderIsRunning: () => Promise.resolve(true),
  ...overrides,
});
const at = (iso: string) => new Date(iso);

beforeAll(async () => {
  account = await SimulatedAccount.start(TABLE);
  lock = new WorkloadLock(account.dynamodb, TABLE);
});
afterAll(() => account.close());
beforeEach(() => account.clearTable(TABLE));

describe('the workload lock', () => {
  it('is taken again by the execution that holds it: a retried Prepare proceeds, it is no duplicate', async () => {
    expect(await lock.acquireForRollback(request())).toEqual({ acquired: true });
    // Step Functions retries Prepare after an attempt that took the lock (Lambda.SdkClientException).
    expect(await lock.acquireForRollback(request())).toEqual({ acquired: true });
  });

  it('takes over at once a lock whose holder execution has ended, and says from whom', async () => {
    await lock.acquireForRollback(request());
    const ended = new Set(['execution-a']);
    const takeover = await lock.acquireForRollback(
      request({
        executionId: 'execution-b',
        eventId: 'event-b',
        holderIsRunning: (arn) => Promise.resolve(!ended.has(arn)),
      }),
    );
    expect(takeover).toEqual({ acquired: true, takenOverFrom: 'execution-a' });
    // The new holder is execution-b: a third alarm is refused while it runs.
    const third = await lock.acquireForRollback(request({ executionId: 'execution-c', eventId: 'event-c' }));
    expect(third.acquired === false && third.detail).toContain('execution-b');
  });

  it('checks without writing: a shadow run sees the guards but takes nothing', async () => {
    expect(await lock.checkForRollback(request())).toEqual({ acquired: true });
    expect(
      await lock.acquireForRollback(request({ executionId: 'execution-b', eventId: 'event-b' })),
    ).toEqual({
      acquired: true,
    });
    expect(await lock.checkForRollback(request())).toMatchObject({
      acquired: false,
      reason: 'rollback-in-progress',
    });
  });

  it('is taken by the first rollback and refused to a second alarm while held', async () => {
    expect(await lock.acquireForRollback(request())).toEqual({ acquired: true });
    const second = await lock.acquireForRollback(request({ executionId: 'execution-b', eventId: 'event-b' }));
    expect(second).toMatchObject({ acquired: false, reason: 'rollback-in-progress', quiet: false });
    expect(second.acquired === false && second.detail).toContain('execution-a');
  });

  it('refuses the same event quietly, while held and after the rollback', async () => {
    await lock.acquireForRollback(request());
    expect(await lock.acquireForRollback(request({ executionId: 'execution-b' }))).toMatchObject({
      reason: 'duplicate-event',
      quiet: true,
    });
    await lock.recordRollback(KEY, 'execution-a', 'event-a', at('2026-11-22T03:00:05Z'));
    await lock.release(KEY, 'execution-a');
    const later = request({ executionId: 'execution-c', now: at('2026-11-22T05:00:00Z') });
    expect(await lock.acquireForRollback(later)).toMatchObject({ reason: 'duplicate-event', quiet: true });
  });

  it('holds the cooldown after release, and lets a new alarm act once it has passed', async () => {
    await lock.acquireForRollback(request());
    await lock.recordRollback(KEY, 'execution-a', 'event-a', at('2026-11-22T03:00:05Z'));
    await lock.release(KEY, 'execution-a');
    const soon = request({ executionId: 'execution-b', eventId: 'event-b', now: at('2026-11-22T03:10:00Z') });
    expect(await lock.acquireForRollback(soon)).toMatchObject({ reason: 'cooldown' });
    const afterCooldown = { ...soon, now: at('2026-11-22T03:31:00Z') };
    expect(await lock.acquireForRollback(afterCooldown)).toEqual({ acquired: true });
  });

  it('is reclaimed once a crashed holder has outlived the state machine timeout', async () => {
    await lock.acquireForRollback(request());
    const afterExpiry = request({
      executionId: 'execution-b',
      eventId: 'event-b',
      now: at('2026-11-22T03:26:00Z'),
    });
    expect(await lock.acquireForRollback(afterExpiry)).toEqual({ acquired: true });
  });

  it('stays out of the way of a canary that holds it', async () => {
    await account.seedLock(TABLE, KEY, {
      holder: 'canary',
      holderExecution: 'canary-1',
      lockExpiresAt: 1_900_000_000,
    });
    expect(await lock.acquireForRollback(request())).toMatchObject({
      acquired: false,
      reason: 'canary-in-progress',
    });
  });

  it('is released only by its holder, and only the holder may start the cooldown', async () => {
    await account.seedLock(TABLE, KEY, {
      holder: 'canary',
      holderExecution: 'canary-1',
      lockExpiresAt: 1_900_000_000,
    });
    await lock.release(KEY, 'execution-a');
    expect((await account.readLock(KEY, TABLE))?.holder).toBe('canary');
    await expect(lock.recordRollback(KEY, 'execution-a', 'event-a', new Date())).rejects.toThrow(
      /conditional request failed/i,
    );
  });
});
