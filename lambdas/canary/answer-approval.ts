import type { SFNClient } from '@aws-sdk/client-sfn';
import { ApprovalNoLongerPending, sendTaskFailure, sendTaskSuccess } from '../aws/step-functions';
import { RunbookError } from '../shared/errors';
import type { ApprovalDecision, ApprovalKind, CanaryLock } from '../workload-lock/canary-lock';

// The approval gate's second half: an answer, from a Slack button, the CLI or the rollback runbook (an alarm),
// recorded once on the lock item (so a second click, or a CLI call after a click, changes nothing) and then
// delivered to the Task waiting on the token. The first half, recording the token and asking, is
// request-approval.ts. Its own module: the rollback's prepare bundles it without the Slack endpoint's code.

/**
 * The error the waiting Task fails with on a rejection (SendTaskFailure's `error`): the workflow's Catch routes
 * it to the abort. Never thrown in a Lambda; a class so the name is one the ASL conventions know.
 */
export class CanaryRejected extends RunbookError {
  override name = 'CanaryRejected';
}
export const CANARY_REJECTED = new CanaryRejected('').name;

/** What an approval needs of the lock: the decision written once, and taken back if it cannot be delivered. */
export type ApprovalLock = Pick<CanaryLock, 'decide' | 'undoDecision'>;

export interface AnswerApprovalRequest {
  lock: ApprovalLock;
  sfn: SFNClient;
  /** The lock's key: `cluster/namespace/stableDeployment`. */
  workload: string;
  decision: ApprovalDecision;
  /** Who answered: `slack:U…` from Slack, `cli:<name>` from the CLI. */
  by: string;
  at: Date;
  /** Only this run's approval (a Slack button names its run); omitted, whichever run of the workload waits. */
  executionArn?: string;
}

export type ApprovalAnswer =
  | { outcome: 'delivered'; decision: ApprovalDecision; kind: ApprovalKind; by: string; executionArn: string }
  | { outcome: 'already-decided'; decision: ApprovalDecision; decidedBy: string; detail: string }
  | { outcome: 'no-approval-pending'; detail: string }
  | { outcome: 'no-longer-pending'; executionArn: string; detail: string };

/**
 * Decides on the lock, then answers the waiting Task: SendTaskSuccess `{"decision":"approve","by":…}`, or
 * SendTaskFailure `CanaryRejected`. A task Step Functions has closed (timed out: the run is aborting) is
 * `no-longer-pending`. A transient failure takes the decision back and throws, so asking again works.
 */
export async function answerApproval(request: AnswerApprovalRequest): Promise<ApprovalAnswer> {
  const { lock, sfn, workload, decision, by, at, executionArn } = request;
  const decided = await lock.decide(workload, {
    decision,
    by,
    at,
    ...(executionArn === undefined ? {} : { executionArn }),
  });
  if (!decided.decided) {
    return decided.reason === 'already-decided'
      ? {
          outcome: 'already-decided',
          decision: decided.decision ?? decision,
          decidedBy: decided.decidedBy ?? 'unknown',
          detail: decided.detail,
        }
      : { outcome: 'no-approval-pending', detail: decided.detail };
  }
  try {
    if (decision === 'approve') {
      await sendTaskSuccess(sfn, decided.token, { decision, by });
    } else {
      await sendTaskFailure(sfn, decided.token, CANARY_REJECTED, `Rejected by ${by}`);
    }
  } catch (error) {
    // Not delivered: the record must not claim a decision the run never received.
    await lock.undoDecision(workload, decided.executionArn, decided.token);
    if (error instanceof ApprovalNoLongerPending) {
      return { outcome: 'no-longer-pending', executionArn: decided.executionArn, detail: error.message };
    }
    throw error;
  }
  return { outcome: 'delivered', decision, kind: decided.kind, by, executionArn: decided.executionArn };
}

/** The answer in one sentence for the person who gave it; `name` words who answered. */
export function answerText(answer: ApprovalAnswer, name: (by: string) => string = (by) => by): string {
  switch (answer.outcome) {
    case 'delivered':
      if (answer.decision === 'reject') {
        return `Rejected by ${name(answer.by)}; aborting: all traffic goes back to stable.`;
      }
      return answer.kind === 'promotion'
        ? `Approved by ${name(answer.by)}; promoting.`
        : `Approved by ${name(answer.by)}; the canary goes on to its next step.`;
    case 'already-decided':
      return `Already ${answer.decision === 'approve' ? 'approved' : 'rejected'} by ${name(answer.decidedBy)}.`;
    case 'no-approval-pending':
      return `Nothing to answer: ${answer.detail}`;
    case 'no-longer-pending':
      return 'This canary no longer waits for an answer: its approval timed out or the run has ended.';
  }
}
