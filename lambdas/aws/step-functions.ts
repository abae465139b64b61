import { DescribeExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
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
