import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RunbookReport } from '../../lambdas/notify/report';
import { createWebhookUrlSource } from '../../lambdas/notify/webhook-url';
import { startSlackReceiver, type SlackReceiver } from '../harness/slack-receiver';

const secretsMock = mockClient(SecretsManagerClient);
let receiver: SlackReceiver;

const report: RunbookReport = {
  runbook: 'rollback',
  title: 'Rollback',
  outcome: 'succeeded',
  subject: 'checkout/payments-api',
  facts: [
    { label: 'Deployment', value: 'checkout/payments-api', code: true },
    { label: 'Cluster', value: 'prod-eu', code: true },
    { label: 'Alarm', value: 'payments-api-5xx', code: true },
  ],
  changes: [
    { label: 'Revision', from: 7, to: 6 },
    { label: 'Images', from: ['payments:1.4.2'], to: ['payments:1.4.1'], code: true },
  ],
  // CloudWatch writes offsets as +0000.
  figures: [{ label: 'alarm → patch', from: '2025-03-04T03:00:00.000+0000', to: '2025-03-04T03:00:42Z' }],
  execution: {
    id: 'arn:aws:states:eu-west-1:123456789012:execution:rollback:a1b2c3',
    name: 'a1b2c3',
    startTime: '2025-03-04T03:00:05Z',
  },
};

/** A fresh handler module (fresh URL cache, logger at the level in the environment), as at a cold start. */
async function coldStart(logLevel = 'SILENT') {
  vi.resetModules();
  vi.stubEnv('WEBHOOK_SECRET_ID', 'platform-runbooks/slack-webhook');
  vi.stubEnv('ENVIRONMENT_NAME', 'production');
  vi.stubEnv('DASHBOARD_URL', 'https://grafana.example.com/d/runbooks');
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', logLevel);
  return import('../../lambdas/notify/handlers/notify-slack');
}

function secretHolds(value: string) {
  secretsMock.on(GetSecretValueCommand).resolves({ SecretString: value });
}

/** Records the waits asked for and returns at once, so retry tests take no time. */
function recordingSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

/** The receiver's URL on a port where nothing listens (fetch refuses "bad" ports such as 9 outright). */
async function refusingUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return receiver.url.replace(/:\d+\//, `:${port}/`);
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
});

afterAll(async () => {
  await receiver.close();
  vi.unstubAllEnvs();
});

beforeEach(() => {
  receiver.reset();
  secretsMock.reset();
});

