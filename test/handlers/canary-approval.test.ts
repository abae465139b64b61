import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApprovalNoLongerPending, sendTaskFailure, sendTaskSuccess } from '../../lambdas/aws/step-functions';
import {
  createSigningSecretSource,
  handleSlackApproval,
  SlackSigningSecretMisconfigured,
  type FunctionUrlResponse,
  type SlackApprovalDeps,
} from '../../lambdas/canary/approval';
import { slackSignature } from '../../lambdas/notify/slack-signature';
import { logger } from '../../lambdas/shared/logger';
import { CanaryLock } from '../../lambdas/workload-lock/canary-lock';
import { startLockTable } from '../harness/lock-table';

// The Slack approval endpoint end to end but for Slack and Step Functions: real signatures over real bodies,
// the lock on dynalite, SendTask* through aws-sdk-client-mock.
const TABLE = 'locks';
const KEY = 'prod-eks/checkout/checkout-api';
const RUN = 'arn:aws:states:eu-west-1:111122223333:execution:platform-runbooks-prod-canary:release-42';
const EARLIER_RUN =
  'arn:aws:states:eu-west-1:111122223333:execution:platform-runbooks-prod-canary:release-41';
const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const APPROVER = 'U0APPROVER';
const NOW = new Date('2026-11-22T04:00:00Z');
const nowSeconds = String(NOW.getTime() / 1000);

let table: Awaited<ReturnType<typeof startLockTable>>;
let lock: CanaryLock;
const sfnClient = new SFNClient({ region: 'eu-west-1' });
const sfn = mockClient(sfnClient);

/** What the endpoint logged, at any level: kept off the console, and searched for the secret. */
const logged: unknown[][] = [];

beforeAll(async () => {
  for (const level of ['info', 'warn', 'error'] as const) {
    vi.spyOn(logger, level).mockImplementation((...args: unknown[]) => {
      logged.push(args);
    });
  }
  table = await startLockTable(TABLE);
  lock = new CanaryLock(table.dynamodb, TABLE);
});
afterAll(async () => {
  vi.restoreAllMocks();
  await table.close();
});
beforeEach(async () => {
  await table.dynamodb.send(new DeleteItemCommand({ TableName: TABLE, Key: { workload: { S: KEY } } }));
  sfn.reset();
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
  // The run waits for the promotion's approval.
  await lock.acquire({
    workload: KEY,
    executionArn: RUN,
    eventId: 'event-42',
    service: 'checkout',
    now: NOW,
    lockTtlSeconds: 7_200,
    holderIsRunning: () => Promise.resolve(true),
  });
  await lock.recordApprovalRequest(KEY, RUN, {
    token: 'token-42',
    kind: 'promotion',
    requestedAt: '2026-11-22T03:55:00.000Z',
    timeoutAt: '2026-11-22T04:55:00.000Z',
  });
});

const deps = (overrides: Partial<SlackApprovalDeps> = {}): SlackApprovalDeps => ({
  signingSecret: () => Promise.resolve(SECRET),
  approvers: { [KEY]: [APPROVER, 'U0OTHER'], 'prod-eks/search/search-api': ['U0SEARCH'] },
  lock,
  sfn: sfnClient,
  now: () => NOW,
  ...overrides,
});

interface Click {
  user?: string;
  actionId?: string;
  value?: unknown;
}

/** Slack's form body for a click on one of our buttons. */
function clickBody({ user = APPROVER, actionId = 'canary-approve', value }: Click = {}): string {
  const decision = actionId === 'canary-reject' ? 'reject' : 'approve';
  const payload = {
    type: 'block_actions',
    user: { id: user, username: 'ana' },
    actions: [
      {
        action_id: actionId,
        block_id: 'canary-approval',
        value: JSON.stringify(value ?? { workload: KEY, executionArn: RUN, decision }),
        type: 'button',
      },
    ],
    response_url: 'https://hooks.slack.com/actions/T1/1/abc',
    channel: { id: 'C0DEPLOYS' },
    container: { type: 'message', message_ts: '1764936000.000100', channel_id: 'C0DEPLOYS' },
  };
  return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

/** A function URL event (payload 2.0) carrying `body`, signed as Slack signs unless told otherwise. */
function request(
  body: string,
  { timestamp = nowSeconds, secret = SECRET, method = 'POST', base64 = false } = {},
): unknown {
  return {
    version: '2.0',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': slackSignature(secret, timestamp, body),
    },
    body: base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: base64,
    requestContext: { http: { method } },
  };
}

