import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { setTimeout as delay } from 'node:timers/promises';
import * as z from 'zod/mini';
import { RunbookError } from '../shared/errors';
import { logger } from '../shared/logger';
import type { Block } from './slack-message';
import { SlackRateLimited, SlackRejected, SlackUnavailable } from './slack-webhook';

// Slack-app mode: a bot token and the Web API, for what an incoming webhook cannot do (a thread per run, a
// parent message updated in place). Slack answers API errors with HTTP 200 and `{"ok": false, "error": …}`;
// each error a caller or an operator acts on differently has its own name. The token is a credential: no error
// message or log line carries it, and no error keeps a cause (fetch's errors may quote the request).

/**
 * The secret holds no usable bot token, or Slack refuses the token (`invalid_auth`, `not_authed`,
 * `token_revoked`, `token_expired`, `account_inactive`) or its scopes (`missing_scope`). Retrying does not help:
 * an operator has to fix the app or the secret. Messages name the secret, never its value.
 */
export class SlackAppMisconfigured extends RunbookError {
  override name = 'SlackAppMisconfigured';
}

/** `channel_not_found` or `not_in_channel`: the app has to be invited to the channel (`/invite @app`). */
export class SlackChannelUnreachable extends RunbookError {
  override name = 'SlackChannelUnreachable';
}

/** `chat.update` found no such message (deleted, or another channel): the caller can post a new one instead. */
export class SlackMessageNotFound extends RunbookError {
  override name = 'SlackMessageNotFound';
}

/** Slack's answer is not one the Web API documents (not JSON, no `ok`, a success without `ts`). */
export class SlackInvalidResponse extends RunbookError {
  override name = 'SlackInvalidResponse';
}

export interface PostMessageRequest {
  /** A channel ID (`C…`) or name; the answer gives the ID, which `updateMessage` needs. */
  channel: string;
  blocks: Block[];
  /** Shown in notifications and by clients that cannot render blocks. */
  text: string;
  /** Posts a reply in the thread of this parent message. */
  threadTs?: string;
}

export interface UpdateMessageRequest {
  /** The channel ID returned when the message was posted. */
  channel: string;
  ts: string;
  blocks: Block[];
  text: string;
}

/** Where a message is: enough to update it or to reply in its thread. */
export interface SlackMessageRef {
  channel: string;
  ts: string;
}

export interface SlackAppClient {
  /**
   * @throws SlackAppMisconfigured, SlackChannelUnreachable, SlackRateLimited, SlackRejected, SlackUnavailable,
   * SlackInvalidResponse
   */
  postMessage(request: PostMessageRequest): Promise<SlackMessageRef>;
  /** @throws SlackMessageNotFound, and the errors of `postMessage` */
  updateMessage(request: UpdateMessageRequest): Promise<SlackMessageRef>;
}

export interface SlackAppClientOptions {
  secrets: SecretsManagerClient;
  /** Name or ARN of the secret: the bot token (`xoxb-…`) or `{"botToken": "xoxb-…"}`. */
  secretId: string;
  /** How long a read is reused, so a rotated token is picked up without a redeploy. @default 300_000 */
  ttlMs?: number;
  /** Clock in epoch milliseconds. @default Date.now */
  now?: () => number;
  /**
   * The Web API's base URL: https on slack.com, or a local receiver (tests, the offline rehearsal).
   * @default "https://slack.com/api/"
   */
  baseUrl?: string;
  /** @default globalThis.fetch */
  fetchImpl?: typeof fetch;
  /** @default a timer */
  sleep?: (ms: number) => Promise<void>;
  /** Per request, including reading the answer. @default 5_000 */
  timeoutMs?: number;
  /** Attempts per call while Slack rate-limits (or, for an update, is unavailable). @default 3 */
  maxAttempts?: number;
  /** Sum of the waits between attempts. @default 8_000 */
  maxTotalWaitMs?: number;
}

const DEFAULT_BASE_URL = 'https://slack.com/api/';
// Plain http only reaches a local receiver: tests and the offline rehearsal.
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const SLACK_HOSTS = new Set(['slack.com']);
const BOT_TOKEN = /^xoxb-[\w-]+$/;

const AUTH_ERRORS = new Set([
  'invalid_auth',
  'not_authed',
  'token_revoked',
  'token_expired',
  'account_inactive',
  'missing_scope',
]);
const CHANNEL_ERRORS = new Set(['channel_not_found', 'not_in_channel']);
const RATE_LIMITED = 'ratelimited';
// Slack's failures on its side: the request may be retried (an update), or reported as unavailable (a post).
const SLACK_SIDE_ERRORS = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);

const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 4_000;
const BODY_SHOWN = 200;
// Failures before any byte reached Slack: a post can be sent again without risking a duplicate.
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

const okSchema = z.object({ ok: z.boolean() });
const errorSchema = z.object({
  ok: z.literal(false),
  error: z.string().check(z.regex(/^[a-z0-9_]{1,64}$/)),
  // `missing_scope` says which scope the app lacks.
  needed: z.optional(z.string()),
});
const messageRefSchema = z.object({
  ok: z.literal(true),
  channel: z.string().check(z.minLength(1)),
  ts: z.string().check(z.regex(/^\d+\.\d+$/)),
});