describe('notify-slack handler', () => {
  it('delivers the Block Kit message to the webhook read from Secrets Manager', async () => {
    secretHolds(receiver.url);
    const { handler } = await coldStart();

    await expect(handler(report)).resolves.toEqual({ delivered: true, attempts: 1 });

    expect(receiver.messages).toHaveLength(1);
    expect(receiver.messages[0]?.headers['content-type']).toBe('application/json');
    expect(receiver.messages[0]?.body).toMatchObject({
      text: expect.stringContaining('✅ Rollback succeeded · production · checkout/payments-api'),
      blocks: expect.arrayContaining([
        { type: 'header', text: expect.objectContaining({ type: 'plain_text' }) },
      ]),
    });
    expect(JSON.stringify(receiver.messages[0]?.body)).toContain(
      '<https://grafana.example.com/d/runbooks|Dashboard>',
    );
  });

  it('keeps a report with a huge detail, many images and every array full within what Slack accepts', async () => {
    secretHolds(receiver.url);
    const { handler } = await coldStart();
    const images = (tag: string) =>
      Array.from({ length: 300 }, (_, i) => `registry.example.com/svc-${i}:${tag}`);

    const result = await handler({
      ...report,
      outcome: 'failed',
      reason: 'RolloutTimeout',
      detail: 'x'.repeat(50_000),
      facts: Array.from({ length: 10 }, (_, i) => ({ label: `Fact ${i}`, value: 'v'.repeat(5_000) })),
      changes: Array.from({ length: 10 }, () => ({ label: 'Images', from: images('b'), to: images('a') })),
      figures: Array.from({ length: 10 }, () => ({ label: 'f'.repeat(1_000), from: '2025-03-04T03:00:00Z' })),
      links: Array.from({ length: 5 }, () => ({ url: `https://example.com/${'p'.repeat(950)}`, label: 'l' })),
    });

    // The receiver answers 400 invalid_blocks, as Slack does, to a message beyond the Block Kit limits.
    expect(result).toEqual({ delivered: true, attempts: 1 });
    expect(receiver.messages).toHaveLength(1);
  });

  it('waits the Retry-After of a 429 in real time before posting again', async () => {
    secretHolds(receiver.url);
    const { handler } = await coldStart();
    receiver.respondWith([{ status: 429, retryAfter: 1 }]);

    await expect(handler(report)).resolves.toEqual({ delivered: true, attempts: 2 });

    const [limited, delivered] = receiver.requests;
    expect(limited?.status).toBe(429);
    expect(delivered?.status).toBe(200);
    const gap = (delivered?.at ?? 0) - (limited?.at ?? 0);
    expect(gap).toBeGreaterThanOrEqual(990);
    expect(gap).toBeLessThan(3_000);
  });

  it('reads the secret once across invocations', async () => {
    secretHolds(JSON.stringify({ webhookUrl: receiver.url }));
    const { handler } = await coldStart();

    await handler(report);
    await handler({ ...report, outcome: 'in-progress' });

    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(secretsMock.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({
      SecretId: 'platform-runbooks/slack-webhook',
    });
    expect(receiver.messages).toHaveLength(2);
  });

  it.each([
    ['not a URL', 'hooks.slack.com/services/T000/B000/misconfiguredsecret'],
    ['plain http off loopback', 'http://hooks.slack.com/services/T000/B000/misconfiguredsecret'],
    ['a URL under another key', '{"url": "https://hooks.slack.com/services/T000/B000/misconfiguredsecret"}'],
    ['broken JSON', '{"webhookUrl": "https://hooks.slack.com/services/T000/B000/misconfiguredsecret"'],
    ['a non-URL scheme', 'misconfiguredsecret:T000'],
  ])('refuses a secret holding %s without quoting it', async (_, value) => {
    secretHolds(value);
    const { handler } = await coldStart();

    const error = await failureOf(handler(report));

    expect(error.name).toBe('SlackWebhookMisconfigured');
    expect(error.message).toContain('platform-runbooks/slack-webhook');
    expect(error.message).not.toContain('misconfiguredsecret');
    expect(receiver.requests).toHaveLength(0);
  });

  it('refuses a malformed report naming the fields, before reading the secret or posting', async () => {
    secretHolds(receiver.url);
    const { handler } = await coldStart();

    const error = await failureOf(
      handler({
        ...report,
        runbook: 'Rollback!',
        title: '',
        outcome: 'exploded',
        facts: [{ label: 'Alarm', value: { name: 'x' } }],
        changes: [{ label: 'Images', from: [1], to: [] }],
        figures: [{ label: 'alarm → patch', from: 'yesterday', withinMinutes: 0 }],
        links: [{ url: 'javascript:alert(1)', label: 'x' }],
        execution: { id: report.execution.id },
        extra: 'ignored',
      }),
    );

    expect(error.name).toBe('InvalidInput');
    expect(error.message).toMatch(/^runbook report is malformed: /);
    expect(error.message).toContain('runbook: must be a slug: lowercase letters, digits and hyphens');
    expect(error.message).toContain('title:');
    expect(error.message).toContain('outcome');
    expect(error.message).toContain('facts.0.value: must be a string or a number');
    expect(error.message).toContain('changes.0.from: must be a string, a number or a list of strings');
    expect(error.message).toContain('figures.0.from: must be a timestamp');
    expect(error.message).toContain('figures.0.withinMinutes');
    expect(error.message).toContain('links.0.url: must be an http(s) URL');
    expect(error.message).toContain('execution.name');
    expect(error.message).not.toContain('extra');
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    expect(receiver.requests).toHaveLength(0);
  });

  it('refuses arrays beyond their caps, saying what to do instead', async () => {
    secretHolds(receiver.url);
    const { handler } = await coldStart();
    const fact = { label: 'Node', value: 'ip-10-0-0-1' };

    const error = await failureOf(
      handler({
        ...report,
        facts: Array.from({ length: 11 }, () => fact),
        links: Array.from({ length: 6 }, () => ({ url: 'https://example.com', label: 'x' })),
      }),
    );

    expect(error.name).toBe('InvalidInput');
    expect(error.message).toContain(
      'facts: must have at most 10 facts: a message is read at a glance; put the rest in detail or behind a link',
    );
    expect(error.message).toContain('links: must have at most 5 links');
    expect(receiver.requests).toHaveLength(0);
  });

  it('accepts keys it does not know, as the state machine may pass more', async () => {
    secretHolds(receiver.url);
    const { handler } = await coldStart();

    await expect(
      handler({ ...report, alarm: { state: 'ALARM' }, facts: [{ label: 'Alarm', value: 'a', kind: 'x' }] }),
    ).resolves.toEqual({ delivered: true, attempts: 1 });
  });

  it('notifies for a runbook it has never heard of, from the fields the report carries', async () => {
    secretHolds(receiver.url);
    const { handler } = await coldStart();

    await expect(
      handler({
        runbook: 'certificates',
        title: 'Certificate check',
        outcome: 'succeeded',
        subject: 'api.example.com',
        facts: [
          { label: 'Certificate', value: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc', code: true },
          { label: 'Days to expiry', value: 41 },
        ],
        figures: [
          { label: 'check', from: '2025-03-04T00:00:00Z', to: '2025-03-04T00:00:12Z', withinMinutes: 5 },
        ],
        links: [{ url: 'https://runbooks.example.com/certificates', label: 'Runbook' }],
        execution: {
          id: 'arn:aws:states:eu-west-1:123456789012:execution:certificates:daily-42',
          name: 'daily-42',
          startTime: '2025-03-04T00:00:00Z',
        },
      }),
    ).resolves.toEqual({ delivered: true, attempts: 1 });

    const body = receiver.messages[0]?.body;
    expect(body?.text).toBe('✅ Certificate check succeeded · production · api.example.com');
    expect(body?.blocks).toEqual([
      {
        type: 'header',
        text: {
          type: 'plain_text',
          text: '✅ Certificate check succeeded · production · api.example.com',
          emoji: true,
        },
      },
      { type: 'section', text: { type: 'mrkdwn', text: '⏱ check *12 s* (target 5 min) ✅' } },
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: '*Certificate:* `arn:aws:acm:eu-west-1:123456789012:certificate/abc`\n*Days to expiry:* 41',
        },
      },
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text:
            '🔗 <https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/arn:aws:states:eu-west-1:123456789012:execution:certificates:daily-42|Execution in Step Functions>' +
            ' · <https://runbooks.example.com/certificates|Runbook> · <https://grafana.example.com/d/runbooks|Dashboard>',
        },
      },
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: 'production · account 123456789012 · eu-west-1 · execution `daily-42` · started <!date^1741046400^{date_short_pretty} {time_secs}|2025-03-04T00:00:00.000Z>',
          },
        ],
      },
    ]);
  });
});