/** The sentence Slack shows the clicker. */
function said(response: FunctionUrlResponse): string {
  expect(response.statusCode).toBe(200);
  const body = JSON.parse(response.body) as {
    response_type: string;
    replace_original: boolean;
    text: string;
  };
  expect(body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
  return body.text;
}

const sent = () => [...sfn.commandCalls(SendTaskSuccessCommand), ...sfn.commandCalls(SendTaskFailureCommand)];

describe('the Slack approval endpoint', () => {
  it('approves: the answer reaches the waiting task once, and the clicker is told', async () => {
    const response = await handleSlackApproval(request(clickBody()), deps());

    expect(said(response)).toBe(`Approved by <@${APPROVER}>; promoting.`);
    const calls = sfn.commandCalls(SendTaskSuccessCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      taskToken: 'token-42',
      output: JSON.stringify({ decision: 'approve', by: `slack:${APPROVER}` }),
    });
    expect((await lock.read(KEY)).approval).toMatchObject({
      decision: 'approve',
      decidedBy: `slack:${APPROVER}`,
    });
  });

  it('rejects: the task fails with CanaryRejected, which the workflow routes to the abort', async () => {
    const response = await handleSlackApproval(request(clickBody({ actionId: 'canary-reject' })), deps());

    expect(said(response)).toBe(`Rejected by <@${APPROVER}>; aborting: all traffic goes back to stable.`);
    expect(sfn.commandCalls(SendTaskFailureCommand).map((call) => call.args[0].input)).toEqual([
      { taskToken: 'token-42', error: 'CanaryRejected', cause: `Rejected by slack:${APPROVER}` },
    ]);
  });

  it('does nothing on a second click, by anyone: Step Functions is answered once', async () => {
    await handleSlackApproval(request(clickBody()), deps());
    const again = await handleSlackApproval(
      request(clickBody({ user: 'U0OTHER', actionId: 'canary-reject' })),
      deps(),
    );

    expect(said(again)).toBe(`Already approved by <@${APPROVER}>.`);
    expect(sent()).toHaveLength(1);
  });

  it('tells the clicker when the run no longer waits (the approval timed out), and keeps no decision', async () => {
    sfn
      .on(SendTaskSuccessCommand)
      .rejects(Object.assign(new Error('Task Timed Out'), { name: 'TaskTimedOut' }));
    const response = await handleSlackApproval(request(clickBody()), deps());

    expect(said(response)).toBe(
      'This canary no longer waits for an answer: its approval timed out or the run has ended.',
    );
    expect((await lock.read(KEY)).approval?.decision).toBeUndefined();
  });

  it('takes the decision back when Step Functions does not answer, so a second click delivers it', async () => {
    sfn
      .on(SendTaskSuccessCommand)
      .rejectsOnce(
        Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $fault: 'client' }),
      );
    const first = await handleSlackApproval(request(clickBody()), deps());
    expect(said(first)).toBe(
      'Your answer could not be delivered (ThrottlingException); nothing was decided. Click again, or answer with the CLI.',
    );
    expect((await lock.read(KEY)).approval?.decision).toBeUndefined();

    const second = await handleSlackApproval(request(clickBody()), deps());
    expect(said(second)).toBe(`Approved by <@${APPROVER}>; promoting.`);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(2);
  });

  it('refuses a non-approver, and an approver of another service, without touching the run', async () => {
    const stranger = await handleSlackApproval(request(clickBody({ user: 'U0STRANGER' })), deps());
    expect(said(stranger)).toBe(
      `<@U0STRANGER>, you are not an approver of this canary, so nothing was done. Its approvers: <@${APPROVER}>, <@U0OTHER>.`,
    );
    const otherService = await handleSlackApproval(request(clickBody({ user: 'U0SEARCH' })), deps());
    expect(said(otherService)).toMatch(/^<@U0SEARCH>, you are not an approver of this canary/);

    expect(sent()).toHaveLength(0);
    expect((await lock.read(KEY)).approval?.decision).toBeUndefined();
  });

  it("answers a button of an earlier run with nothing to answer, leaving this run's approval open", async () => {
    const old = clickBody({ value: { workload: KEY, executionArn: EARLIER_RUN, decision: 'approve' } });
    expect(said(await handleSlackApproval(request(old), deps()))).toBe(
      `Nothing to answer: That run (${EARLIER_RUN}) has ended; the canary running on ${KEY} now is ${RUN}.`,
    );
    expect(sent()).toHaveLength(0);
  });

  it.each([
    ['signed with another secret', { secret: 'not-the-signing-secret' }, /does not match the body/],
    ['older than 5 minutes', { timestamp: String(NOW.getTime() / 1000 - 301) }, /signed 301 s ago/],
  ])('refuses a request %s with 401, before reading anything', async (_, signing, reason) => {
    const response = await handleSlackApproval(request(clickBody(), signing), deps());

    expect(response.statusCode).toBe(401);
    expect(response.body).toMatch(reason);
    expect(response.body).not.toContain(SECRET);
    expect(logged.at(-1)).toEqual([
      'Slack request refused',
      { error: expect.stringMatching(/^Slack(SignatureMismatch|RequestStale)$/), reason: expect.any(String) },
    ]);
    expect(JSON.stringify(logged)).not.toContain(SECRET);
    expect(sent()).toHaveLength(0);
    expect((await lock.read(KEY)).approval?.decision).toBeUndefined();
  });

  it('refuses a body changed after signing', async () => {
    const signed = request(clickBody()) as { body: string };
    const forged = { ...signed, body: clickBody({ actionId: 'canary-reject' }) };
    const response = await handleSlackApproval(forged, deps());
    expect(response.statusCode).toBe(401);
    expect(sent()).toHaveLength(0);
  });

  it('refuses a button whose value contradicts its action, and a value it cannot read', async () => {
    const tampered = clickBody({ value: { workload: KEY, executionArn: RUN, decision: 'reject' } });
    const response = await handleSlackApproval(request(tampered), deps());
    expect(response).toMatchObject({ statusCode: 400 });
    expect(response.body).toBe(
      'the button value says reject, its action canary-approve: refused as tampered',
    );

    const unreadable = await handleSlackApproval(request(clickBody({ value: { workload: KEY } })), deps());
    expect(unreadable.statusCode).toBe(400);
    expect(unreadable.body).toMatch(/^the button value is malformed: executionArn: /);
    const otherButton = await handleSlackApproval(request(clickBody({ actionId: 'open-dashboard' })), deps());
    expect(otherButton.body).toBe('action open-dashboard is not canary-approve or canary-reject');
    expect(sent()).toHaveLength(0);
  });

  it('takes POST only, and reads a base64-encoded body as the signed bytes', async () => {
    expect((await handleSlackApproval(request(clickBody(), { method: 'GET' }), deps())).statusCode).toBe(405);
    const response = await handleSlackApproval(request(clickBody(), { base64: true }), deps());
    expect(said(response)).toBe(`Approved by <@${APPROVER}>; promoting.`);
  });

  it('answers 500 without details when the signing secret cannot be read, and acts on nothing', async () => {
    const response = await handleSlackApproval(
      request(clickBody()),
      deps({ signingSecret: () => Promise.reject(new SlackSigningSecretMisconfigured('secret x is empty')) }),
    );
    expect(response).toMatchObject({ statusCode: 500, body: 'the endpoint cannot verify requests now' });
    expect(sent()).toHaveLength(0);
  });
});