type ApiMethod = 'chat.postMessage' | 'chat.update';

type Attempt =
  | { kind: 'answered'; ref: SlackMessageRef }
  | { kind: 'failed'; error: RunbookError }
  | { kind: 'retryable'; what: string; retryAfterMs?: number; rateLimited: boolean; sent: boolean };

/** A Web API client with the bot token read from Secrets Manager at most once per `ttlMs`. */
export function createSlackAppClient({
  secrets,
  secretId,
  ttlMs = 300_000,
  now = () => Date.now(),
  baseUrl = DEFAULT_BASE_URL,
  fetchImpl = fetch,
  sleep = delay,
  timeoutMs = 5_000,
  maxAttempts = 3,
  maxTotalWaitMs = 8_000,
}: SlackAppClientOptions): SlackAppClient {
  const base = apiBaseUrl(baseUrl);
  const token = cachedToken(secrets, secretId, ttlMs, now);

  async function call(method: ApiMethod, payload: Record<string, unknown>): Promise<SlackMessageRef> {
    const url = new URL(method, base);
    const body = JSON.stringify(payload);
    let waitedMs = 0;
    for (let attempt = 1; ; attempt++) {
      const bearer = await token.get();
      logger.debug('Calling the Slack Web API', { method, host: url.host, attempt });
      const result = await attemptOnce({ fetchImpl, url, method, body, bearer, timeoutMs });
      if (result.kind === 'answered') return result.ref;
      if (result.kind === 'failed') {
        // A revoked or rotated token: the next call reads the secret again.
        if (result.error instanceof SlackAppMisconfigured) token.forget();
        throw result.error;
      }
      const gaveUp = `Slack ${method} on ${url.host} failed after ${attempt} attempt${attempt === 1 ? '' : 's'}, last: ${result.what}`;
      const GaveUp = result.rateLimited ? SlackRateLimited : SlackUnavailable;
      // A rate-limited request was not carried out: sending it again is safe. A post that may have reached
      // Slack is not sent again (a second parent would split the run's thread); an update is idempotent.
      const retryable = result.rateLimited || !result.sent || method === 'chat.update';
      if (!retryable || attempt >= maxAttempts) throw new GaveUp(gaveUp);
      const waitMs = result.retryAfterMs ?? backoff(attempt);
      if (waitedMs + waitMs > maxTotalWaitMs) {
        throw new GaveUp(`${gaveUp}; waiting ${waitMs} ms more would exceed the ${maxTotalWaitMs} ms budget`);
      }
      logger.warn('Slack Web API not reached, retrying', { method, attempt, last: result.what, waitMs });
      await sleep(waitMs);
      waitedMs += waitMs;
    }
  }

  return {
    async postMessage({ channel, blocks, text, threadTs }) {
      return call('chat.postMessage', {
        channel,
        text,
        blocks,
        ...(threadTs === undefined ? {} : { thread_ts: threadTs }),
      });
    },
    async updateMessage({ channel, ts, blocks, text }) {
      return call('chat.update', { channel, ts, text, blocks });
    },
  };
}

/** The base URL as a directory URL, refused unless it is https on slack.com or a loopback receiver. */
function apiBaseUrl(text: string): URL {
  const url = URL.canParse(text) ? new URL(text) : undefined;
  const allowed =
    url !== undefined &&
    ((url.protocol === 'https:' && SLACK_HOSTS.has(url.hostname)) ||
      ((url.protocol === 'http:' || url.protocol === 'https:') && LOOPBACK_HOSTS.has(url.hostname)));
  if (!allowed) {
    throw new SlackAppMisconfigured(
      `Slack API base URL ${JSON.stringify(text)} refused: expected https://slack.com/api/ (or a loopback receiver)`,
    );
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

function cachedToken(secrets: SecretsManagerClient, secretId: string, ttlMs: number, now: () => number) {
  let cached: { token: Promise<string>; expiresAt: number } | undefined;
  return {
    get(): Promise<string> {
      if (cached === undefined || now() >= cached.expiresAt) {
        // Concurrent callers share one read; a failed read is not kept, so the next call tries again.
        const token = readBotToken(secrets, secretId);
        const entry = { token, expiresAt: now() + ttlMs };
        cached = entry;
        token.catch(() => {
          if (cached === entry) cached = undefined;
        });
      }
      return cached.token;
    },
    forget(): void {
      cached = undefined;
    },
  };
}

async function readBotToken(secrets: SecretsManagerClient, secretId: string): Promise<string> {
  const { SecretString: value } = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (value === undefined) throw new SlackAppMisconfigured(`secret ${secretId} has no string value`);
  const token = botTokenText(value.trim());
  if (token === undefined || !BOT_TOKEN.test(token)) {
    throw new SlackAppMisconfigured(
      `secret ${secretId} does not hold a Slack bot token: expected xoxb-… or {"botToken": "xoxb-…"}`,
    );
  }
  return token;
}

/** Unwraps the JSON form. Parse errors are not kept: their messages quote the secret. */
function botTokenText(value: string): string | undefined {
  if (!value.startsWith('{')) return value;
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed === 'object' && parsed !== null && 'botToken' in parsed) {
      return typeof parsed.botToken === 'string' ? parsed.botToken.trim() : undefined;
    }
  } catch {
    // Reported as "does not hold a Slack bot token".
  }
  return undefined;
}

