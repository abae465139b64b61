import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ApproverNotAllowed,
  assertApprover,
  parseSlackAction,
  slackSignature,
  SlackPayloadMalformed,
  SlackRequestStale,
  SlackSignatureMalformed,
  SlackSignatureMismatch,
  SlackSignatureMissing,
  verifySlackRequest,
} from '../../lambdas/notify/slack-signature';

const secret = '8f742231b10e8888abcd99yyyzzz85a5';
const now = Date.UTC(2026, 11, 5, 12, 0, 0);
const nowSeconds = String(now / 1000);

const payload = {
  type: 'block_actions',
  user: { id: 'U0APPROVER', username: 'ana' },
  actions: [{ action_id: 'canary_approve', block_id: 'approval', value: 'web/run-42', type: 'button' }],
  response_url: 'https://hooks.slack.com/actions/T1/1/abc',
  channel: { id: 'C0DEPLOYS', name: 'deploys' },
  container: { type: 'message', message_ts: '1764936000.000100', channel_id: 'C0DEPLOYS' },
  team: { id: 'T1' },
};
const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;

function signed(rawBody: string, timestamp = nowSeconds, key = secret): Record<string, string> {
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': timestamp,
    'x-slack-signature': slackSignature(key, timestamp, rawBody),
  };
}

/** The refusal `verifySlackRequest` throws, to check its class and that its message holds no secret. */
function refusal(headers: Record<string, string | undefined>, rawBody = body, key = secret): Error {
  try {
    verifySlackRequest(key, headers, rawBody, { now });
  } catch (error) {
    expect((error as Error).message).not.toContain(secret);
    return error as Error;
  }
  throw new Error('the request was accepted');
}

describe('slackSignature', () => {
  it('is v0= + hex HMAC-SHA256 of v0:{timestamp}:{body}', () => {
    const expected = createHmac('sha256', secret).update(`v0:${nowSeconds}:${body}`).digest('hex');
    expect(slackSignature(secret, nowSeconds, body)).toBe(`v0=${expected}`);
    expect(slackSignature(secret, nowSeconds, Buffer.from(body))).toBe(`v0=${expected}`);
  });
});

describe('verifySlackRequest', () => {
  it('accepts a request signed with the secret, headers in any case', () => {
    expect(verifySlackRequest(secret, signed(body), body, { now })).toBe(now / 1000);
    const headers = signed(body);
    const titleCase = {
      'X-Slack-Request-Timestamp': headers['x-slack-request-timestamp'],
      'X-Slack-Signature': headers['x-slack-signature'],
    };
    expect(verifySlackRequest(secret, titleCase, Buffer.from(body), { now })).toBe(now / 1000);
  });

  it('accepts the last second of the window and a small clock skew', () => {
    const oldest = String(now / 1000 - 300);
    expect(verifySlackRequest(secret, signed(body, oldest), body, { now })).toBe(now / 1000 - 300);
    const ahead = String(now / 1000 + 60);
    expect(verifySlackRequest(secret, signed(body, ahead), body, { now })).toBe(now / 1000 + 60);
  });

  it('refuses another secret’s signature', () => {
    const error = refusal(signed(body, nowSeconds, 'another-secret'));
    expect(error).toBeInstanceOf(SlackSignatureMismatch);
    expect(error.name).toBe('SlackSignatureMismatch');
    expect(error.message).toBe(
      'X-Slack-Signature does not match the body: wrong signing secret or changed body',
    );
  });

  it('refuses a tampered body', () => {
    const tampered = body.replace('canary_approve', 'canary_reject');
    expect(refusal(signed(body), tampered)).toBeInstanceOf(SlackSignatureMismatch);
  });

  it('refuses a signature for another timestamp (a replay with a fresh date)', () => {
    const headers = { ...signed(body, String(now / 1000 - 600)), 'x-slack-request-timestamp': nowSeconds };
    expect(refusal(headers)).toBeInstanceOf(SlackSignatureMismatch);
  });

  it('refuses a request older than 5 minutes, even correctly signed', () => {
    const error = refusal(signed(body, String(now / 1000 - 301)));
    expect(error).toBeInstanceOf(SlackRequestStale);
    expect(error.message).toBe('the request was signed 301 s ago, more than 300 s');
  });

  it('refuses a request from the future', () => {
    const error = refusal(signed(body, String(now / 1000 + 600)));
    expect(error).toBeInstanceOf(SlackRequestStale);
    expect(error.message).toBe('the request is dated 600 s in the future, more than 60 s');
  });

  it.each([
    ['x-slack-signature', 'the request has no X-Slack-Signature header'],
    ['x-slack-request-timestamp', 'the request has no X-Slack-Request-Timestamp header'],
  ])('refuses a request without %s', (name, message) => {
    const headers: Record<string, string | undefined> = { ...signed(body), [name]: undefined };
    const error = refusal(headers);
    expect(error).toBeInstanceOf(SlackSignatureMissing);
    expect(error.message).toBe(message);
    expect(refusal({ ...signed(body), [name]: '' })).toBeInstanceOf(SlackSignatureMissing);
  });

  it.each([
    ['not hexadecimal', `v0=${'g'.repeat(64)}`, 'X-Slack-Signature is not hexadecimal'],
    [
      'too short',
      `v0=${'a'.repeat(63)}`,
      'X-Slack-Signature has 63 hex digits, not the 64 of an HMAC-SHA256',
    ],
    ['too long', `v0=${'a'.repeat(66)}`, 'X-Slack-Signature has 66 hex digits, not the 64 of an HMAC-SHA256'],
    ['another version', `v1=${'a'.repeat(64)}`, 'X-Slack-Signature does not start with "v0="'],
    ['a bare digest', 'a'.repeat(64), 'X-Slack-Signature does not start with "v0="'],
  ])('refuses a signature %s', (_, signature, message) => {
    const error = refusal({ ...signed(body), 'x-slack-signature': signature });
    expect(error).toBeInstanceOf(SlackSignatureMalformed);
    expect(error.message).toBe(message);
  });

  it('refuses a timestamp that is not whole seconds', () => {
    for (const timestamp of ['1764936000.5', '-1', 'now', '1'.repeat(13)]) {
      expect(refusal({ ...signed(body), 'x-slack-request-timestamp': timestamp })).toBeInstanceOf(
        SlackSignatureMalformed,
      );
    }
  });

  it('refuses everything with an empty secret', () => {
    const error = refusal(signed(body, nowSeconds, ''), body, '');
    expect(error).toBeInstanceOf(SlackSignatureMismatch);
  });
});

