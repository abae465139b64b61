import {
  DescribeExecutionCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import * as z from 'zod/mini';
import { parseOrThrow, RunbookError } from '../shared/errors';
import { isTransientAwsFault } from './faults';

/** Step Functions did not answer whether an execution runs (throttled, 5xx): nothing is taken over. */
export class StepFunctionsUnavailable extends RunbookError {
  override name = 'StepFunctionsUnavailable';
}

const describeExecutionAnswer = z.object({
  status: z.enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE']),
});

/**
 * Whether an execution still runs. A lock holder that ended cannot release its lock (killed mid-step, timed
 * out, aborted): its lock is stale. `PENDING_REDRIVE` counts as running: a redrive resumes it, lock and all.
 * An execution Step Functions no longer knows (ExecutionDoesNotExist: deleted with its state machine, or
 * older than the 90-day history) has ended.
 */
export async function executionIsRunning(sfn: SFNClient, executionArn: string): Promise<boolean> {
  let answer: unknown;
  try {
    answer = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'ExecutionDoesNotExist') return false;
    if (isTransientAwsFault(error)) {
      throw new StepFunctionsUnavailable(`DescribeExecution ${executionArn} failed: ${name}`, {
        cause: error,
      });
    }
    throw error;
  }
  const { status } = parseOrThrow(
    describeExecutionAnswer,
    answer,
    `DescribeExecution ${executionArn} answer`,
    StepFunctionsUnavailable,
  );
  return status === 'RUNNING' || status === 'PENDING_REDRIVE';
}

/**
 * The task a token belongs to no longer waits: it timed out (the approval's timeout aborted the run), the
 * execution ended, or the token is not one Step Functions issued. Nothing can be delivered to it any more.
 */
export class ApprovalNoLongerPending extends RunbookError {
  override name = 'ApprovalNoLongerPending';
}

/** The SendTask* errors that mean the task is closed; anything else (throttling, 5xx) may pass on a retry. */
const CLOSED_TASK = new Set(['TaskTimedOut', 'InvalidToken', 'TaskDoesNotExist']);

async function sendToTask(operation: string, send: () => Promise<unknown>): Promise<void> {
  try {
    await send();
  } catch (error) {
    const name = (error as Error).name;
    if (CLOSED_TASK.has(name)) {
      throw new ApprovalNoLongerPending(`${operation}: the task no longer waits (${name})`, { cause: error });
    }
    throw error;
  }
}

/** Completes a waiting task (`.waitForTaskToken`) with `output`, serialised as its JSON result. */
export async function sendTaskSuccess(sfn: SFNClient, taskToken: string, output: unknown): Promise<void> {
  await sendToTask('SendTaskSuccess', () =>
    sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) })),
  );
}

/** Fails a waiting task with a named error (what the workflow's Catch matches) and its cause. */
export async function sendTaskFailure(
  sfn: SFNClient,
  taskToken: string,
  error: string,
  cause: string,
): Promise<void> {
  await sendToTask('SendTaskFailure', () =>
    sfn.send(new SendTaskFailureCommand({ taskToken, error, cause })),
  );
}