interface AttemptInput {
  fetchImpl: typeof fetch;
  url: URL;
  method: ApiMethod;
  body: string;
  bearer: string;
  timeoutMs: number;
}

async function attemptOnce({
  fetchImpl,
  url,
  method,
  body,
  bearer,
  timeoutMs,
}: AttemptInput): Promise<Attempt> {
  let response: Response;
  let text: string;
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json; charset=utf-8' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    // Sent unless no connection was made: a timeout may come after Slack posted the message.
    const code = networkCode(error);
    return {
      kind: 'retryable',
      what: describeFailure(error, code, timeoutMs),
      rateLimited: false,
      sent: code === undefined || !NOT_CONNECTED.has(code),
    };
  }
  const shown = shownBody(text, bearer);
  const json = parseJson(text);
  const failure = errorSchema.safeParse(json);

  if (response.status === 429 || (failure.success && failure.data.error === RATE_LIMITED)) {
    return {
      kind: 'retryable',
      what: `rate limited (HTTP ${response.status})`,
      retryAfterMs: retryAfterMs(response.headers.get('retry-after')),
      rateLimited: true,
      sent: false,
    };
  }
  if (failure.success) return answeredError(method, url, failure.data);
  if (response.status >= 500)
    return { kind: 'retryable', what: `HTTP ${response.status}`, rateLimited: false, sent: true };
  if (response.status < 200 || response.status >= 300) {
    return {
      kind: 'failed',
      error: new SlackRejected(`Slack ${method} on ${url.host} answered HTTP ${response.status}: ${shown}`),
    };
  }
  const ok = okSchema.safeParse(json);
  const ref = messageRefSchema.safeParse(json);
  if (ok.success && ref.success)
    return { kind: 'answered', ref: { channel: ref.data.channel, ts: ref.data.ts } };
  const problem = !ok.success
    ? 'not a Web API answer (no boolean "ok")'
    : ok.data.ok
      ? 'a success without a message "channel" and "ts"'
      : 'a failure without an error code';
  return {
    kind: 'failed',
    error: new SlackInvalidResponse(`Slack ${method} on ${url.host} answered ${problem}: ${shown}`),
  };
}

function answeredError(method: ApiMethod, url: URL, { error, needed }: z.infer<typeof errorSchema>): Attempt {
  const said = `Slack ${method} on ${url.host} answered ${error}`;
  if (AUTH_ERRORS.has(error)) {
    const fix =
      error === 'missing_scope'
        ? `the app lacks the ${needed ?? 'chat:write'} scope: add it and reinstall the app`
        : 'check the bot token in the secret (revoked, expired, or for another workspace?)';
    return { kind: 'failed', error: new SlackAppMisconfigured(`${said}: ${fix}`) };
  }
  if (CHANNEL_ERRORS.has(error)) {
    return {
      kind: 'failed',
      error: new SlackChannelUnreachable(
        `${said}: invite the app to the channel (/invite @<app> in the channel) and check the channel ID`,
      ),
    };
  }
  if (error === 'message_not_found' && method === 'chat.update') {
    return {
      kind: 'failed',
      error: new SlackMessageNotFound(`${said}: the message is gone; post a new one`),
    };
  }
  if (SLACK_SIDE_ERRORS.has(error)) return { kind: 'retryable', what: error, rateLimited: false, sent: true };
  return { kind: 'failed', error: new SlackRejected(said) };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Doubling waits: 250 ms, 500, 1000, … capped (one caller per run, so no jitter is needed). */
function backoff(attempt: number): number {
  return Math.min(BACKOFF_BASE_MS * 2 ** (attempt - 1), BACKOFF_MAX_MS);
}

/** Slack sends `Retry-After` in seconds. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/** A proxy in front of Slack might echo the request: the token is cut out of whatever is shown. */
function shownBody(text: string, bearer: string): string {
  const trimmed = text.replaceAll(bearer, '[redacted]').trim();
  if (trimmed === '') return '(empty body)';
  return trimmed.length > BODY_SHOWN ? `${trimmed.slice(0, BODY_SHOWN - 1)}…` : trimmed;
}

/** The system error code under fetch's error (`ECONNREFUSED`, …), if any. */
function networkCode(error: unknown): string | undefined {
  const cause = error instanceof Error ? error.cause : undefined;
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? cause.code : undefined;
  return typeof code === 'string' && /^[A-Z_]+$/.test(code) ? code : undefined;
}

/** Names the failure by its kind and code only: fetch's messages may quote the request. */
function describeFailure(error: unknown, code: string | undefined, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
  return code === undefined ? 'network error' : `network error ${code}`;
}