describe('parseSlackAction', () => {
  it('reads the clicked button and who clicked it', () => {
    expect(parseSlackAction(body)).toEqual({
      userId: 'U0APPROVER',
      actionId: 'canary_approve',
      value: 'web/run-42',
      responseUrl: 'https://hooks.slack.com/actions/T1/1/abc',
      channelId: 'C0DEPLOYS',
      messageTs: '1764936000.000100',
    });
    expect(parseSlackAction(Buffer.from(body))).toEqual(parseSlackAction(body));
  });

  it('decodes + as a space, as form encoding has it', () => {
    const withSpace = `payload=${encodeURIComponent(JSON.stringify({ ...payload, actions: [{ action_id: 'canary_reject', value: 'a b' }] })).replaceAll('%20', '+')}`;
    expect(parseSlackAction(withSpace)).toMatchObject({ actionId: 'canary_reject', value: 'a b' });
  });

  it.each([
    ['no payload field', 'token=abc', 'the body has no payload form field'],
    ['a payload that is not JSON', 'payload=%7Bnot-json', 'the payload form field is not JSON'],
    [
      'no actions',
      `payload=${encodeURIComponent(JSON.stringify({ ...payload, actions: [] }))}`,
      'the Slack payload is malformed: actions: must hold the clicked action',
    ],
    [
      'no user id',
      `payload=${encodeURIComponent(JSON.stringify({ ...payload, user: {} }))}`,
      /^the Slack payload is malformed: user\.id: /,
    ],
    [
      'another interaction type',
      `payload=${encodeURIComponent(JSON.stringify({ ...payload, type: 'view_submission' }))}`,
      /^the Slack payload is malformed: type: /,
    ],
    [
      'an action without action_id',
      `payload=${encodeURIComponent(JSON.stringify({ ...payload, actions: [{ value: 'x' }] }))}`,
      /actions\.0\.action_id/,
    ],
  ])('refuses %s', (_, rawBody, message) => {
    expect(() => parseSlackAction(rawBody)).toThrow(SlackPayloadMalformed);
    expect(() => parseSlackAction(rawBody)).toThrow(message);
  });
});

describe('assertApprover', () => {
  const approvers = ['U0APPROVER', 'W0ENTERPRISE'];

  it('allows a configured approver', () => {
    expect(() => assertApprover('U0APPROVER', approvers)).not.toThrow();
    expect(() => assertApprover('W0ENTERPRISE', approvers)).not.toThrow();
  });

  it('refuses anyone else, and everyone when no approver is configured', () => {
    expect(() => assertApprover('U0INTRUDER', approvers)).toThrow(ApproverNotAllowed);
    expect(() => assertApprover('U0INTRUDER', approvers)).toThrow(
      'Slack user U0INTRUDER is not an approver of this canary',
    );
    expect(() => assertApprover('u0approver', approvers)).toThrow(ApproverNotAllowed);
    expect(() => assertApprover('U0APPROVER', [])).toThrow(ApproverNotAllowed);
  });
});
