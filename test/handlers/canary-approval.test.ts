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
import { createSlackResponder, type SlackResponse } from '../../lambdas/canary/slack-response';
import { slackSignature } from '../../lambdas/notify/slack-signature';
import { logger } from '../../lambdas/shared/logger';
import { CanaryLock } from '../../lambdas/workload-lock/canary-lock';
import { startLockTable } from '../harness/lock-table';
import { startSlackReceiver, type SlackReceiver } from '../harness/slack-receiver';

// The Slack approval endpoint end to end but for Step Functions: real signatures over real bodies, the lock on
// dynalite, SendTask* through aws-sdk-client-mock, and the loopback Slack receiver standing in for the click's
// response_url (a per-click webhook URL: the receiver's webhook path takes the same JSON posts).
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
let slack: SlackReceiver;
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
  slack = await startSlackReceiver();
});
afterAll(async () => {
  vi.restoreAllMocks();
  await Promise.all([table.close(), slack.close()]);
});
beforeEach(async () => {
  logged.length = 0;
  slack.reset();
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
  respond: createSlackResponder(),
  now: () => NOW,
  ...overrides,
});

interface Click {
  user?: string;
  actionId?: string;
  value?: unknown;
  /** @default the receiver's URL; null: a payload without one */
  responseUrl?: string | null;
}

