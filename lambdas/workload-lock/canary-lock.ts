import {
  ConditionalCheckFailedException,
  GetItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import * as z from 'zod/mini';
import { canaryStatusSchema, type CanaryStatus } from '../canary/status';
import { parseOrThrow, RunbookError } from '../shared/errors';
import {
  acquireInTwoTries,
  conditionalUpdate,
  lockHolding,
  requestCanaryAbort,
  type CanaryAbortResult,
  type LockInspection,
} from './workload-lock';

// The canary's side of the workload lock item (workload-lock.ts holds the rollback's). A canary locks its stable
// Deployment's key, `cluster/namespace/stableDeployment`: the key the rollback's alarms map to, so an alarm
// that fires mid-canary finds the canary and asks it to abort. Besides the holder attributes the item carries,
// while the run holds it:
//   holderService                              the service, for a refusal's words
//   abortReason, abortRequestedBy, abortRequestedAt   an abort asked by an alarm or a person (first one wins)
//   approvalToken, approvalKind, approvalRequestedAt, approvalTimeoutAt   the approval task waiting
//   approvalDecision, approvalDecidedBy, approvalDecidedAt   its answer, written once
// and after it: `canaryStatus`, the last run's status as JSON (status.ts), which the CLI shows.

/** The lock item of a workload cannot be read: nothing is decided on it. */
export class CanaryLockUnreadable extends RunbookError {
  override name = 'CanaryLockUnreadable';
}

/** This run no longer holds its lock (it expired and was taken over): it must not act or write. */
export class CanaryLockLost extends RunbookError {
  override name = 'CanaryLockLost';
}

/**
 * An abort was asked (an alarm through the rollback runbook, a person through the CLI) before the approval could
 * be recorded: nobody is asked, the run aborts.
 */
export class CanaryAbortRequested extends RunbookError {
  override name = 'CanaryAbortRequested';
}

/**
 * The REMOVE of the state machine's release (a direct DynamoDB UpdateItem, conditional on
 * `holderExecution = :me`): the holder, the run's abort request and approval, and a rollback's `holderAlarm`
 * left by an earlier holder go; `canaryStatus` (the run's outcome for the CLI) and the rollback's
 * `lastRollback*` (its cooldown) stay, as does `ttl`.
 */
export const CANARY_RELEASE_UPDATE_EXPRESSION =
  'REMOVE holder, holderExecution, holderEventId, holderAlarm, holderService, lockExpiresAt, abortReason, abortRequestedBy, abortRequestedAt, approvalToken, approvalKind, approvalRequestedAt, approvalTimeoutAt, approvalDecision, approvalDecidedBy, approvalDecidedAt';

/** The approval attributes a new run or a new approval request starts without. */
const DECISION_ATTRIBUTES = 'approvalDecision, approvalDecidedBy, approvalDecidedAt';
const PREVIOUS_RUN_ATTRIBUTES = `holderAlarm, abortReason, abortRequestedBy, abortRequestedAt, approvalToken, approvalKind, approvalRequestedAt, approvalTimeoutAt, ${DECISION_ATTRIBUTES}`;

/**
 * How long the item outlives a run's lock: `status` shows the last run's outcome for this long. A rollback's
 * later write of `ttl` shortens it (its own cooldown is what it keeps the item for).
 */
const STATUS_RETENTION_SECONDS = 30 * 86_400;

export interface CanaryAcquireRequest {
  /** `cluster/namespace/stableDeployment`. */
  workload: string;
  executionArn: string;
  /** The CanaryRequested event's id: a second delivery of it is refused as a duplicate. */
  eventId: string;
  service: string;
  now: Date;
  lockTtlSeconds: number;
  /** Whether the execution holding the lock still runs; one that ended left its lock stale. */
  holderIsRunning: (executionArn: string) => Promise<boolean>;
}

export type CanaryAcquireResult =
  | { acquired: true; takenOverFrom?: string }
  | {
      acquired: false;
      reason: 'canary-in-progress' | 'rollback-in-progress' | 'duplicate-event';
      detail: string;
    };

type CanaryRefusal = Omit<Extract<CanaryAcquireResult, { acquired: false }>, 'acquired'>;

export type ApprovalKind = 'promotion' | 'no-data';
export type ApprovalDecision = 'approve' | 'reject';

export interface ApprovalRequest {
  /** The task token of the Task waiting for the answer. */
  token: string;
  /** `promotion`: after the last step; `no-data`: a check had no data and the policy is `pause`. */
  kind: ApprovalKind;
  /** ISO 8601. */
  requestedAt: string;
  /** ISO 8601: when the wait's timeout aborts the run. */
  timeoutAt: string;
}

export interface CanaryApproval {
  token: string;
  kind: ApprovalKind;
  requestedAt: string;
  timeoutAt: string;
  decision?: ApprovalDecision;
  decidedBy?: string;
  decidedAt?: string;
}

/** The lock item as the canary and its CLI read it. */
export interface CanaryLockState {
  holder?: 'rollback' | 'canary';
  holderExecution?: string;
  holderService?: string;
  /** When the lock lapses if its holder never releases it. */
  lockExpiresAt?: Date;
  abortRequested?: { reason: string; by: string; at: string };
  approval?: CanaryApproval;
  /** The status the holder (or the last run) wrote. */
  status?: CanaryStatus;
  /** Why a stored status was dropped: the rest of the item is still usable. */
  statusUnreadable?: string;
}

export type DecideResult =
  | { decided: true; token: string; kind: ApprovalKind; executionArn: string }
  | {
      decided: false;
      reason: 'no-approval-pending' | 'already-decided';
      detail: string;
      decision?: ApprovalDecision;
      decidedBy?: string;
    };

const text = z.optional(z.object({ S: z.string() }));
const number = z.optional(z.object({ N: z.string() }));
const itemSchema = z.object({
  holder: z.optional(z.object({ S: z.enum(['rollback', 'canary']) })),
  holderExecution: text,
  holderEventId: text,
  holderAlarm: text,
  holderService: text,
  lockExpiresAt: number,
  abortReason: text,
  abortRequestedBy: text,
  abortRequestedAt: text,
  approvalToken: text,
  approvalKind: z.optional(z.object({ S: z.enum(['promotion', 'no-data']) })),
  approvalRequestedAt: text,
  approvalTimeoutAt: text,
  approvalDecision: z.optional(z.object({ S: z.enum(['approve', 'reject']) })),
  approvalDecidedBy: text,
  approvalDecidedAt: text,
  canaryStatus: text,
});
type Item = z.output<typeof itemSchema>;

const seconds = (date: Date): number => Math.floor(date.getTime() / 1000);
const n = (value: number): AttributeValue => ({ N: String(value) });
const s = (value: string): AttributeValue => ({ S: value });

export class CanaryLock {
  constructor(
    private readonly dynamodb: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  /**
   * Takes the lock for a canary run, or says who holds it. Free, expired, or held by an execution that has
   * ended: taken (a previous run's abort request and approval are cleared). Already this run's (a retried
   * start): kept as it is. No cooldown applies: a person asked for this deploy.
   */
  async acquire(request: CanaryAcquireRequest): Promise<CanaryAcquireResult> {
    return acquireInTwoTries(
      (staleHolder) => this.tryAcquire(request, staleHolder),
      () => this.inspect(request),
      `The lock of ${request.workload} changed twice while the canary was taking it; no action taken.`,
    );
  }

  private async tryAcquire(request: CanaryAcquireRequest, staleHolder: string | undefined): Promise<boolean> {
    const now = seconds(request.now);
    // Not "already ours": a retried start must keep what the run has written since (an abort request).
    const condition =
      staleHolder === undefined
        ? 'attribute_not_exists(holder) OR lockExpiresAt < :now'
        : 'attribute_not_exists(holder) OR lockExpiresAt < :now OR holderExecution = :stale';
    return this.conditional({
      UpdateExpression: `SET holder = :holder, holderExecution = :execution, holderEventId = :eventId, holderService = :service, lockExpiresAt = :expires, #ttl = :ttl REMOVE ${PREVIOUS_RUN_ATTRIBUTES}`,
      ConditionExpression: condition,
      ExpressionAttributeNames: { '#ttl': 'ttl' },
      ExpressionAttributeValues: {
        ':holder': s('canary'),
        ':execution': s(request.executionArn),
        ':eventId': s(request.eventId),
        ':service': s(request.service),
        ':expires': n(now + request.lockTtlSeconds),
        ':ttl': n(now + request.lockTtlSeconds + STATUS_RETENTION_SECONDS),
        ':now': n(now),
        ...(staleHolder === undefined ? {} : { ':stale': s(staleHolder) }),
      },
      Key: { workload: s(request.workload) },
    });
  }

  private async inspect(request: CanaryAcquireRequest): Promise<LockInspection<CanaryRefusal>> {
    const item = await this.readItem(request.workload);
    const holderExecution = item.holderExecution?.S;
    const holding = await lockHolding(item, {
      now: seconds(request.now),
      ours: holderExecution === request.executionArn && item.holder?.S === 'canary',
      holderIsRunning: request.holderIsRunning,
    });
    // Free, ours or stale: the write can take it. Held by another: why not, in words.
    if (holding.kind !== 'another') return holding;
    const execution = holderExecution ?? 'unknown execution';
    if (item.holderEventId?.S === request.eventId) {
      return {
        kind: 'refused',
        refusal: {
          reason: 'duplicate-event',
          detail: `Event ${request.eventId} already started execution ${execution}; a second delivery of it starts nothing.`,
        },
      };
    }
    if (item.holder?.S === 'canary') {
      // The holder's status says who asked, once it has written one.
      const status = item.canaryStatus === undefined ? undefined : readStatus(item.canaryStatus.S);
      const requestedBy =
        status?.success && status.data.executionArn === holderExecution
          ? `, requested by ${status.data.requestedBy}`
          : '';
      return {
        kind: 'refused',
        refusal: {
          reason: 'canary-in-progress',
          detail: `A canary of ${item.holderService?.S ?? request.workload} is already running (execution ${execution}${requestedBy}); request again once it has ended, or abort it with \`npm run canary -- abort\`.`,
        },
      };
    }
    return {
      kind: 'refused',
      refusal: {
        reason: 'rollback-in-progress',
        detail: `A rollback of ${request.workload} is running (alarm "${item.holderAlarm?.S ?? 'unknown'}", execution ${execution}); request the canary again once it has ended.`,
      },
    };
  }

  /** The lock item as it stands (consistent read). */
  async read(workload: string): Promise<CanaryLockState> {
    const item = await this.readItem(workload);
    const state: CanaryLockState = {};
    if (item.holder !== undefined) state.holder = item.holder.S;
    if (item.holderExecution !== undefined) state.holderExecution = item.holderExecution.S;
    if (item.holderService !== undefined) state.holderService = item.holderService.S;
    if (item.lockExpiresAt !== undefined) state.lockExpiresAt = new Date(Number(item.lockExpiresAt.N) * 1000);
    if (item.abortReason !== undefined) {
      state.abortRequested = {
        reason: item.abortReason.S,
        by: item.abortRequestedBy?.S ?? 'unknown',
        at: item.abortRequestedAt?.S ?? 'unknown',
      };
    }
    const approval = readApproval(workload, item);
    if (approval !== undefined) state.approval = approval;
    if (item.canaryStatus !== undefined) {
      const status = readStatus(item.canaryStatus.S);
      if (status.success) state.status = status.data;
      else state.statusUnreadable = status.problem;
    }
    return state;
  }

  /** Releases the lock if this run holds it, as the state machine does (CANARY_RELEASE_UPDATE_EXPRESSION). */
  async release(workload: string, executionArn: string): Promise<void> {
    // Refused when someone else holds it now (it expired and was taken over): theirs to release.
    await this.conditional({
      Key: { workload: s(workload) },
      UpdateExpression: CANARY_RELEASE_UPDATE_EXPRESSION,
      ConditionExpression: 'holderExecution = :me',
      ExpressionAttributeValues: { ':me': s(executionArn) },
    });
  }

  /** Asks the canary holding `workload` (that run only, with `executionArn`) to abort; the first request wins. */
  async requestAbort(
    workload: string,
    request: { reason: string; by: string; at: Date; executionArn?: string },
  ): Promise<CanaryAbortResult> {
    return requestCanaryAbort(this.dynamodb, this.tableName, workload, request);
  }

  /** Records the task token the run now waits on; a previous approval's answer is removed. */
  async recordApprovalRequest(
    workload: string,
    executionArn: string,
    approval: ApprovalRequest,
  ): Promise<void> {
    const written = await this.conditional({
      Key: { workload: s(workload) },
      UpdateExpression: `SET approvalToken = :token, approvalKind = :kind, approvalRequestedAt = :requestedAt, approvalTimeoutAt = :timeoutAt REMOVE ${DECISION_ATTRIBUTES}`,
      // Atomic with the abort request (also a conditional write): an abort asked first is seen here; one asked
      // after finds the token and rejects it. Either way no approver can promote an aborted run.
      ConditionExpression: 'holderExecution = :me AND attribute_not_exists(abortReason)',
      ExpressionAttributeValues: {
        ':token': s(approval.token),
        ':kind': s(approval.kind),
        ':requestedAt': s(approval.requestedAt),
        ':timeoutAt': s(approval.timeoutAt),
        ':me': s(executionArn),
      },
    });
    if (written) return;
    const state = await this.read(workload);
    if (state.holderExecution === executionArn && state.abortRequested) {
      throw new CanaryAbortRequested(
        `An abort was asked by ${state.abortRequested.by} (${state.abortRequested.reason}) before the approval was asked: the run aborts`,
      );
    }
    throw lost(workload, executionArn, 'record its approval request');
  }

  /**
   * Records the answer to the pending approval, once: a second click, or a CLI call after a click, finds the
   * decision made and changes nothing. With `executionArn`, only that run's approval (a button of an earlier
   * run does not answer the next one).
   */
  async decide(
    workload: string,
    request: { decision: ApprovalDecision; by: string; at: Date; executionArn?: string },
  ): Promise<DecideResult> {
    const { executionArn } = request;
    let attributes: Record<string, AttributeValue> | undefined;
    try {
      ({ Attributes: attributes } = await this.dynamodb.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { workload: s(workload) },
          UpdateExpression:
            'SET approvalDecision = :decision, approvalDecidedBy = :by, approvalDecidedAt = :at',
          ConditionExpression: `attribute_exists(approvalToken) AND attribute_not_exists(approvalDecision)${executionArn === undefined ? '' : ' AND holderExecution = :execution'}`,
          ExpressionAttributeValues: {
            ':decision': s(request.decision),
            ':by': s(request.by),
            ':at': s(request.at.toISOString()),
            ...(executionArn === undefined ? {} : { ':execution': s(executionArn) }),
          },
          ReturnValues: 'ALL_NEW',
        }),
      ));
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return this.explainUndecided(workload, executionArn);
    }
    const item = parseItem(workload, attributes ?? {});
    const approval = readApproval(workload, item);
    if (approval === undefined || item.holderExecution === undefined) {
      throw new CanaryLockUnreadable(`The lock item of ${workload} lost its approval while it was decided`);
    }
    return {
      decided: true,
      token: approval.token,
      kind: approval.kind,
      executionArn: item.holderExecution.S,
    };
  }

  private async explainUndecided(
    workload: string,
    executionArn: string | undefined,
  ): Promise<Extract<DecideResult, { decided: false }>> {
    const state = await this.read(workload);
    const otherRun = executionArn !== undefined && state.holderExecution !== executionArn;
    if (state.holder !== 'canary' || otherRun) {
      return {
        decided: false,
        reason: 'no-approval-pending',
        detail:
          state.holder === 'canary'
            ? `That run (${executionArn}) has ended; the canary running on ${workload} now is ${state.holderExecution ?? 'unknown'}.`
            : `No canary is running on ${workload}.`,
      };
    }
    const { approval } = state;
    if (approval?.decision !== undefined) {
      return {
        decided: false,
        reason: 'already-decided',
        detail: `Already ${approval.decision === 'approve' ? 'approved' : 'rejected'} by ${approval.decidedBy ?? 'unknown'} at ${approval.decidedAt ?? 'an unknown time'}.`,
        decision: approval.decision,
        ...(approval.decidedBy === undefined ? {} : { decidedBy: approval.decidedBy }),
      };
    }
    return {
      decided: false,
      reason: 'no-approval-pending',
      detail: `The canary of ${state.holderService ?? workload} (${state.holderExecution ?? 'unknown'}) is not waiting for an approval.`,
    };
  }

  /**
   * Takes back a decision whose delivery to Step Functions failed for a transient reason, so the next click
   * tries again; only while that approval (`token`) of that run is still the one recorded.
   */
  async undoDecision(workload: string, executionArn: string, token: string): Promise<void> {
    await this.conditional({
      Key: { workload: s(workload) },
      UpdateExpression: `REMOVE ${DECISION_ATTRIBUTES}`,
      ConditionExpression: 'holderExecution = :me AND approvalToken = :token',
      ExpressionAttributeValues: { ':me': s(executionArn), ':token': s(token) },
    });
  }

  /** Writes the run's status for the CLI; a finished run writes its last one before it releases the lock. */
  async writeStatus(workload: string, executionArn: string, status: CanaryStatus): Promise<void> {
    const written = await this.conditional({
      Key: { workload: s(workload) },
      UpdateExpression: 'SET canaryStatus = :status',
      ConditionExpression: 'holderExecution = :me',
      ExpressionAttributeValues: {
        ':status': s(JSON.stringify(parseOrThrow(canaryStatusSchema, status, 'The canary status'))),
        ':me': s(executionArn),
      },
    });
    if (!written) throw lost(workload, executionArn, 'write its status');
  }

  /** One conditional UpdateItem on the table: false when its condition failed. */
  private async conditional(input: Omit<UpdateItemCommandInput, 'TableName'>): Promise<boolean> {
    return conditionalUpdate(this.dynamodb, { TableName: this.tableName, ...input });
  }

  private async readItem(workload: string): Promise<Item> {
    const answer = await this.dynamodb.send(
      new GetItemCommand({ TableName: this.tableName, Key: { workload: s(workload) }, ConsistentRead: true }),
    );
    return parseItem(workload, answer.Item ?? {});
  }
}

