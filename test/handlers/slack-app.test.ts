import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createSlackAppClient,
  type SlackAppClient,
  type SlackAppClientOptions,
} from '../../lambdas/notify/slack-app';
import type { Block } from '../../lambdas/notify/slack-message';
import { logger } from '../../lambdas/shared/logger';
import { startSlackReceiver, type SlackReceiver } from '../harness/slack-receiver';

const secretsMock = mockClient(SecretsManagerClient);
const SECRET_ID = 'platform-runbooks/slack-bot-token';
const CHANNEL = 'C000RUNBOOKS';
let receiver: SlackReceiver;

const blocks = (text: string): Block[] => [
  { type: 'header', text: { type: 'plain_text', text, emoji: true } },
  { type: 'section', text: { type: 'mrkdwn', text: `*${text}*` } },
];
const message = (text: string) => ({ channel: CHANNEL, text, blocks: blocks(text) });

function secretHolds(value: string) {
  secretsMock.on(GetSecretValueCommand).resolves({ SecretString: value });
}

/** A client of the receiver's Web API; waits are recorded, not slept. */
function client(options: Partial<SlackAppClientOptions> = {}): { slack: SlackAppClient; waits: number[] } {
  const waits: number[] = [];
  const slack = createSlackAppClient({
    secrets: new SecretsManagerClient({}),
    secretId: SECRET_ID,
    baseUrl: receiver.api.baseUrl,
    sleep: async (ms) => void waits.push(ms),
    ...options,
  });
  return { slack, waits };
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
  }
  throw new Error('expected a rejection with an Error');
}

beforeAll(async () => {
  receiver = await startSlackReceiver();
  // The retries' warnings are expected here; the credential test below reads the log lines of its own logger.
  vi.spyOn(logger, 'warn').mockImplementation(() => undefined);
});

afterAll(async () => {
  await receiver.close();
  vi.unstubAllEnvs();
});

beforeEach(() => {
  receiver.reset();
  secretsMock.reset();
  secretHolds(receiver.api.botToken);
});

describe('the Slack app client', () => {
  it('posts a message with the bot token and returns its channel ID and ts', async () => {
    const { slack } = client();

    // By name: the answer gives the ID, which an update needs.
    const posted = await slack.postMessage({ ...message('Canary started'), channel: '#runbooks' });

    expect(posted).toEqual({ channel: CHANNEL, ts: expect.stringMatching(/^\d+\.\d{6}$/) });
    const [request] = receiver.api.requests;
    expect(request).toMatchObject({ method: 'POST', path: '/api/chat.postMessage', status: 200 });
    expect(request?.headers.authorization).toBe(`Bearer ${receiver.api.botToken}`);
    expect(request?.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(request?.body).toEqual({
      channel: '#runbooks',
      text: 'Canary started',
      blocks: blocks('Canary started'),
    });
    expect(receiver.api.threads).toEqual([
      {
        parent: expect.objectContaining({
          ts: posted.ts,
          current: expect.objectContaining({ text: 'Canary started' }),
        }),
        replies: [],
      },
    ]);
    // The webhook sees nothing of it.
    expect(receiver.messages).toEqual([]);
  });

  it('keeps one thread per run: one parent updated at each step, the steps as replies', async () => {
    const { slack } = client();
    const parent = await slack.postMessage(message('Canary: 0 %'));
    for (const weight of [5, 20, 50, 100]) {
      const reply = await slack.postMessage({ ...message(`Step to ${weight} %`), threadTs: parent.ts });
      expect(reply.ts).not.toBe(parent.ts);
      await expect(slack.updateMessage({ ...parent, ...message(`Canary: ${weight} %`) })).resolves.toEqual(
        parent,
      );
    }

    const [thread, ...others] = receiver.api.threads;
    expect(others).toEqual([]);
    expect(thread?.parent.posted.text).toBe('Canary: 0 %');
    expect(thread?.parent.updates.map((update) => update.text)).toEqual([
      'Canary: 5 %',
      'Canary: 20 %',
      'Canary: 50 %',
      'Canary: 100 %',
    ]);
    expect(thread?.parent.current.blocks).toEqual(blocks('Canary: 100 %'));
    expect(thread?.replies.map((reply) => reply.current.text)).toEqual([
      'Step to 5 %',
      'Step to 20 %',
      'Step to 50 %',
      'Step to 100 %',
    ]);
    expect(receiver.api.requests.filter((r) => r.path === '/api/chat.postMessage')[1]?.body).toMatchObject({
      thread_ts: parent.ts,
    });
  });

  it('reads the token once per TTL, accepts the JSON form, and re-reads it after Slack refuses it', async () => {
    let clock = 0;
    secretsMock.reset();
    secretHolds(JSON.stringify({ botToken: receiver.api.botToken }));
    const { slack } = client({ ttlMs: 1_000, now: () => clock });
    await slack.postMessage(message('one'));
    await slack.postMessage(message('two'));
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    clock = 1_000;
    await slack.postMessage(message('three'));
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);

    // Rotated: the cached token is refused once, then the new one is read without waiting for the TTL.
    receiver.api.fail([{ kind: 'error', error: 'token_revoked' }]);
    await expect(slack.postMessage(message('four'))).rejects.toMatchObject({ name: 'SlackAppMisconfigured' });
    await slack.postMessage(message('five'));
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(3);
  });

  it('refuses a base URL other than https on slack.com or a loopback receiver', () => {
    const options = { secrets: new SecretsManagerClient({}), secretId: SECRET_ID };
    expect(() => createSlackAppClient(options)).not.toThrow();
    expect(() => createSlackAppClient({ ...options, baseUrl: 'https://slack.com/api' })).not.toThrow();
    for (const baseUrl of [
      'http://slack.com/api/',
      'https://slack.com.example.net/api/',
      'http://10.0.0.1/api/',
      'nope',
    ]) {
      expect(() => createSlackAppClient({ ...options, baseUrl }), baseUrl).toThrow(
        expect.objectContaining({ name: 'SlackAppMisconfigured' }),
      );
    }
  });
});

