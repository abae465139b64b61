import {
  InvalidOutput,
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunbookFunctionTable } from '../../lambdas/shared/function-table';
import {
  Rehearsal,
  RehearsalError,
  type RehearsalResult,
  type RehearsedRunbook,
  type TaskTokenRequest,
} from '../harness/rehearsal';
import { advanceVirtualClock } from '../harness/virtual-clock';

// The rehearsal's Waits timed by what a Task wrote, and its callback Tasks (lambda:invoke.waitForTaskToken),
// on a small ASL shaped like the canary's interval and approval (fixtures/task-token.asl.json).

const functions = {
  plan: {
    handler: 'test/simulation/fixtures/plan-handler.ts',
    serviceName: 'task-token-plan',
    substitution: 'TaskTokenPlanFunctionArn',
    description: 'Plans the run: its result is $.run',
    reaches: [],
  },
  requestApproval: {
    handler: 'test/simulation/fixtures/request-approval-handler.ts',
    serviceName: 'task-token-request-approval',
    substitution: 'TaskTokenRequestApprovalFunctionArn',
    description: 'Asks for an approval, or gives it at once',
    reaches: ['states'],
  },
} as const satisfies RunbookFunctionTable;

const runbook: RehearsedRunbook = {
  name: 'task-token',
  definitionPath: fileURLToPath(new URL('./fixtures/task-token.asl.json', import.meta.url)),
  functions,
  defaultConfig: () => ({ environment: 'test', eksClusters: [] }),
  deployment: () => ({ substitutions: {}, environment: {} }),
  scenarios: [],
};

const INTERVAL = 60;
const APPROVAL_TIMEOUT = 3_600;
let rehearsal: Rehearsal;
const sfn = new SFNClient({ region: 'eu-west-1' });
/** Every request the hook received, in order. */
const requests: TaskTokenRequest[] = [];

beforeAll(async () => {
  rehearsal = await Rehearsal.start(runbook);
});
afterAll(async () => {
  await rehearsal?.close();
});
beforeEach(async () => {
  requests.length = 0;
  await rehearsal.reset();
});

const run = (settings: Record<string, unknown> = {}) =>
  rehearsal.run({
    run: { intervalSeconds: INTERVAL, approvalTimeoutSeconds: APPROVAL_TIMEOUT, ...settings },
  });
/** How far the virtual clock moved, in seconds, while `action` ran. */
const clockMovedBy = async <T>(action: () => Promise<T>): Promise<{ value: T; seconds: number }> => {
  const before = Date.now();
  const value = await action();
  return { value, seconds: (Date.now() - before) / 1000 };
};
const succeed = (taskToken: string, output: string) =>
  sfn.send(new SendTaskSuccessCommand({ taskToken, output }));
/** The error a promise rejects with. */
const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );
const approveAs = (approvedBy: string) =>
  rehearsal.onTaskToken(async (request) => {
    requests.push(request);
    await succeed(request.token, JSON.stringify({ approvedBy }));
  }, `${approvedBy} in Slack`);
const texts = (result: RehearsalResult) => result.timeline.map((entry) => entry.text);
const output = (result: RehearsalResult) => result.output as Record<string, unknown>;

