import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CanaryStatus } from '../../lambdas/canary/status';
import {
  CANARY_RELEASE_UPDATE_EXPRESSION,
  CanaryLock,
  CanaryAbortRequested,
  CanaryLockLost,
  CanaryLockUnreadable,
  type CanaryAcquireRequest,
} from '../../lambdas/workload-lock/canary-lock';
import { WorkloadLock, type AcquireRequest } from '../../lambdas/workload-lock/workload-lock';
import { SimulatedAccount } from '../harness/simulated-account';

// Against dynalite: every condition expression is evaluated by a DynamoDB implementation, not by the test.
const TABLE = 'locks';
const KEY = 'prod-eks/checkout/checkout-api';
const RUN_A = 'arn:aws:states:eu-west-1:111122223333:execution:platform-runbooks-prod-canary:run-a';
const RUN_B = 'arn:aws:states:eu-west-1:111122223333:execution:platform-runbooks-prod-canary:run-b';
const ROLLBACK = 'arn:aws:states:eu-west-1:111122223333:execution:platform-runbooks-prod-rollback:r-1';
const NOW = new Date('2026-11-22T03:00:00Z');
let account: SimulatedAccount;
let lock: CanaryLock;

const request = (overrides: Partial<CanaryAcquireRequest> = {}): CanaryAcquireRequest => ({
  workload: KEY,
  executionArn: RUN_A,
  eventId: 'event-a',
  service: 'checkout',
  now: NOW,
  lockTtlSeconds: 3_600,
  holderIsRunning: () => Promise.resolve(true),
  ...overrides,
});

const rollbackRequest = (overrides: Partial<AcquireRequest> = {}): AcquireRequest => ({
  workload: KEY,
  executionId: ROLLBACK,
  eventId: 'alarm-event-1',
  alarmName: 'checkout-api-5xx-rate',
  now: NOW,
  lockTtlSeconds: 1_500,
  cooldownSeconds: 1_800,
  holderIsRunning: () => Promise.resolve(true),
  ...overrides,
});

const status = (overrides: Partial<CanaryStatus> = {}): CanaryStatus => ({
  service: 'checkout',
  runId: 'run-a',
  executionArn: RUN_A,
  phase: 'analysing',
  steps: [5, 20, 50, 100],
  stepIndex: 1,
  weight: 20,
  failures: 0,
  threshold: 2,
  intervalSeconds: 300,
  updatedAt: '2026-11-22T03:10:00.000Z',
  requestedBy: 'github-actions:acme/checkout',
  reference: '3f2c1a9e8b7d',
  canaryImages: ['registry.example.com/checkout-api:1.42.0'],
  stableImages: ['registry.example.com/checkout-api:1.41.0'],
  checks: [],
  ...overrides,
});

const approval = {
  token: 'token-1',
  kind: 'promotion' as const,
  requestedAt: '2026-11-22T03:20:00.000Z',
  timeoutAt: '2026-11-22T04:20:00.000Z',
};

const item = () => account.readLock(KEY, TABLE);

beforeAll(async () => {
  account = await SimulatedAccount.start(TABLE);
  lock = new CanaryLock(account.dynamodb, TABLE);
});
afterAll(() => account.close());
beforeEach(() => account.clearTable(TABLE));