describe('notifySlack retries', () => {
  async function notify(post: Record<string, unknown> = {}, url = receiver.url) {
    const { notifySlack } = await coldStart();
    return notifySlack(report, { webhookUrl: async () => new URL(url), environment: 'production', post });
  }

  it('asks to wait exactly the Retry-After of a 429', async () => {
    const { waits, sleep } = recordingSleep();
    receiver.respondWith([{ status: 429, retryAfter: 2 }]);

    await expect(notify({ sleep })).resolves.toEqual({ delivered: true, attempts: 2 });

    expect(waits).toEqual([2_000]);
    expect(receiver.messages).toHaveLength(1);
  });

  it('gives up at once when Retry-After is beyond the wait budget, naming it SlackRateLimited for the workflow', async () => {
    const { waits, sleep } = recordingSleep();
    receiver.respondWith([{ status: 429, retryAfter: 30 }]);

    const error = await failureOf(notify({ sleep }));

    expect(error.name).toBe('SlackRateLimited');
    expect(error.message).toContain('after 1 attempt, last: HTTP 429');
    expect(error.message).toContain('8000 ms budget');
    expect(waits).toEqual([]);
    expect(receiver.requests).toHaveLength(1);
  });

  it('backs off with jitter after 5xx answers and delivers when Slack is back', async () => {
    const { waits, sleep } = recordingSleep();
    receiver.respondWith([{ status: 500 }, { status: 503 }]);

    await expect(notify({ sleep })).resolves.toEqual({ delivered: true, attempts: 3 });

    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeGreaterThanOrEqual(125);
    expect(waits[0]).toBeLessThanOrEqual(250);
    expect(waits[1]).toBeGreaterThanOrEqual(250);
    expect(waits[1]).toBeLessThanOrEqual(500);
  });

  it('reports SlackUnavailable with the attempts and the last status when Slack stays down', async () => {
    const { waits, sleep } = recordingSleep();
    receiver.respondWith([
      { status: 500 },
      { status: 502 },
      { status: 503 },
      { status: 503 },
      { status: 503 },
    ]);

    const error = await failureOf(notify({ sleep, random: () => 1 }));

    expect(error.name).toBe('SlackUnavailable');
    expect(error.message).toBe(
      `Slack webhook on ${new URL(receiver.url).host} unavailable after 4 attempts, last: HTTP 503`,
    );
    expect(receiver.requests).toHaveLength(4);
    // At the top of their jitter ranges, the waits are the nominal 250 ms, 500 ms, 1 s.
    expect(waits).toEqual([250, 500, 1_000]);
  });

  it('reports SlackRejected with Slack’s answer, without retrying, on a 400', async () => {
    const { waits, sleep } = recordingSleep();
    receiver.respondWith([{ status: 400, body: 'invalid_blocks' }]);

    const error = await failureOf(notify({ sleep }));

    expect(error.name).toBe('SlackRejected');
    expect(error.message).toMatch(/refused the message with HTTP 400: invalid_blocks$/);
    expect(receiver.requests).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it('truncates a long rejection body', async () => {
    receiver.respondWith([{ status: 404, body: `no_service ${'x'.repeat(5_000)}` }]);

    const error = await failureOf(notify({ sleep: async () => undefined }));

    expect(error.name).toBe('SlackRejected');
    expect(error.message).toContain('HTTP 404: no_service x');
    expect(error.message.length).toBeLessThan(300);
  });

  it('times out a hanging webhook and tries again', async () => {
    receiver.hang(2_000);

    await expect(notify({ sleep: async () => undefined, timeoutMs: 100 })).resolves.toEqual({
      delivered: true,
      attempts: 2,
    });
    expect(receiver.requests).toHaveLength(2);
  });

  it('reports SlackUnavailable when every attempt times out', async () => {
    receiver.hang(2_000, 2);

    const error = await failureOf(notify({ sleep: async () => undefined, timeoutMs: 100, maxAttempts: 2 }));

    expect(error.name).toBe('SlackUnavailable');
    expect(error.message).toContain('after 2 attempts, last: timed out after 100 ms');
  });

  it('names a refused connection by its code', async () => {
    const error = await failureOf(
      notify({ sleep: async () => undefined, maxAttempts: 2 }, await refusingUrl()),
    );

    expect(error.name).toBe('SlackUnavailable');
    expect(error.message).toContain('last: network error ECONNREFUSED');
  });
});

describe('webhook URL source', () => {
  const secrets = new SecretsManagerClient({});
  const url1 = 'https://hooks.slack.com/services/T000/B000/first';
  const url2 = 'https://hooks.slack.com/services/T000/B000/rotated';

  it('reuses the URL within the TTL and reads the rotated one after it', async () => {
    let now = 1_000_000;
    secretsMock
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: url1 })
      .resolvesOnce({ SecretString: JSON.stringify({ webhookUrl: url2 }) });
    const webhookUrl = createWebhookUrlSource({ secrets, secretId: 'hook', ttlMs: 60_000, now: () => now });

    expect((await webhookUrl()).href).toBe(url1);
    now += 59_999;
    expect((await webhookUrl()).href).toBe(url1);
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    now += 1;
    expect((await webhookUrl()).href).toBe(url2);
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('shares one read between concurrent callers', async () => {
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: url1 });
    const webhookUrl = createWebhookUrlSource({ secrets, secretId: 'hook' });

    const urls = await Promise.all([webhookUrl(), webhookUrl(), webhookUrl()]);

    expect(urls.map((url) => url.href)).toEqual([url1, url1, url1]);
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('does not keep a failed read', async () => {
    secretsMock
      .on(GetSecretValueCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
      .resolves({ SecretString: url1 });
    const webhookUrl = createWebhookUrlSource({ secrets, secretId: 'hook' });

    await expect(webhookUrl()).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect((await webhookUrl()).href).toBe(url1);
  });

  it.each([['http://127.0.0.1:8080/hook'], ['http://localhost/hook'], ['http://[::1]:9000/hook']])(
    'accepts plain http on loopback: %s',
    async (value) => {
      secretsMock.on(GetSecretValueCommand).resolves({ SecretString: value });
      const webhookUrl = createWebhookUrlSource({ secrets, secretId: 'hook' });

      expect((await webhookUrl()).href).toBe(value);
    },
  );

  it('refuses a secret without a string value', async () => {
    secretsMock.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2]) });
    const webhookUrl = createWebhookUrlSource({ secrets, secretId: 'hook' });

    await expect(webhookUrl()).rejects.toMatchObject({
      name: 'SlackWebhookMisconfigured',
      message: 'secret hook has no string value',
    });
  });
});

