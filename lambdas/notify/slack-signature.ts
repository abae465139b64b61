import { createHmac, timingSafeEqual } from 'node:crypto';
import * as z from 'zod/mini';
import { parseOrThrow, RunbookError } from '../shared/errors';

// Slack's interactive buttons post to our HTTPS endpoint; anyone who learns its URL can post too. Slack signs
// each request with the app's signing secret ("Verifying requests from Slack",
// api.slack.com/authentication/verifying-requests-from-slack; the same algorithm as slack_sdk.signature
// SignatureVerifier):
//   X-Slack-Request-Timestamp: Unix seconds when Slack sent it
//   X-Slack-Signature: "v0=" + hex(HMAC-SHA256(signing secret, "v0:" + timestamp + ":" + raw body))
// The HMAC is over the raw body bytes, before any form or JSON parsing (a re-serialised body differs).
// The signature proves the body came from Slack; the timestamp window bounds replays of a captured request.
// Refusal messages name the header and the problem, never the secret, and never echo what was received.

/** A header Slack always sends is missing: not a request from Slack. */
export class SlackSignatureMissing extends RunbookError {
  override name = 'SlackSignatureMissing';
}

/** A header is present but not in Slack's format (not `v0=` + 64 hex digits, not Unix seconds). */
export class SlackSignatureMalformed extends RunbookError {
  override name = 'SlackSignatureMalformed';
}

/** The signature does not match the body: another secret signed it, or the body was changed. */
export class SlackSignatureMismatch extends RunbookError {
  override name = 'SlackSignatureMismatch';
}

/** The timestamp is outside the window: a replay of an old request, or a clock far off. */
export class SlackRequestStale extends RunbookError {
  override name = 'SlackRequestStale';
}

/** The signed body is not a button click we understand. */
export class SlackPayloadMalformed extends RunbookError {
  override name = 'SlackPayloadMalformed';
}

/** The Slack user who clicked is not among the configured approvers. */
export class ApproverNotAllowed extends RunbookError {
  override name = 'ApproverNotAllowed';
}

/** Slack's recommended window: refuse requests older than 5 minutes. */
export const MAX_REQUEST_AGE_SECONDS = 5 * 60;
/**
 * Slack never sends a request from the future; a few seconds between its clock and ours can. Allowing more would
 * stretch the replay window beyond the 5 minutes (slack_sdk accepts 5 minutes either way; we are stricter).
 */
export const MAX_CLOCK_SKEW_SECONDS = 60;

const SIGNATURE_VERSION = 'v0';
const SIGNATURE_HEX_LENGTH = 64; // SHA-256: 32 bytes

/** Headers as the Lambda event carries them; names compared case-insensitively (function URLs lower-case them). */
export type RequestHeaders = Readonly<Record<string, string | undefined>>;