describe("the canary's lock", () => {
  it('is taken on a free workload, with holder canary, the service and the event', async () => {
    expect(await lock.acquire(request())).toEqual({ acquired: true });
    expect(await item()).toMatchObject({
      holder: 'canary',
      holderExecution: RUN_A,
      holderEventId: 'event-a',
      holderService: 'checkout',
      lockExpiresAt: String(NOW.getTime() / 1000 + 3_600),
    });
  });

  it('is kept as it is by a retried start of the same run: an abort asked meanwhile survives', async () => {
    await lock.acquire(request());
    await lock.requestAbort(KEY, { reason: 'alarm "x" fired', by: 'rollback r-1', at: NOW });
    expect(await lock.acquire(request())).toEqual({ acquired: true });
    expect((await item())?.abortReason).toBe('alarm "x" fired');
  });

  it('refuses a second canary of the service while one runs, naming the run and who asked for it', async () => {
    await lock.acquire(request());
    await lock.writeStatus(KEY, RUN_A, status());
    const second = await lock.acquire(request({ executionArn: RUN_B, eventId: 'event-b' }));
    expect(second).toMatchObject({ acquired: false, reason: 'canary-in-progress' });
    expect(second.acquired === false && second.detail).toBe(
      `A canary of checkout is already running (execution ${RUN_A}, requested by github-actions:acme/checkout); request again once it has ended, or abort it with \`npm run canary -- abort\`.`,
    );
    expect((await item())?.holderExecution).toBe(RUN_A);
  });

  it('refuses a second delivery of the same CanaryRequested event as a duplicate', async () => {
    await lock.acquire(request());
    const duplicate = await lock.acquire(request({ executionArn: RUN_B }));
    expect(duplicate).toMatchObject({ acquired: false, reason: 'duplicate-event' });
    expect(duplicate.acquired === false && duplicate.detail).toContain(RUN_A);
  });

  it('refuses while a rollback runs, naming its alarm', async () => {
    await new WorkloadLock(account.dynamodb, TABLE).acquireForRollback(rollbackRequest());
    const refused = await lock.acquire(request());
    expect(refused).toMatchObject({ acquired: false, reason: 'rollback-in-progress' });
    expect(refused.acquired === false && refused.detail).toBe(
      `A rollback of ${KEY} is running (alarm "checkout-api-5xx-rate", execution ${ROLLBACK}); request the canary again once it has ended.`,
    );
  });

  it('takes over from a run that ended without releasing, and clears its abort request and approval', async () => {
    await lock.acquire(request());
    await lock.recordApprovalRequest(KEY, RUN_A, approval);
    await lock.decide(KEY, { decision: 'approve', by: 'slack:U1', at: NOW });
    await lock.requestAbort(KEY, { reason: 'too slow', by: 'cli:ana', at: NOW });
    const takeover = await lock.acquire(
      request({
        executionArn: RUN_B,
        eventId: 'event-b',
        holderIsRunning: (arn) => Promise.resolve(arn !== RUN_A),
      }),
    );
    expect(takeover).toEqual({ acquired: true, takenOverFrom: RUN_A });
    const state = await lock.read(KEY);
    expect(state).toMatchObject({ holder: 'canary', holderExecution: RUN_B });
    expect(state.abortRequested).toBeUndefined();
    expect(state.approval).toBeUndefined();
  });

  it('records no approval request once an abort was asked: nobody could promote an aborted run', async () => {
    await lock.acquire(request());
    await lock.requestAbort(KEY, { reason: 'alarm "x" fired', by: 'rollback r-1', at: NOW });
    const error = await lock.recordApprovalRequest(KEY, RUN_A, approval).then(
      () => undefined,
      (failure: unknown) => failure as Error,
    );
    expect(error).toBeInstanceOf(CanaryAbortRequested);
    expect(error?.message).toContain('rollback r-1');
    expect((await lock.read(KEY)).approval).toBeUndefined();
  });

  it('is taken once the holder outlived its TTL, and applies no rollback cooldown: a person asked', async () => {
    const rollback = new WorkloadLock(account.dynamodb, TABLE);
    await rollback.acquireForRollback(rollbackRequest());
    await rollback.recordRollback(KEY, ROLLBACK, 'alarm-event-1', NOW);
    // The rollback never released (killed mid-step): its lock lapsed 1 500 s after NOW.
    const later = new Date(NOW.getTime() + 1_600_000);
    expect(await lock.acquire(request({ now: later }))).toEqual({ acquired: true });
    // The cooldown's record stays for the next rollback; the rollback's holderAlarm does not.
    expect(await item()).toMatchObject({ holder: 'canary', lastRollbackExecution: ROLLBACK });
    expect((await item())?.holderAlarm).toBeUndefined();
  });

  it('reads an unreadable item as a named error, not as a free lock', async () => {
    await account.seedLock(TABLE, KEY, { holder: 'someone-else', holderExecution: RUN_A });
    await expect(lock.read(KEY)).rejects.toBeInstanceOf(CanaryLockUnreadable);
    await expect(lock.acquire(request({ executionArn: RUN_B }))).rejects.toBeInstanceOf(CanaryLockUnreadable);
  });
});

