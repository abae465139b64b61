import {
  ConditionalCheckFailedException,
  GetItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import * as z from 'zod/mini';
import { RunbookError } from '../shared/errors';

export type LockRefusal =
  | { reason: 'duplicate-event'; quiet: true; detail: string }
  | { reason: 'rollback-in-progress' | 'canary-in-progress' | 'cooldown'; quiet: false; detail: string };

export type AcquireResult =
  | {
      acquired: true;
      /** The execution whose lock was taken over because it had ended without releasing it. */
      takenOverFrom?: string;
    }
  | ({ acquired: false } & LockRefusal);

export interface AcquireRequest {
  workload: string;
  executionId: string;
  eventId: string;
  alarmName: string;
  now: Date;
  lockTtlSeconds: number;
  cooldownSeconds: number;
  /**
   * Whether the execution holding the lock still runs. A holder that ended (failed, timed out, aborted, or
   * killed mid-step) cannot release its lock: such a lock is stale and is taken over at once.
   */
  holderIsRunning: (executionArn: string) => Promise<boolean>;
}

/**
 * The lock item as stored: one per workload. It serialises the runbooks that act on a Deployment (`holder` is
 * `rollback` while a rollback runs, `canary` while traffic is shifted), and `lastRollbackAt` survives release so
 * the cooldown holds across executions. Every attribute is optional: a released lock keeps only the cooldown.
 */
const text = z.optional(z.object({ S: z.string() }));
const number = z.optional(z.object({ N: z.string() }));
const lockItemSchema = z.object({
  holder: z.optional(z.object({ S: z.enum(['rollback', 'canary']) })),
  holderExecution: text,
  holderEventId: text,
  holderAlarm: text,
  lockExpiresAt: number,
  lastRollbackAt: number,
  lastRollbackExecution: text,
  lastRollbackEventId: text,
});

const seconds = (date: Date): number => Math.floor(date.getTime() / 1000);
const n = (value: number): AttributeValue => ({ N: String(value) });
const s = (value: string): AttributeValue => ({ S: value });

export class WorkloadLock {
  constructor(
    private readonly dynamodb: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  /**
   * Takes the lock for a rollback, or says who holds it and why this run must not act. Safe to retry: an
   * execution that already holds the lock (Step Functions retried its Prepare after an attempt that took it)
   * gets it again. A lock whose holder execution has ended is taken over.
   */
  async acquireForRollback(request: AcquireRequest): Promise<AcquireResult> {
    return acquireInTwoTries(
      (staleHolder) => this.tryAcquire(request, staleHolder),
      () => this.inspect(request),
      `The lock of ${request.workload} changed twice while it was being taken; no action taken.`,
    );
  }

  /**
   * What `acquireForRollback` would answer, without writing anything: the guards a shadow run reports
   * (lock, canary, cooldown, duplicate event) while it takes no lock and starts no cooldown.
   */
  async checkForRollback(request: AcquireRequest): Promise<AcquireResult> {
    const state = await this.inspect(request);
    if (state.kind === 'refused') return { acquired: false, ...state.refusal };
    return state.kind === 'stale' ? { acquired: true, takenOverFrom: state.holder } : { acquired: true };
  }

  private async tryAcquire(request: AcquireRequest, staleHolder: string | undefined): Promise<boolean> {
    const now = seconds(request.now);
    // Free, expired, already ours (a retried Prepare), or held by an execution seen to have ended.
    const holderClause =
      staleHolder === undefined
        ? '(attribute_not_exists(holder) OR lockExpiresAt < :now OR holderExecution = :execution)'
        : '(attribute_not_exists(holder) OR lockExpiresAt < :now OR holderExecution IN (:execution, :stale))';
    return conditionalUpdate(this.dynamodb, {
      TableName: this.tableName,
      Key: { workload: s(request.workload) },
      UpdateExpression:
        'SET holder = :holder, holderExecution = :execution, holderEventId = :eventId, holderAlarm = :alarm, lockExpiresAt = :expires, #ttl = :ttl',
      ConditionExpression: `${holderClause} AND (attribute_not_exists(lastRollbackAt) OR lastRollbackAt < :cooldownStart) AND (attribute_not_exists(lastRollbackEventId) OR lastRollbackEventId <> :eventId)`,
      ExpressionAttributeNames: { '#ttl': 'ttl' },
      ExpressionAttributeValues: {
        ':holder': s('rollback'),
        ':execution': s(request.executionId),
        ':eventId': s(request.eventId),
        ':alarm': s(request.alarmName),
        ':expires': n(now + request.lockTtlSeconds),
        // The item outlives both the lock and the cooldown, then DynamoDB removes it.
        ':ttl': n(now + request.lockTtlSeconds + request.cooldownSeconds + 86_400),
        ':now': n(now),
        ':cooldownStart': n(now - request.cooldownSeconds),
        ...(staleHolder === undefined ? {} : { ':stale': s(staleHolder) }),
      },
    });
  }

  /** Records a performed rollback, which starts the cooldown; only the holder may write it. */
  async recordRollback(workload: string, executionId: string, eventId: string, at: Date): Promise<void> {
    await this.dynamodb.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { workload: s(workload) },
        UpdateExpression:
          'SET lastRollbackAt = :at, lastRollbackExecution = :execution, lastRollbackEventId = :eventId',
        ConditionExpression: 'holderExecution = :execution',
        ExpressionAttributeValues: {
          ':at': n(seconds(at)),
          ':execution': s(executionId),
          ':eventId': s(eventId),
        },
      }),
    );
  }

  /** Releases the lock if this execution holds it; the same expression the state machine uses. */
  async release(workload: string, executionId: string): Promise<void> {
    // Refused when someone else holds it now (a canary took it over): theirs to release.
    await conditionalUpdate(this.dynamodb, {
      TableName: this.tableName,
      Key: { workload: s(workload) },
      UpdateExpression: 'REMOVE holder, holderExecution, holderEventId, lockExpiresAt',
      ConditionExpression: 'holderExecution = :me',
      ExpressionAttributeValues: { ':me': s(executionId) },
    });
  }

  /**
   * Asks the canary holding the lock to abort: a rollback does not act under a running canary, whose next
   * check (each minute while a step holds its weight) aborts instead and sends all traffic back to stable. The first request's
   * reason stays.
   */
  async requestCanaryAbort(
    workload: string,
    { alarmName, executionId, at }: { alarmName: string; executionId: string; at: Date },
  ): Promise<CanaryAbortResult> {
    return requestCanaryAbort(this.dynamodb, this.tableName, workload, {
      reason: `alarm "${alarmName}" fired`,
      by: `rollback ${executionId}`,
      at,
    });
  }

  /** Reads the item: free (or ours), held by an ended execution, or a refusal with its reason. */
  private async inspect(request: AcquireRequest): Promise<LockInspection<LockRefusal>> {
    const answer = await this.dynamodb.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { workload: s(request.workload) },
        ConsistentRead: true,
      }),
    );
    const parsed = z.safeParse(lockItemSchema, answer.Item ?? {});
    if (!parsed.success) {
      throw new LockContention(`The lock item of ${request.workload} is unreadable: ${parsed.error.message}`);
    }
    const item = parsed.data;
    const now = seconds(request.now);
    const holding = await lockHolding(item, {
      now,
      ours: item.holderExecution?.S === request.executionId,
      holderIsRunning: request.holderIsRunning,
    });
    if (holding.kind === 'stale') return holding;
    const refusal = explain(item, holding.kind === 'another', now, request);
    return refusal ? { kind: 'refused', refusal } : { kind: 'free' };
  }
}

