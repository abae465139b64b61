import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { isTransientAwsFault } from '../../lambdas/aws/faults';
import { executionIsRunning, StepFunctionsUnavailable } from '../../lambdas/aws/step-functions';

const fault = (name: string, $fault: 'client' | 'server' = 'client') =>
  Object.assign(new Error(`${name} (test)`), { name, $fault });

describe('an AWS fault', () => {
  it.each([
    ['ThrottlingException', 'client', true],
    ['Throttling', 'client', true],
    ['RequestLimitExceeded', 'client', true],
    ['TimeoutError', 'client', true],
    ['InternalFailure', 'server', true],
    ['AccessDeniedException', 'client', false],
    ['ValidationException', 'client', false],
  ] as const)('%s (%s) is transient: %s', (name, side, transient) => {
    expect(isTransientAwsFault(fault(name, side))).toBe(transient);
  });
});

describe('whether a lock holder still runs', () => {
  const sfn = mockClient(SFNClient);
  afterEach(() => sfn.reset());
  const client = new SFNClient({ region: 'eu-west-1' });
  const arn = 'arn:aws:states:eu-west-1:111122223333:execution:platform-runbooks-prod-rollback:a';

  it.each([
    ['RUNNING', true],
    ['PENDING_REDRIVE', true],
    ['FAILED', false],
    ['ABORTED', false],
  ] as const)('%s: running %s', async (status, running) => {
    sfn.on(DescribeExecutionCommand).resolves({ status });
    expect(await executionIsRunning(client, arn)).toBe(running);
  });

  it('has ended when Step Functions no longer knows it', async () => {
    sfn.on(DescribeExecutionCommand).rejects(fault('ExecutionDoesNotExist'));
    expect(await executionIsRunning(client, arn)).toBe(false);
  });

  it('is not guessed when Step Functions throttles or answers nonsense: a named error, nothing taken over', async () => {
    sfn.on(DescribeExecutionCommand).rejects(fault('ThrottlingException'));
    await expect(executionIsRunning(client, arn)).rejects.toBeInstanceOf(StepFunctionsUnavailable);
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SOMETHING' as never });
    await expect(executionIsRunning(client, arn)).rejects.toThrow(/status/);
    sfn.on(DescribeExecutionCommand).rejects(fault('AccessDeniedException'));
    await expect(executionIsRunning(client, arn)).rejects.toThrow(/AccessDeniedException/);
  });
});