describe('a Wait whose duration a Task wrote', () => {
  it('moves the virtual clock on by the run’s SecondsPath', async () => {
    approveAs('alice');

    const { value: result, seconds } = await clockMovedBy(() => run({ intervalSeconds: 900 }));

    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).toContain('Hold');
    expect(seconds).toBeGreaterThanOrEqual(900);
    expect(seconds).toBeLessThan(960);
  });

  it('reads each concurrent run’s own value', async () => {
    approveAs('alice');

    const { value: results, seconds } = await clockMovedBy(() =>
      Promise.all([run({ intervalSeconds: 600 }), run({ intervalSeconds: 60 })]),
    );

    expect(results.map((result) => result.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    // One clock for both runs: 600 + 60, where one run reading the other's value would give 1200 or 120.
    expect(seconds).toBeGreaterThanOrEqual(660);
    expect(seconds).toBeLessThan(720);
  });

  it('moves the clock on to a TimestampPath, and not at all for one already past', async () => {
    approveAs('alice');
    const until = new Date(Date.now() + 2 * 3_600_000).toISOString();

    const later = await clockMovedBy(() => run({ until }));
    const past = await clockMovedBy(() => run({ until: new Date(Date.now() - 60_000).toISOString() }));

    expect(later.value.states).toContain('HoldUntil');
    expect(later.seconds).toBeGreaterThanOrEqual(7_200 - 1);
    expect(later.seconds).toBeLessThan(7_260);
    expect(past.value.status).toBe('SUCCEEDED');
    expect(past.seconds).toBeLessThan(30);
  });

  it('refuses a SecondsPath the run’s Tasks did not write as seconds, instead of waiting zero', async () => {
    approveAs('alice');

    const missing = await rejection(rehearsal.run({ run: { approvalTimeoutSeconds: 60 } }));
    const negative = await rejection(run({ intervalSeconds: -5 }));

    expect(missing).toBeInstanceOf(RehearsalError);
    expect((missing as Error).message).toMatch(
      /^Wait state Hold: SecondsPath \$\.run\.intervalSeconds is undefined in this run, not a number of seconds/,
    );
    expect((negative as Error).message).toMatch(/SecondsPath \$\.run\.intervalSeconds is -5 in this run/);
    expect(requests).toHaveLength(0);
  });
});

describe('a callback Task (lambda:invoke.waitForTaskToken)', () => {
  it('sends its function a fresh token and resumes with SendTaskSuccess’s output at its ResultPath', async () => {
    approveAs('alice');

    const first = await run();
    const second = await run();

    expect(first.status).toBe('SUCCEEDED');
    expect(output(first).approval).toEqual({ approvedBy: 'alice' });
    expect(first.states).toEqual(['Plan', 'HoldHow', 'Hold', 'AskApproval', 'Summarise']);
    const [request, next] = requests;
    expect(request?.state).toBe('AskApproval');
    expect(request?.executionArn).toMatch(/:execution:platform-runbooks-task-token:/);
    // Shaped like Step Functions' tokens: long, opaque, base64 (so `+`, `/` and `=` reach whoever carries it).
    expect(request?.token).toMatch(/^[A-Za-z0-9+/]{500,}=*$/);
    expect(request?.payload).toMatchObject({ token: request?.token, run: { intervalSeconds: INTERVAL } });
    expect(next?.token).not.toBe(request?.token);
    expect(first.lambdaInvocations.map((call) => call.name)).toEqual([
      'task-token-plan',
      'task-token-request-approval',
      'task-token-plan',
    ]);
    expect(texts(first)).toEqual(
      expect.arrayContaining([
        'AskApproval: task token sent to task-token-request-approval',
        'AskApproval: task token answered: success by alice in Slack',
      ]),
    );
    expect(rehearsal.account.calls).toContainEqual(
      expect.objectContaining({ service: 'states', operation: 'SendTaskSuccess', target: 'AskApproval' }),
    );
    // The plain lambda:invoke integration's result: the function's answer under Payload.
    expect(output(second).summary).toEqual({
      Payload: expect.objectContaining({ intervalSeconds: INTERVAL, plannedAt: expect.any(String) }),
      StatusCode: 200,
    });
  });

  it('routes SendTaskFailure by its error name, with its cause', async () => {
    rehearsal.onTaskToken(async ({ token }) => {
      await sfn.send(
        new SendTaskFailureCommand({ taskToken: token, error: 'Rejected', cause: 'not this one' }),
      );
    }, 'bob with the CLI');

    const result = await run();

    expect(result.states).toEqual(['Plan', 'HoldHow', 'Hold', 'AskApproval', 'Rejected']);
    expect(output(result).error).toEqual({ Error: 'Rejected', Cause: 'not this one' });
    expect(texts(result)).toContain(
      'AskApproval: task token answered: failure (Rejected) by bob with the CLI',
    );
  });

  it('times an unanswered token out on the virtual clock, which a Catch on States.TaskFailed does not take', async () => {
    let token = '';
    rehearsal.onTaskToken(async (request) => {
      token = request.token;
    });
    const began = performance.now();

    const { value: result, seconds } = await clockMovedBy(() => run());

    expect(result.states).toEqual(['Plan', 'HoldHow', 'Hold', 'AskApproval', 'TimedOut']);
    expect(output(result).error).toMatchObject({ Error: 'States.Timeout' });
    expect(seconds).toBeGreaterThanOrEqual(INTERVAL + APPROVAL_TIMEOUT);
    expect(seconds).toBeLessThan(INTERVAL + APPROVAL_TIMEOUT + 60);
    // The executor's own timer for the Task never held the run (nor fired).
    expect(performance.now() - began).toBeLessThan(10_000);
    expect(texts(result)).toContain(`AskApproval: task token timed out after ${APPROVAL_TIMEOUT} s`);
    expect(await rejection(succeed(token, '{}'))).toBeInstanceOf(TaskTimedOut);
  });

  it('times the token out when no hook is registered', async () => {
    const result = await run({ approvalTimeoutSeconds: 120 });

    expect(result.states.at(-1)).toBe('TimedOut');
    expect(rehearsal.account.taskTokens.size).toBe(1);
    expect([...rehearsal.account.taskTokens.values()][0]?.status).toBe('timed-out');
  });

  it('refuses an answer sent after the deadline: the Task has timed out', async () => {
    let late: unknown;
    rehearsal.onTaskToken(async ({ token }) => {
      advanceVirtualClock(APPROVAL_TIMEOUT + 1);
      late = await rejection(succeed(token, JSON.stringify({ approvedBy: 'carol' })));
    });

    const { value: result, seconds } = await clockMovedBy(() => run());

    expect(late).toBeInstanceOf(TaskTimedOut);
    expect(result.states.at(-1)).toBe('TimedOut');
    // The deadline had passed already: the timeout moved the clock no further.
    expect(seconds).toBeLessThan(INTERVAL + APPROVAL_TIMEOUT + 60);
  });

  it('accepts an answer from the function itself, before the hook would be asked', async () => {
    approveAs('alice');

    const result = await run({ approveAtOnce: true });

    expect(output(result).approval).toEqual({ approvedBy: 'policy' });
    expect(requests).toHaveLength(0);
    expect(texts(result)).toContain(
      'AskApproval: task token answered: success by task-token-request-approval',
    );
  });

  it('gives each retry of the Task its own token, and closes the failed attempt’s', async () => {
    const tokens: string[] = [];
    const requestApproval = rehearsal.handlerOf(functions.requestApproval);
    approveAs('alice');

    const result = await rehearsal.run(
      { run: { intervalSeconds: INTERVAL, approvalTimeoutSeconds: APPROVAL_TIMEOUT } },
      {
        overrides: {
          AskApproval: async (event) => {
            tokens.push(String(event.token));
            if (tokens.length === 1) throw Object.assign(new Error('first attempt lost'), { name: 'Flaky' });
            return requestApproval(event);
          },
        },
      },
    );

    expect(result.timeline.map((entry) => entry.text)).toContain('↻ retry AskApproval');
    expect(output(result).approval).toEqual({ approvedBy: 'alice' });
    expect(tokens).toHaveLength(2);
    expect(tokens[1]).not.toBe(tokens[0]);
    expect(requests.map((request) => request.token)).toEqual([tokens[1]]);
    expect(await rejection(succeed(tokens[0] ?? '', '{}'))).toBeInstanceOf(TaskTimedOut);
  });

  it('answers SendTaskSuccess and SendTaskFailure as Step Functions does', async () => {
    const answers: Record<string, unknown> = {};
    rehearsal.onTaskToken(async ({ token }) => {
      answers.notJson = await rejection(succeed(token, 'approved'));
      answers.first = await succeed(token, JSON.stringify({ approvedBy: 'alice' }));
      answers.second = await rejection(succeed(token, JSON.stringify({ approvedBy: 'bob' })));
      answers.failureAfter = await rejection(
        sfn.send(new SendTaskFailureCommand({ taskToken: token, error: 'Rejected' })),
      );
      answers.unknown = await rejection(succeed('AAAAKgAAAAIAAAAAAAAAAnot-a-token', '{}'));
    });

    const result = await run();

    expect(answers.notJson).toBeInstanceOf(InvalidOutput);
    expect(answers.first).toEqual({});
    expect(answers.second).toBeInstanceOf(TaskTimedOut);
    expect((answers.second as Error).message).toBe("Task Timed Out: 'Provided task does not exist anymore'");
    expect(answers.failureAfter).toBeInstanceOf(TaskTimedOut);
    expect(answers.unknown).toBeInstanceOf(InvalidToken);
    // The first valid answer is the one the Task resumed with.
    expect(output(result).approval).toEqual({ approvedBy: 'alice' });
    expect([...rehearsal.account.taskTokens.values()][0]?.answer).toMatchObject({
      outcome: 'success',
      output: { approvedBy: 'alice' },
    });
    expect(
      rehearsal.account.calls.filter((call) => call.service === 'states').map((call) => call.operation),
    ).toEqual([
      'SendTaskSuccess',
      'SendTaskSuccess',
      'SendTaskSuccess',
      'SendTaskFailure',
      'SendTaskSuccess',
    ]);
  });

  it('fails the execution with States.Runtime, past every Catch, when its TimeoutSecondsPath is no timeout', async () => {
    approveAs('alice');

    const zero = await run({ approvalTimeoutSeconds: 0 });
    const missing = await rehearsal.run({ run: { intervalSeconds: INTERVAL } });

    for (const result of [zero, missing]) {
      expect(result.status).toBe('FAILED');
      expect(result.error?.name).toBe('States.Runtime');
      expect(result.states.at(-1)).toBe('AskApproval');
    }
    expect(zero.error?.cause).toBe(
      'AskApproval: TimeoutSecondsPath $.run.approvalTimeoutSeconds is 0, not a positive integer',
    );
    expect(requests).toHaveLength(0);
  });

  it('stops the run with the hook’s error when the hook throws', async () => {
    rehearsal.onTaskToken(async () => {
      throw new Error('the simulated Slack is down');
    });

    const error = await rejection(run());

    expect(error).toBeInstanceOf(RehearsalError);
    expect((error as Error).message).toBe(
      'The onTaskToken hook failed for AskApproval: the simulated Slack is down',
    );
  });
});