/** What the read after a refused write found: why the lock could not be taken, or that it can be now. */
export type LockInspection<Refusal> =
  { kind: 'free' | 'ours' } | { kind: 'stale'; holder: string } | { kind: 'refused'; refusal: Refusal };

/**
 * Takes a lock, the rollback's or the canary's: `write` is its conditional write (also taking over `staleHolder`,
 * an ended execution, when given), `inspect` the read that explains a refused write. Two tries, as the item can
 * change between the refused write and that read; then LockContention, saying `contention`.
 */
export async function acquireInTwoTries<Refusal extends object>(
  write: (staleHolder: string | undefined) => Promise<boolean>,
  inspect: () => Promise<LockInspection<Refusal>>,
  contention: string,
): Promise<{ acquired: true; takenOverFrom?: string } | ({ acquired: false } & Refusal)> {
  let staleHolder: string | undefined;
  for (let attempt = 0; attempt < 2; attempt += 1) {
    if (await write(staleHolder)) {
      return staleHolder === undefined ? { acquired: true } : { acquired: true, takenOverFrom: staleHolder };
    }
    const state = await inspect();
    if (state.kind === 'ours') return { acquired: true };
    if (state.kind === 'refused') return { acquired: false, ...state.refusal };
    staleHolder = state.kind === 'stale' ? state.holder : undefined;
  }
  throw new LockContention(contention);
}