describe('the webhook URL is a credential', () => {
  it('never appears in a log line, an error message or a posted message, on any path', async () => {
    const secretPart = new URL(receiver.url).pathname.split('/').at(-1) ?? '';
    expect(secretPart).toMatch(/^[0-9a-f]{24}$/);
    const output: string[] = [];
    const capture = (chunk: string | Uint8Array) => {
      output.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    };
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    const errors: Error[] = [];
    try {
      const { handler, notifySlack } = await coldStart('DEBUG');
      const quick = (url = receiver.url) =>
        notifySlack(report, {
          webhookUrl: async () => new URL(url),
          environment: 'production',
          post: { sleep: async () => undefined, timeoutMs: 100, maxAttempts: 2 },
        });
      secretHolds(receiver.url);
      await handler(report);
      receiver.respondWith([{ status: 429, retryAfter: 0 }]);
      await quick();
      const failures: [string, () => Promise<unknown>][] = [
        [
          'rate limited beyond budget',
          () => (receiver.respondWith([{ status: 429, retryAfter: 60 }]), quick()),
        ],
        ['down', () => (receiver.respondWith([{ status: 500 }, { status: 500 }]), quick())],
        // A proxy echoing the path must not carry it into the error either.
        [
          'rejected',
          () => (receiver.respondWith([{ status: 403, body: `invalid_token for ${receiver.url}` }]), quick()),
        ],
        ['hanging', () => (receiver.hang(1_000, 2), quick())],
        ['refused', async () => quick(await refusingUrl())],
        ['malformed report', () => handler({ ...report, outcome: 'unknown' })],
      ];
      for (const [, run] of failures) errors.push(await failureOf(run()));
      secretsMock.reset();
      secretHolds(receiver.url.replace('http://127.0.0.1', 'http://hooks.example.com'));
      errors.push(await failureOf((await coldStart('DEBUG')).handler(report)));
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }

    const logs = output.join('');
    expect(errors.map((error) => error.name)).toEqual([
      'SlackRateLimited',
      'SlackUnavailable',
      'SlackRejected',
      'SlackUnavailable',
      'SlackUnavailable',
      'InvalidInput',
      'SlackWebhookMisconfigured',
    ]);
    // The capture saw the logger at work, so an absence below means something.
    expect(logs).toContain('"message":"Posting to Slack"');
    expect(logs).toContain('"message":"Slack notified"');
    expect(logs).toContain('"message":"Slack webhook not reached, retrying"');
    expect(logs).toContain('"message":"Slack notification failed"');
    expect(logs).toContain(`"host":"${new URL(receiver.url).host}"`);
    expect(logs).not.toContain(secretPart);
    for (const error of errors) {
      expect(error.message).not.toContain(secretPart);
      expect(String(error.stack)).not.toContain(secretPart);
    }
    expect(receiver.messages.length).toBeGreaterThan(0);
    for (const request of receiver.requests) expect(JSON.stringify(request.body)).not.toContain(secretPart);
  });
});