describe('an abort request', () => {
  it('is recorded on the running canary, and the first one wins', async () => {
    await lock.acquire(request());
    const first = await lock.requestAbort(KEY, {
      reason: 'alarm "checkout-api-5xx-rate" fired',
      by: `rollback ${ROLLBACK}`,
      at: NOW,
    });
    expect(first).toEqual({
      requested: true,
      holderExecution: RUN_A,
      abortRequested: {
        reason: 'alarm "checkout-api-5xx-rate" fired',
        by: `rollback ${ROLLBACK}`,
        at: NOW.toISOString(),
      },
    });
    const second = await lock.requestAbort(KEY, { reason: 'changed my mind', by: 'cli:ana', at: new Date() });
    expect(second).toEqual(first);
    expect((await lock.read(KEY)).abortRequested?.reason).toBe('alarm "checkout-api-5xx-rate" fired');
  });

  it('is the same request when a rollback asks: the alarm and the rollback run are named', async () => {
    await lock.acquire(request());
    const asked = await new WorkloadLock(account.dynamodb, TABLE).requestCanaryAbort(KEY, {
      alarmName: 'checkout-api-5xx-rate',
      executionId: ROLLBACK,
      at: NOW,
    });
    expect(asked).toMatchObject({ requested: true, holderExecution: RUN_A });
    expect((await lock.read(KEY)).abortRequested).toEqual({
      reason: 'alarm "checkout-api-5xx-rate" fired',
      by: `rollback ${ROLLBACK}`,
      at: NOW.toISOString(),
    });
  });

  it('is refused, saying why, when no canary runs, a rollback holds the workload, or another run does', async () => {
    const ask = (executionArn?: string) =>
      lock.requestAbort(KEY, { reason: 'r', by: 'cli:ana', at: NOW, ...(executionArn && { executionArn }) });
    expect(await ask()).toEqual({
      requested: false,
      detail: `No canary is running on ${KEY}: its lock is free.`,
    });

    await new WorkloadLock(account.dynamodb, TABLE).acquireForRollback(rollbackRequest());
    expect(await ask()).toEqual({
      requested: false,
      detail: `No canary is running on ${KEY}: a rollback holds its lock (${ROLLBACK}).`,
    });

    await account.clearTable(TABLE);
    await lock.acquire(request());
    expect(await ask(RUN_B)).toEqual({
      requested: false,
      detail: `The canary running on ${KEY} is ${RUN_A}, not ${RUN_B}.`,
    });
    expect((await item())?.abortReason).toBeUndefined();
  });
});

describe('the approval on the lock', () => {
  it('is decided once: a second answer finds the first and changes nothing', async () => {
    await lock.acquire(request());
    await lock.recordApprovalRequest(KEY, RUN_A, approval);
    const at = new Date('2026-11-22T03:25:00Z');
    expect(await lock.decide(KEY, { decision: 'approve', by: 'slack:U1', at, executionArn: RUN_A })).toEqual({
      decided: true,
      token: 'token-1',
      kind: 'promotion',
      executionArn: RUN_A,
    });
    expect(await lock.decide(KEY, { decision: 'reject', by: 'cli:bo', at: new Date() })).toEqual({
      decided: false,
      reason: 'already-decided',
      detail: 'Already approved by slack:U1 at 2026-11-22T03:25:00.000Z.',
      decision: 'approve',
      decidedBy: 'slack:U1',
    });
    expect((await lock.read(KEY)).approval).toEqual({
      ...approval,
      decision: 'approve',
      decidedBy: 'slack:U1',
      decidedAt: at.toISOString(),
    });
  });

  it("is not answered by an earlier run's button, nor when the run waits for nothing", async () => {
    await lock.acquire(request());
    expect(await lock.decide(KEY, { decision: 'approve', by: 'cli:ana', at: NOW })).toEqual({
      decided: false,
      reason: 'no-approval-pending',
      detail: `The canary of checkout (${RUN_A}) is not waiting for an approval.`,
    });
    await lock.recordApprovalRequest(KEY, RUN_A, approval);
    expect(
      await lock.decide(KEY, { decision: 'approve', by: 'slack:U1', at: NOW, executionArn: RUN_B }),
    ).toEqual({
      decided: false,
      reason: 'no-approval-pending',
      detail: `That run (${RUN_B}) has ended; the canary running on ${KEY} now is ${RUN_A}.`,
    });
    await account.clearTable(TABLE);
    expect(await lock.decide(KEY, { decision: 'approve', by: 'cli:ana', at: NOW })).toMatchObject({
      decided: false,
      reason: 'no-approval-pending',
      detail: `No canary is running on ${KEY}.`,
    });
  });

  it('takes a decision back when it could not be delivered, so the next answer is delivered', async () => {
    await lock.acquire(request());
    await lock.recordApprovalRequest(KEY, RUN_A, approval);
    await lock.decide(KEY, { decision: 'approve', by: 'slack:U1', at: NOW });
    // Another token (a newer approval request) is not touched.
    await lock.undoDecision(KEY, RUN_A, 'token-0');
    expect((await lock.read(KEY)).approval?.decision).toBe('approve');
    await lock.undoDecision(KEY, RUN_A, 'token-1');
    expect((await lock.read(KEY)).approval?.decision).toBeUndefined();
    expect(await lock.decide(KEY, { decision: 'reject', by: 'cli:bo', at: NOW })).toMatchObject({
      decided: true,
    });
  });

  it('starts a new approval request without the previous answer (a no-data pause, then the promotion)', async () => {
    await lock.acquire(request());
    await lock.recordApprovalRequest(KEY, RUN_A, { ...approval, kind: 'no-data' });
    await lock.decide(KEY, { decision: 'approve', by: 'slack:U1', at: NOW });
    await lock.recordApprovalRequest(KEY, RUN_A, { ...approval, token: 'token-2' });
    expect((await lock.read(KEY)).approval).toEqual({ ...approval, token: 'token-2' });
  });

  it('is recorded only by the run holding the lock', async () => {
    await lock.acquire(request());
    await expect(lock.recordApprovalRequest(KEY, RUN_B, approval)).rejects.toBeInstanceOf(CanaryLockLost);
    expect((await lock.read(KEY)).approval).toBeUndefined();
  });
});