/**
 * Who holds the lock at `now` (seconds): nobody (never taken, released or expired), this execution (`ours`, by
 * the caller's test), an execution that has ended without releasing it (stale: taken over at once), or another.
 */
export async function lockHolding(
  item: { holder?: unknown; holderExecution?: { S: string }; lockExpiresAt?: { N: string } },
  {
    now,
    ours,
    holderIsRunning,
  }: { now: number; ours: boolean; holderIsRunning: (executionArn: string) => Promise<boolean> },
): Promise<{ kind: 'free' } | { kind: 'ours' } | { kind: 'another' } | { kind: 'stale'; holder: string }> {
  const held = item.holder !== undefined && Number(item.lockExpiresAt?.N ?? 0) >= now;
  if (!held) return { kind: 'free' };
  if (ours) return { kind: 'ours' };
  const holderExecution = item.holderExecution?.S;
  if (holderExecution !== undefined && !(await holderIsRunning(holderExecution))) {
    return { kind: 'stale', holder: holderExecution };
  }
  return { kind: 'another' };
}

/** One conditional UpdateItem: false when its condition failed. */
export async function conditionalUpdate(
  dynamodb: DynamoDBClient,
  input: UpdateItemCommandInput,
): Promise<boolean> {
  try {
    await dynamodb.send(new UpdateItemCommand(input));
    return true;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return false;
  }
}

/** Why the lock cannot be taken, in the order on-call needs to hear it; undefined when it can. */
function explain(
  item: z.output<typeof lockItemSchema>,
  heldByAnother: boolean,
  now: number,
  request: AcquireRequest,
): LockRefusal | undefined {
  if (
    item.lastRollbackEventId?.S === request.eventId ||
    (heldByAnother && item.holderEventId?.S === request.eventId)
  ) {
    return {
      reason: 'duplicate-event',
      quiet: true,
      detail: `Event ${request.eventId} was already handled by ${item.holderExecution?.S ?? item.lastRollbackExecution?.S ?? 'an earlier execution'}.`,
    };
  }
  if (heldByAnother && item.holder?.S === 'canary') {
    return {
      reason: 'canary-in-progress',
      quiet: false,
      detail: `A canary is in progress on ${request.workload} (${item.holderExecution?.S ?? 'unknown execution'}).`,
    };
  }
  if (heldByAnother) {
    return {
      reason: 'rollback-in-progress',
      quiet: false,
      detail: `A rollback of ${request.workload} is already running (${item.holderExecution?.S ?? 'unknown execution'}, started by alarm "${item.holderAlarm?.S ?? 'unknown'}").`,
    };
  }
  const last = Number(item.lastRollbackAt?.N ?? Number.NaN);
  if (last >= now - request.cooldownSeconds) {
    const minutesAgo = Math.max(0, Math.round((now - last) / 60));
    return {
      reason: 'cooldown',
      quiet: false,
      detail: `${request.workload} was rolled back ${minutesAgo} min ago (${item.lastRollbackExecution?.S ?? 'unknown execution'}); the cooldown is ${Math.round(request.cooldownSeconds / 60)} min. Rolling back again could undo a fix.`,
    };
  }
  return undefined;
}

