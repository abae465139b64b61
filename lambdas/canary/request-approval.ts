import * as z from 'zod/mini';
import { parseOrThrow } from '../shared/errors';
import { logger } from '../shared/logger';
import { approvalMessage } from './messages';
import { InvalidCanaryRun, readRun } from './run';
import type { CanarySlack } from './slack';
import type { StatusLock } from './thread';
import { buildStatus } from './thread';

// The approval gate's first half: the task token Step Functions waits on is recorded on the lock item (where
// the Slack endpoint and the CLI find it), then the approvers are asked. The workflow's task-token wait does
// the waiting, and its timeout aborts the canary.

export interface ApprovalLock extends StatusLock {
  recordApprovalRequest(
    workload: string,
    executionArn: string,
    request: { token: string; kind: 'promotion' | 'no-data'; requestedAt: string; timeoutAt: string },
  ): Promise<void>;
}

export interface RequestApprovalDeps {
  lock: ApprovalLock;
  slack: CanarySlack;
  now: () => Date;
}

const inputSchema = z.object({ token: z.string().check(z.minLength(1)), run: z.unknown() });

export async function requestApproval(
  input: unknown,
  deps: RequestApprovalDeps,
): Promise<{ kind: 'promotion' | 'no-data'; timeoutAt: string }> {
  const parsed = parseOrThrow(inputSchema, input, 'the approval request', InvalidCanaryRun);
  const run = readRun(parsed.run);
  const now = deps.now();
  const kind = run.analysis?.action === 'pause' ? 'no-data' : 'promotion';
  const timeoutAt = new Date(now.getTime() + run.approvalTimeoutSeconds * 1000);
  // The token first: a click that arrives before the message is written must find it.
  await deps.lock.recordApprovalRequest(run.workload, run.executionArn, {
    token: parsed.token,
    kind,
    requestedAt: now.toISOString(),
    timeoutAt: timeoutAt.toISOString(),
  });
  await deps.lock.writeStatus(run.workload, run.executionArn, buildStatus(run, 'awaiting-approval', now));
  try {
    await deps.slack.post(approvalMessage(run, kind, timeoutAt, deps.slack.threads), run.slack?.ts);
  } catch (error) {
    // The CLI can still answer; the timeout aborts if nobody does.
    logger.warn('approval request not delivered to Slack', {
      error: (error as Error).name,
      message: (error as Error).message,
    });
  }
  return { kind, timeoutAt: timeoutAt.toISOString() };
}