function header(headers: RequestHeaders, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/** `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`: what Slack sends for this body and timestamp. */
export function slackSignature(signingSecret: string, timestamp: string, rawBody: string | Buffer): string {
  const hmac = createHmac('sha256', signingSecret);
  hmac.update(`${SIGNATURE_VERSION}:${timestamp}:`);
  hmac.update(rawBody);
  return `${SIGNATURE_VERSION}=${hmac.digest('hex')}`;
}

export interface VerifyOptions {
  /** Now, in milliseconds since the epoch (tests pass a fixed clock). */
  now?: number;
}

/**
 * Verifies a request from Slack, or throws the named refusal: `SlackSignatureMissing`, `SlackSignatureMalformed`,
 * `SlackRequestStale` (older than 5 minutes, or more than a minute ahead), `SlackSignatureMismatch`. Returns the
 * request's timestamp (Unix seconds).
 */
export function verifySlackRequest(
  signingSecret: string,
  headers: RequestHeaders,
  rawBody: string | Buffer,
  options: VerifyOptions = {},
): number {
  // An empty secret would "verify" anything signed with an empty key: a deployment error, refused loudly.
  if (signingSecret.length === 0)
    throw new SlackSignatureMismatch('the signing secret is empty: nothing can verify');
  const timestamp = header(headers, 'X-Slack-Request-Timestamp');
  const signature = header(headers, 'X-Slack-Signature');
  if (timestamp === undefined || timestamp === '') {
    throw new SlackSignatureMissing('the request has no X-Slack-Request-Timestamp header');
  }
  if (signature === undefined || signature === '') {
    throw new SlackSignatureMissing('the request has no X-Slack-Signature header');
  }
  if (!/^\d{1,12}$/.test(timestamp)) {
    throw new SlackSignatureMalformed('X-Slack-Request-Timestamp is not a number of seconds');
  }
  const prefix = `${SIGNATURE_VERSION}=`;
  if (!signature.startsWith(prefix)) {
    throw new SlackSignatureMalformed(`X-Slack-Signature does not start with "${prefix}"`);
  }
  const hex = signature.slice(prefix.length);
  if (!/^[0-9a-fA-F]*$/.test(hex)) throw new SlackSignatureMalformed('X-Slack-Signature is not hexadecimal');
  if (hex.length !== SIGNATURE_HEX_LENGTH) {
    throw new SlackSignatureMalformed(
      `X-Slack-Signature has ${hex.length} hex digits, not the ${SIGNATURE_HEX_LENGTH} of an HMAC-SHA256`,
    );
  }

  const sentAt = Number(timestamp);
  const nowSeconds = Math.floor((options.now ?? Date.now()) / 1000);
  const age = nowSeconds - sentAt;
  if (age > MAX_REQUEST_AGE_SECONDS) {
    throw new SlackRequestStale(
      `the request was signed ${age} s ago, more than ${MAX_REQUEST_AGE_SECONDS} s`,
    );
  }
  if (-age > MAX_CLOCK_SKEW_SECONDS) {
    throw new SlackRequestStale(
      `the request is dated ${-age} s in the future, more than ${MAX_CLOCK_SKEW_SECONDS} s`,
    );
  }

  const expected = Buffer.from(slackSignature(signingSecret, timestamp, rawBody).slice(prefix.length), 'hex');
  const received = Buffer.from(hex, 'hex');
  // timingSafeEqual throws on different lengths; the format check made them equal, this keeps it so.
  if (received.length !== expected.length || !timingSafeEqual(received, expected)) {
    throw new SlackSignatureMismatch(
      'X-Slack-Signature does not match the body: wrong signing secret or changed body',
    );
  }
  return sentAt;
}

// The interactive payload (docs.slack.dev/reference/interaction-payloads/block_actions-payload): a form post,
// `application/x-www-form-urlencoded`, whose `payload` field is JSON. The fields the approval gate reads.
const blockActionsSchema = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: z.string().check(z.minLength(1)), username: z.optional(z.string()) }),
  actions: z
    .array(
      z.object({
        action_id: z.string().check(z.minLength(1)),
        value: z.optional(z.string()),
        block_id: z.optional(z.string()),
      }),
    )
    .check(z.minLength(1, 'must hold the clicked action')),
  response_url: z.optional(z.string()),
  channel: z.optional(z.object({ id: z.string() })),
  container: z.optional(z.object({ message_ts: z.optional(z.string()), channel_id: z.optional(z.string()) })),
});

export interface SlackAction {
  /** The Slack user id of who clicked (`U…`/`W…`): what the approver list names. */
  userId: string;
  actionId: string;
  /** The button's value, as our message set it. */
  value?: string;
  /** Where to answer in place of the message (valid 30 minutes, 5 uses). */
  responseUrl?: string;
  channelId?: string;
  /** The `ts` of the message holding the button: the thread to update. */
  messageTs?: string;
}

/**
 * The clicked action from a verified body (call `verifySlackRequest` first), or `SlackPayloadMalformed` naming
 * the field at fault. Only the first action counts: a button click carries exactly one.
 */
export function parseSlackAction(rawBody: string | Buffer): SlackAction {
  const form = new URLSearchParams(typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8'));
  const payload = form.get('payload');
  if (payload === null) throw new SlackPayloadMalformed('the body has no payload form field');
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    throw new SlackPayloadMalformed('the payload form field is not JSON');
  }
  const parsed = parseOrThrow(blockActionsSchema, json, 'the Slack payload', SlackPayloadMalformed);
  const [action] = parsed.actions;
  // The schema requires one action; this keeps the type honest.
  if (!action) throw new SlackPayloadMalformed('the Slack payload holds no action');
  const channelId = parsed.channel?.id ?? parsed.container?.channel_id;
  return {
    userId: parsed.user.id,
    actionId: action.action_id,
    ...(action.value === undefined ? {} : { value: action.value }),
    ...(parsed.response_url === undefined ? {} : { responseUrl: parsed.response_url }),
    ...(channelId === undefined ? {} : { channelId }),
    ...(parsed.container?.message_ts === undefined ? {} : { messageTs: parsed.container.message_ts }),
  };
}

/**
 * Refuses (`ApproverNotAllowed`) a user who is not in the configured approvers. Slack user ids, not names:
 * names can be changed by their owner, ids cannot. An empty list allows nobody.
 */
export function assertApprover(userId: string, approvers: readonly string[]): void {
  if (!approvers.includes(userId)) {
    throw new ApproverNotAllowed(`Slack user ${userId} is not an approver of this canary`);
  }
}