export interface CanaryAbortRequest {
  /** Why, as people read it: `alarm "checkout-api-5xx-rate" fired`, or a person's words. */
  reason: string;
  /** Who asked: `rollback <execution>`, `cli:<user>`. */
  by: string;
  at: Date;
  /** Only this run: a request meant for a run that has ended is not left for the next one. */
  executionArn?: string;
}

export type CanaryAbortResult =
  | {
      requested: true;
      holderExecution: string;
      /** The request in force: an earlier one, if there was one (the first request wins). */
      abortRequested: { reason: string; by: string; at: string };
    }
  | { requested: false; detail: string };

const abortAnswerSchema = z.object({
  holderExecution: z.object({ S: z.string() }),
  abortReason: z.object({ S: z.string() }),
  abortRequestedBy: z.object({ S: z.string() }),
  abortRequestedAt: z.object({ S: z.string() }),
});

/**
 * Records an abort request on the lock item of a running canary (attributes `abortReason`, `abortRequestedBy`,
 * `abortRequestedAt`); the canary's analysis reads it. Shared by the rollback (an alarm fired) and the canary's
 * CLI (a person asked). Refused, with who holds the lock, when no canary (or not that run) holds it.
 */
export async function requestCanaryAbort(
  dynamodb: DynamoDBClient,
  tableName: string,
  workload: string,
  request: CanaryAbortRequest,
): Promise<CanaryAbortResult> {
  const { executionArn } = request;
  let attributes: Record<string, AttributeValue> | undefined;
  try {
    ({ Attributes: attributes } = await dynamodb.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { workload: s(workload) },
        UpdateExpression:
          'SET abortReason = if_not_exists(abortReason, :reason), abortRequestedBy = if_not_exists(abortRequestedBy, :by), abortRequestedAt = if_not_exists(abortRequestedAt, :at)',
        ConditionExpression:
          executionArn === undefined
            ? 'holder = :canary'
            : 'holder = :canary AND holderExecution = :execution',
        ExpressionAttributeValues: {
          ':reason': s(request.reason),
          ':by': s(request.by),
          ':at': s(request.at.toISOString()),
          ':canary': s('canary'),
          ...(executionArn === undefined ? {} : { ':execution': s(executionArn) }),
        },
        ReturnValues: 'ALL_NEW',
      }),
    ));
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return { requested: false, detail: await whyNoCanary(dynamodb, tableName, workload, executionArn) };
  }
  const parsed = z.safeParse(abortAnswerSchema, attributes ?? {});
  if (!parsed.success) {
    throw new LockContention(
      `The lock item of ${workload} is unreadable after the abort request: ${parsed.error.message}`,
    );
  }
  const item = parsed.data;
  return {
    requested: true,
    holderExecution: item.holderExecution.S,
    abortRequested: {
      reason: item.abortReason.S,
      by: item.abortRequestedBy.S,
      at: item.abortRequestedAt.S,
    },
  };
}

/** Why an abort request found no canary to ask, in words. */
async function whyNoCanary(
  dynamodb: DynamoDBClient,
  tableName: string,
  workload: string,
  executionArn: string | undefined,
): Promise<string> {
  const answer = await dynamodb.send(
    new GetItemCommand({ TableName: tableName, Key: { workload: s(workload) }, ConsistentRead: true }),
  );
  const parsed = z.safeParse(lockItemSchema, answer.Item ?? {});
  if (!parsed.success) {
    throw new LockContention(`The lock item of ${workload} is unreadable: ${parsed.error.message}`);
  }
  const holder = parsed.data.holder?.S;
  const holderExecution = parsed.data.holderExecution?.S;
  if (holder === undefined) return `No canary is running on ${workload}: its lock is free.`;
  if (holder === 'rollback') {
    return `No canary is running on ${workload}: a rollback holds its lock (${holderExecution ?? 'unknown execution'}).`;
  }
  return `The canary running on ${workload} is ${holderExecution ?? 'an unknown execution'}, not ${executionArn ?? 'the one asked'}.`;
}

/** The lock could not be taken or read consistently: no action is taken. */
export class LockContention extends RunbookError {
  override name = 'LockContention';
}