/** Slack's form body for a click on one of our buttons. */
function clickBody({ user = APPROVER, actionId = 'canary-approve', value, responseUrl }: Click = {}): string {
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
    ...(responseUrl === null ? {} : { response_url: responseUrl ?? slack.url }),
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

const ephemeral = (text: string): SlackResponse => ({
  response_type: 'ephemeral',
  replace_original: false,
  text,
});
const replaced = (text: string): SlackResponse => ({ replace_original: true, text });

/** What the clicker was told: posted once to response_url, and the same JSON as the 200's body. */
function told(response: FunctionUrlResponse): unknown {
  expect(response).toMatchObject({ statusCode: 200, headers: { 'content-type': 'application/json' } });
  const body: unknown = JSON.parse(response.body);
  expect(slack.messages.at(-1)?.body).toEqual(body);
  return body;
}

const sent = () => [...sfn.commandCalls(SendTaskSuccessCommand), ...sfn.commandCalls(SendTaskFailureCommand)];

describe('the Slack approval endpoint', () => {
  it('approves: the answer reaches the waiting task once, and the clicker is told', async () => {
    const response = await handleSlackApproval(request(clickBody()), deps());

    // The clicked message becomes the decision, without its buttons (no blocks: only the text is left).
    expect(told(response)).toEqual(replaced(`Approved by <@${APPROVER}>; promoting.`));
    expect(slack.requests).toHaveLength(1);
    expect(slack.requests[0]).toMatchObject({
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
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

    expect(told(response)).toEqual(
      replaced(`Rejected by <@${APPROVER}>; aborting: all traffic goes back to stable.`),
    );
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

    // Only the second clicker is told; the message the first click replaced stays as it is.
    expect(told(again)).toEqual(ephemeral(`Already approved by <@${APPROVER}>.`));
    expect(slack.messages.map((message) => message.body.replace_original)).toEqual([true, false]);
    expect(sent()).toHaveLength(1);
  });

  it('tells the clicker when the run no longer waits (the approval timed out), and keeps no decision', async () => {
    sfn
      .on(SendTaskSuccessCommand)
      .rejects(Object.assign(new Error('Task Timed Out'), { name: 'TaskTimedOut' }));
    const response = await handleSlackApproval(request(clickBody()), deps());

    expect(told(response)).toEqual(
      ephemeral('This canary no longer waits for an answer: its approval timed out or the run has ended.'),
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
    // The buttons stay, so the second click can be made.
    expect(told(first)).toEqual(
      ephemeral(
        'Your answer could not be delivered (ThrottlingException); nothing was decided. Click again, or answer with the CLI.',
      ),
    );
    expect((await lock.read(KEY)).approval?.decision).toBeUndefined();

    const second = await handleSlackApproval(request(clickBody()), deps());
    expect(told(second)).toEqual(replaced(`Approved by <@${APPROVER}>; promoting.`));
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(2);
  });

  it('refuses a non-approver, and an approver of another service, without touching the run or the message', async () => {
    const stranger = await handleSlackApproval(request(clickBody({ user: 'U0STRANGER' })), deps());
    expect(told(stranger)).toEqual(
      ephemeral(
        `<@U0STRANGER>, you are not an approver of this canary, so nothing was done. Its approvers: <@${APPROVER}>, <@U0OTHER>.`,
      ),
    );
    const otherService = await handleSlackApproval(request(clickBody({ user: 'U0SEARCH' })), deps());
    expect(told(otherService)).toMatchObject({
      response_type: 'ephemeral',
      replace_original: false,
      text: expect.stringMatching(/^<@U0SEARCH>, you are not an approver of this canary/),
    });

    expect(sent()).toHaveLength(0);
    expect((await lock.read(KEY)).approval?.decision).toBeUndefined();
  });

  it("answers a button of an earlier run with nothing to answer, leaving this run's approval open", async () => {
    const old = clickBody({ value: { workload: KEY, executionArn: EARLIER_RUN, decision: 'approve' } });
    expect(told(await handleSlackApproval(request(old), deps()))).toEqual(
      ephemeral(
        `Nothing to answer: That run (${EARLIER_RUN}) has ended; the canary running on ${KEY} now is ${RUN}.`,
      ),
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
    expect(slack.requests).toHaveLength(0);
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
    expect(slack.requests).toHaveLength(0);
  });

  it('takes POST only, and reads a base64-encoded body as the signed bytes', async () => {
    expect((await handleSlackApproval(request(clickBody(), { method: 'GET' }), deps())).statusCode).toBe(405);
    const response = await handleSlackApproval(request(clickBody(), { base64: true }), deps());
    expect(told(response)).toEqual(replaced(`Approved by <@${APPROVER}>; promoting.`));
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

describe("the answer through the click's response_url", () => {
  /** The part of the URL that is a credential: never in a log line. */
  const secretPart = () => new URL(slack.url).pathname.split('/').at(-1) ?? '';
  const decided = async () => (await lock.read(KEY)).approval?.decision;

  it.each([
    ['answers 500', { status: 500 }, { status: 500, error: 'service_unavailable' }],
    ['says the URL expired', { status: 404, body: 'expired_url' }, { status: 404, error: 'expired_url' }],
    [
      'answers 200 with ok: false',
      { status: 200, body: '{"ok":false,"error":"used_url"}' },
      { status: 200, error: 'used_url' },
    ],
  ])(
    'when Slack %s: the decision stands, the 200 is answered, the refusal logged',
    async (_, answer, said) => {
      slack.respondWith([answer]);
      const response = await handleSlackApproval(request(clickBody()), deps());

      expect(JSON.parse(response.body)).toEqual(replaced(`Approved by <@${APPROVER}>; promoting.`));
      expect(slack.requests).toHaveLength(1);
      expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
      expect(await decided()).toBe('approve');
      expect(logged).toContainEqual([
        'Slack response_url refused the answer',
        { host: new URL(slack.url).host, ...said },
      ]);
      expect(JSON.stringify(logged)).not.toContain(secretPart());
    },
  );

  it('when Slack hangs: one attempt, given up after 1 s, the decision delivered and the 200 within 1.5 s', async () => {
    slack.hang(5_000);
    const began = performance.now();
    const response = await handleSlackApproval(request(clickBody()), deps());
    const tookMs = performance.now() - began;

    expect(response.statusCode).toBe(200);
    expect(tookMs).toBeLessThan(1_500);
    expect(slack.requests).toHaveLength(1);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
    expect(await decided()).toBe('approve');
    expect(logged).toContainEqual([
      'Slack response_url not reached',
      { host: new URL(slack.url).host, failure: 'no answer within 1000 ms' },
    ]);
    expect(JSON.stringify(logged)).not.toContain(secretPart());
  });

  it('when nothing listens: the refused connection logged by its code, the refusal still answered', async () => {
    const closed = await startSlackReceiver();
    const url = closed.url;
    await closed.close();
    const response = await handleSlackApproval(
      request(clickBody({ user: 'U0STRANGER', responseUrl: url })),
      deps(),
    );

    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ response_type: 'ephemeral' });
    expect(logged).toContainEqual([
      'Slack response_url not reached',
      { host: new URL(url).host, failure: 'network error ECONNREFUSED' },
    ]);
    expect(JSON.stringify(logged)).not.toContain(new URL(url).pathname.split('/').at(-1));
  });

  it('ignores a response_url that is not on hooks.slack.com: nothing sent, the decision delivered', async () => {
    const fetchImpl = vi.fn<typeof fetch>();
    const response = await handleSlackApproval(
      request(clickBody({ responseUrl: 'https://hooks.example.com/actions/T1/1/abc' })),
      deps({ respond: createSlackResponder({ fetchImpl }) }),
    );

    expect(JSON.parse(response.body)).toEqual(replaced(`Approved by <@${APPROVER}>; promoting.`));
    expect(fetchImpl).not.toHaveBeenCalled();
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
    expect(logged).toContainEqual([
      'Slack response_url refused: not https://hooks.slack.com/',
      { host: 'hooks.example.com' },
    ]);
    expect(JSON.stringify(logged)).not.toContain('/actions/T1/1/abc');
  });

  it.each([
    'http://hooks.slack.com/actions/T1/1/abc',
    'https://hooks.slack.com.example.com/actions/T1/1/abc',
    'https://hooks.slack.com:8443/actions/T1/1/abc',
    'https://user:pass@hooks.slack.com/actions/T1/1/abc',
    'https://slack.com/api/chat.postMessage',
    '/actions/T1/1/abc',
  ])('refuses %s unsent', async (responseUrl) => {
    const fetchImpl = vi.fn<typeof fetch>();
    const respond = createSlackResponder({ fetchImpl });
    expect(await respond(responseUrl, ephemeral('hello'))).toBe('refused');
    expect(fetchImpl).not.toHaveBeenCalled();
  });

  it('posts to https://hooks.slack.com/ once, as JSON, following no redirect, within its timeout', async () => {
    const fetchImpl = vi.fn<typeof fetch>().mockResolvedValue(new Response('ok'));
    const respond = createSlackResponder({ fetchImpl, timeoutMs: 800 });
    const url = 'https://hooks.slack.com/actions/T0001/1234567890/abcdef';

    expect(await respond(url, replaced('Approved by <@U1>; promoting.'))).toBe('posted');
    expect(fetchImpl).toHaveBeenCalledTimes(1);
    const [target, init] = fetchImpl.mock.calls[0] ?? [];
    expect(String(target)).toBe(url);
    expect(init).toMatchObject({
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      redirect: 'error',
      signal: expect.any(AbortSignal),
    });
    expect(JSON.parse(String(init?.body))).toEqual(replaced('Approved by <@U1>; promoting.'));
  });

  it('answers with the 200 alone when the payload has no response_url (as the rehearsal clicks)', async () => {
    const response = await handleSlackApproval(request(clickBody({ responseUrl: null })), deps());

    expect(JSON.parse(response.body)).toEqual(replaced(`Approved by <@${APPROVER}>; promoting.`));
    expect(slack.requests).toHaveLength(0);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
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