describe('the signing secret', () => {
  const secretsClient = new SecretsManagerClient({ region: 'eu-west-1' });
  const secrets = mockClient(secretsClient);
  afterEach(() => secrets.reset());

  it('is read once per TTL, as a plain string or {"signingSecret": …}', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ signingSecret: SECRET }) });
    let now = 0;
    const source = createSigningSecretSource({
      secrets: secretsClient,
      secretId: 'slack-signing',
      now: () => now,
    });
    expect(await source()).toBe(SECRET);
    expect(await source()).toBe(SECRET);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    secrets.on(GetSecretValueCommand).resolves({ SecretString: ' rotated-secret \n' });
    now = 300_000;
    expect(await source()).toBe('rotated-secret');
    expect(secrets.commandCalls(GetSecretValueCommand)[1]?.args[0].input).toEqual({
      SecretId: 'slack-signing',
    });
  });

  it('is not kept when the read fails, and a value that is no secret is refused without quoting it', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejectsOnce(new Error('throttled'))
      .resolves({ SecretString: '{"token": "xyz"}' });
    const source = createSigningSecretSource({ secrets: secretsClient, secretId: 'slack-signing' });
    await expect(source()).rejects.toThrow('throttled');
    const refusal = source().catch((error: unknown) => error);
    await expect(refusal).resolves.toBeInstanceOf(SlackSigningSecretMisconfigured);
    const { message } = (await refusal) as Error;
    expect(message).toBe(
      'secret slack-signing does not hold a Slack signing secret: expected the secret or {"signingSecret": "…"}',
    );
    expect(message).not.toContain('xyz');
  });
});

describe("Step Functions' task-token calls", () => {
  it.each(['TaskTimedOut', 'InvalidToken', 'TaskDoesNotExist'])(
    'name %s ApprovalNoLongerPending: the task is closed',
    async (name) => {
      sfn.on(SendTaskSuccessCommand).rejects(Object.assign(new Error(name), { name }));
      sfn.on(SendTaskFailureCommand).rejects(Object.assign(new Error(name), { name }));
      await expect(sendTaskSuccess(sfnClient, 't', {})).rejects.toBeInstanceOf(ApprovalNoLongerPending);
      await expect(sendTaskFailure(sfnClient, 't', 'CanaryRejected', 'c')).rejects.toThrow(
        `SendTaskFailure: the task no longer waits (${name})`,
      );
    },
  );

  it('leave a transient fault as it is: asking again may work', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    sfn.on(SendTaskSuccessCommand).rejects(throttled);
    await expect(sendTaskSuccess(sfnClient, 't', {})).rejects.toBe(throttled);
  });
});