function parseItem(workload: string, item: Record<string, AttributeValue>): Item {
  const parsed = z.safeParse(itemSchema, item);
  if (!parsed.success) {
    throw new CanaryLockUnreadable(`The lock item of ${workload} is unreadable: ${parsed.error.message}`);
  }
  return parsed.data;
}

/** The approval, when a token is recorded; a token without its fields is a damaged item. */
function readApproval(workload: string, item: Item): CanaryApproval | undefined {
  if (item.approvalToken === undefined) return undefined;
  const { approvalKind, approvalRequestedAt, approvalTimeoutAt } = item;
  if (approvalKind === undefined || approvalRequestedAt === undefined || approvalTimeoutAt === undefined) {
    throw new CanaryLockUnreadable(
      `The lock item of ${workload} has an approval token without its kind, request time or timeout`,
    );
  }
  return {
    token: item.approvalToken.S,
    kind: approvalKind.S,
    requestedAt: approvalRequestedAt.S,
    timeoutAt: approvalTimeoutAt.S,
    ...(item.approvalDecision === undefined ? {} : { decision: item.approvalDecision.S }),
    ...(item.approvalDecidedBy === undefined ? {} : { decidedBy: item.approvalDecidedBy.S }),
    ...(item.approvalDecidedAt === undefined ? {} : { decidedAt: item.approvalDecidedAt.S }),
  };
}

function readStatus(
  json: string,
): { success: true; data: CanaryStatus } | { success: false; problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { success: false, problem: 'canaryStatus is not JSON' };
  }
  const parsed = z.safeParse(canaryStatusSchema, value);
  return parsed.success
    ? { success: true, data: parsed.data }
    : {
        success: false,
        problem: `canaryStatus is malformed: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')}`,
      };
}

function lost(workload: string, executionArn: string, what: string): CanaryLockLost {
  return new CanaryLockLost(
    `Execution ${executionArn} no longer holds the lock of ${workload}, so it cannot ${what}.`,
  );
}