describe('Slack app errors', () => {
  it.each([
    ['invalid_auth', 'SlackAppMisconfigured', /check the bot token/],
    ['not_authed', 'SlackAppMisconfigured', /check the bot token/],
    ['token_revoked', 'SlackAppMisconfigured', /check the bot token/],
    ['account_inactive', 'SlackAppMisconfigured', /check the bot token/],
    ['channel_not_found', 'SlackChannelUnreachable', /invite the app/],
    ['not_in_channel', 'SlackChannelUnreachable', /invite the app/],
    ['invalid_blocks', 'SlackRejected', /answered invalid_blocks$/],
  ])('maps %s on a post to %s', async (error, name, says) => {
    const { slack } = client();
    receiver.api.fail([{ kind: 'error', error }]);
    const failure = await failureOf(slack.postMessage(message('x')));
    expect(failure).toMatchObject({ name, message: expect.stringMatching(says) });
    expect(failure.message).toContain(`chat.postMessage on 127.0.0.1:`);
    expect(failure.message).toContain(error);
    expect(receiver.api.messages).toEqual([]);
  });

  it('maps the errors the simulated workspace gives on its own', async () => {
    const { slack } = client();
    await expect(slack.postMessage({ ...message('x'), channel: 'C404' })).rejects.toMatchObject({
      name: 'SlackChannelUnreachable',
    });
    await expect(slack.postMessage({ ...message('x'), channel: 'C000PRIVATE' })).rejects.toMatchObject({
      name: 'SlackChannelUnreachable',
      message: expect.stringContaining('not_in_channel'),
    });
    secretsMock.reset();
    secretHolds('xoxb-000test-not-the-token');
    await expect(client().slack.postMessage(message('x'))).rejects.toMatchObject({
      name: 'SlackAppMisconfigured',
      message: expect.stringContaining('invalid_auth'),
    });
  });

  it('names a vanished message on update, so the caller can post anew', async () => {
    const { slack } = client();
    const parent = await slack.postMessage(message('parent'));
    await expect(slack.updateMessage({ ...message('x'), ts: '1.000999' })).rejects.toMatchObject({
      name: 'SlackMessageNotFound',
      message: expect.stringContaining('post a new one'),
    });
    receiver.api.fail([{ kind: 'error', error: 'message_not_found', method: 'chat.update' }]);
    await expect(slack.updateMessage({ ...parent, ...message('x') })).rejects.toMatchObject({
      name: 'SlackMessageNotFound',
    });
    expect(receiver.api.messages[0]?.updates).toEqual([]);
  });

  it('retries a rate-limited call after Retry-After, and gives up as SlackRateLimited beyond the budget', async () => {
    const { slack, waits } = client();
    receiver.api.fail([{ kind: 'rate-limited', retryAfter: 2 }]);
    await slack.postMessage(message('late'));
    expect(waits).toEqual([2_000]);
    expect(receiver.api.requests.map((request) => request.status)).toEqual([429, 200]);
    expect(receiver.api.messages).toHaveLength(1);

    receiver.api.fail([{ kind: 'rate-limited', retryAfter: 30 }]);
    const failure = await failureOf(slack.postMessage(message('later')));
    expect(failure).toMatchObject({
      name: 'SlackRateLimited',
      message: expect.stringContaining('would exceed the 8000 ms budget'),
    });
    expect(waits).toEqual([2_000]);

    // `ratelimited` in an HTTP 200 answer counts the same; attempts run out before the budget here.
    receiver.api.fail([
      { kind: 'error', error: 'ratelimited' },
      { kind: 'rate-limited', retryAfter: 1 },
      { kind: 'rate-limited', retryAfter: 1 },
    ]);
    await expect(slack.postMessage(message('never'))).rejects.toMatchObject({
      name: 'SlackRateLimited',
      message: expect.stringContaining('after 3 attempts'),
    });
    expect(receiver.api.messages).toHaveLength(1);
  });

  it('names a malformed answer SlackInvalidResponse', async () => {
    const { slack } = client();
    const malformed = [
      { kind: 'raw', body: '<html>upstream error</html>' },
      { kind: 'raw', body: '{"ts": "1.000001"}', contentType: 'application/json' },
      { kind: 'raw', body: '{"ok": true, "channel": "C000RUNBOOKS"}', contentType: 'application/json' },
      { kind: 'raw', body: '{"ok": false}', contentType: 'application/json' },
    ] as const;
    receiver.api.fail([...malformed]);
    for (const answer of malformed) {
      const failure = await failureOf(slack.postMessage(message('x')));
      expect(failure, answer.body).toMatchObject({ name: 'SlackInvalidResponse' });
      expect(failure.message).toContain(answer.body.slice(0, 20));
    }
  });

  it('does not post twice when Slack fails on its side, but retries an update', async () => {
    const { slack, waits } = client();
    receiver.api.fail([{ kind: 'raw', status: 503, body: 'unavailable' }]);
    await expect(slack.postMessage(message('x'))).rejects.toMatchObject({ name: 'SlackUnavailable' });
    expect(receiver.api.requests).toHaveLength(1);

    const parent = await slack.postMessage(message('parent'));
    receiver.api.fail([{ kind: 'error', error: 'internal_error', method: 'chat.update' }]);
    await slack.updateMessage({ ...parent, ...message('updated') });
    expect(waits).toEqual([250]);
    expect(receiver.api.messages[0]?.current.text).toBe('updated');
  });

  it('gives up on a hanging Slack after the request timeout', async () => {
    const { slack } = client({ timeoutMs: 100 });
    receiver.api.fail([{ kind: 'error', error: 'internal_error', delayMs: 2_000 }]);
    await expect(slack.postMessage(message('x'))).rejects.toMatchObject({
      name: 'SlackUnavailable',
      message: expect.stringContaining('timed out after 100 ms'),
    });
  });

  it('refuses a secret that holds no bot token, naming the secret and not its value', async () => {
    for (const value of [
      'https://hooks.slack.com/services/T/B/x',
      '{"token": "xoxb-1"}',
      '{not json xoxp-secret',
    ]) {
      secretsMock.reset();
      secretHolds(value);
      const failure = await failureOf(client().slack.postMessage(message('x')));
      expect(failure).toMatchObject({
        name: 'SlackAppMisconfigured',
        message: `secret ${SECRET_ID} does not hold a Slack bot token: expected xoxb-… or {"botToken": "xoxb-…"}`,
      });
    }
    expect(receiver.api.requests).toEqual([]);
  });
});