describe("the run's status on the lock", () => {
  it('is written by the holder and read back parsed', async () => {
    await lock.acquire(request());
    await lock.writeStatus(KEY, RUN_A, status());
    expect((await lock.read(KEY)).status).toEqual(status());
    await expect(lock.writeStatus(KEY, RUN_B, status({ executionArn: RUN_B }))).rejects.toBeInstanceOf(
      CanaryLockLost,
    );
  });

  it('is refused before it is written when it is not a status (NaN would be stored as null)', async () => {
    await lock.acquire(request());
    await expect(lock.writeStatus(KEY, RUN_A, status({ weight: Number.NaN }))).rejects.toThrow(/weight/);
    expect((await item())?.canaryStatus).toBeUndefined();
  });

  it('is dropped when damaged, with the reason, while the rest of the item still reads', async () => {
    await account.seedLock(TABLE, KEY, {
      holder: 'canary',
      holderExecution: RUN_A,
      lockExpiresAt: 1_900_000_000,
      canaryStatus: JSON.stringify({ ...status(), phase: 'dancing' }),
    });
    const state = await lock.read(KEY);
    expect(state).toMatchObject({ holder: 'canary', holderExecution: RUN_A });
    expect(state.status).toBeUndefined();
    expect(state.statusUnreadable).toMatch(/^canaryStatus is malformed: phase:/);
    await account.seedLock(TABLE, KEY, { canaryStatus: '{not json' });
    expect((await lock.read(KEY)).statusUnreadable).toBe('canaryStatus is not JSON');
  });
});

describe("the state machine's release (CANARY_RELEASE_UPDATE_EXPRESSION)", () => {
  /** A run that met everything: a rollback's cooldown before it, an abort request, an approval answered. */
  async function fullRun(): Promise<void> {
    const rollback = new WorkloadLock(account.dynamodb, TABLE);
    await rollback.acquireForRollback(rollbackRequest());
    await rollback.recordRollback(KEY, ROLLBACK, 'alarm-event-1', NOW);
    await rollback.release(KEY, ROLLBACK);
    await lock.acquire(request());
    await lock.writeStatus(KEY, RUN_A, status());
    await lock.recordApprovalRequest(KEY, RUN_A, approval);
    await lock.decide(KEY, { decision: 'approve', by: 'slack:U1', at: NOW });
    await lock.requestAbort(KEY, { reason: 'alarm fired', by: `rollback ${ROLLBACK}`, at: NOW });
    await lock.writeStatus(KEY, RUN_A, status({ phase: 'aborted' }));
  }

  /** Exactly what the ASL's DynamoDB UpdateItem Task sends. */
  const releaseAs = (executionArn: string) =>
    account.dynamodb.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: { workload: { S: KEY } },
        UpdateExpression: CANARY_RELEASE_UPDATE_EXPRESSION,
        ConditionExpression: 'holderExecution = :me',
        ExpressionAttributeValues: { ':me': { S: executionArn } },
      }),
    );

  it("leaves the last status and the rollback's cooldown, and nothing of the run's hold", async () => {
    await fullRun();
    await releaseAs(RUN_A);
    const { Item = {} } = await account.dynamodb.send(
      new GetItemCommand({ TableName: TABLE, Key: { workload: { S: KEY } }, ConsistentRead: true }),
    );
    expect(Object.keys(Item).sort()).toEqual([
      'canaryStatus',
      'lastRollbackAt',
      'lastRollbackEventId',
      'lastRollbackExecution',
      'ttl',
      'workload',
    ]);
    expect((await lock.read(KEY)).status?.phase).toBe('aborted');
    // Free for the next canary, and for a rollback once its cooldown has passed.
    expect(await lock.acquire(request({ executionArn: RUN_B, eventId: 'event-b' }))).toEqual({
      acquired: true,
    });
  });

  it('is refused to any other execution, and so is CanaryLock.release', async () => {
    await fullRun();
    await expect(releaseAs(RUN_B)).rejects.toThrow(/conditional request failed/i);
    await lock.release(KEY, RUN_B);
    expect((await item())?.holder).toBe('canary');
    await lock.release(KEY, RUN_A);
    expect((await item())?.holder).toBeUndefined();
    expect((await item())?.canaryStatus).toBeDefined();
  });
});