describe('the bot token is a credential', () => {
  it('never appears in a log line or an error message, on any path', async () => {
    const token = receiver.api.botToken;
    const output: string[] = [];
    const capture = (chunk: string | Uint8Array) => {
      output.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    };
    const errors: Error[] = [];
    vi.resetModules();
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'DEBUG');
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    try {
      const fresh = await import('../../lambdas/notify/slack-app');
      const slack = fresh.createSlackAppClient({
        secrets: new SecretsManagerClient({}),
        secretId: SECRET_ID,
        baseUrl: receiver.api.baseUrl,
        sleep: async () => undefined,
        timeoutMs: 100,
      });
      await slack.postMessage(message('ok'));
      const faults = [
        { kind: 'rate-limited', retryAfter: 60 },
        { kind: 'error', error: 'invalid_auth' },
        { kind: 'error', error: 'channel_not_found' },
        // A proxy echoing the request must not carry the token into the error.
        { kind: 'raw', status: 401, body: `bad token ${token}` },
        { kind: 'raw', body: `{"echo": "Bearer ${token}"}` },
        { kind: 'error', error: 'internal_error', delayMs: 1_000 },
      ] as const;
      for (const fault of faults) {
        receiver.api.fail([fault]);
        errors.push(await failureOf(slack.postMessage(message('x'))));
      }
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
      vi.unstubAllEnvs();
    }

    expect(errors.map((error) => error.name)).toEqual([
      'SlackRateLimited',
      'SlackAppMisconfigured',
      'SlackChannelUnreachable',
      'SlackRejected',
      'SlackInvalidResponse',
      'SlackUnavailable',
    ]);
    const logs = output.join('');
    // The capture saw the logger at work, so an absence below means something.
    expect(logs).toContain('"message":"Calling the Slack Web API"');
    expect(logs).not.toContain(token);
    expect(errors[3]?.message).toContain('bad token [redacted]');
    for (const error of errors) {
      expect(error.message).not.toContain(token);
      expect(String(error.stack)).not.toContain(token);
      expect(error.cause).toBeUndefined();
    }
  });
});
