import { setTimeout as delay } from 'node:timers/promises';
import { RunbookError } from '../shared/errors';
import { logger } from '../shared/logger';
import type { SlackMessage } from './slack-message';

/** Slack refused the message (4xx other than 429): sending it again would be refused again. */
export class SlackRejected extends RunbookError {
  override name = 'SlackRejected';
}

/**
 * Slack could not be reached or kept rate-limiting within the budget: the workflow may retry later. It keeps no
 * `cause`: fetch's errors may quote the webhook URL, a credential, and the logger prints causes.
 */
export class SlackUnavailable extends RunbookError {
  override name = 'SlackUnavailable';
}

/**
 * Slack kept answering 429 beyond the notifier's budget (`Retry-After` longer than it may wait). The
 * workflow retries the final summary once after a pause of its own (a Step Functions retry, not a sleeping
 * Lambda), so the summary arrives late rather than never.
 */
export class SlackRateLimited extends RunbookError {
  override name = 'SlackRateLimited';
}

export interface PostToSlackOptions {
  /** @default globalThis.fetch */
  fetchImpl?: typeof fetch;
  /** @default a timer */
  sleep?: (ms: number) => Promise<void>;
  /** @default 4 */
  maxAttempts?: number;
  /** Sum of the waits between attempts. @default 8_000 */
  maxTotalWaitMs?: number;
  /** Per attempt, including reading the answer. @default 5_000 */
  timeoutMs?: number;
  /** Jitter source in [0, 1). @default Math.random */
  random?: () => number;
}

type AttemptResult =
  | { kind: 'delivered' }
  | { kind: 'rejected'; status: number; body: string }
  | { kind: 'retryable'; what: string; retryAfterMs?: number; rateLimited?: true };

const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 4_000;
// Enough for Slack's error code (`invalid_blocks`, `no_service`, …) and a hint, not a whole HTML page.
const BODY_SHOWN = 200;

/**
 * Posts `message` to an incoming webhook. The URL is a credential: errors and log lines name only its host.
 * @returns how many attempts it took
 * @throws SlackRejected on a 4xx other than 429
 * @throws SlackRateLimited when Slack still rate-limits as attempts or the wait budget run out
 * @throws SlackUnavailable when attempts or the wait budget run out otherwise
 */
export async function postToSlack(
  url: URL,
  message: SlackMessage,
  {
    fetchImpl = fetch,
    sleep = delay,
    maxAttempts = 4,
    maxTotalWaitMs = 8_000,
    timeoutMs = 5_000,
    random = Math.random,
  }: PostToSlackOptions = {},
): Promise<{ attempts: number }> {
  const host = url.host;
  const body = JSON.stringify(message);
  let waitedMs = 0;
  for (let attempt = 1; ; attempt++) {
    logger.debug('Posting to Slack', { host, attempt });
    const result = await attemptOnce(fetchImpl, url, body, timeoutMs);
    if (result.kind === 'delivered') return { attempts: attempt };
    if (result.kind === 'rejected') {
      throw new SlackRejected(
        `Slack webhook on ${host} refused the message with HTTP ${result.status}: ${result.body}`,
      );
    }
    const gaveUp = `Slack webhook on ${host} unavailable after ${attempt} attempt${attempt === 1 ? '' : 's'}, last: ${result.what}`;
    const GaveUp = result.rateLimited ? SlackRateLimited : SlackUnavailable;
    if (attempt >= maxAttempts) throw new GaveUp(gaveUp);
    // Short HTTP-client retries for Slack's per-second rate limit and blips, not workflow waiting (Wait states).
    const waitMs = result.retryAfterMs ?? backoff(attempt, random);
    if (waitedMs + waitMs > maxTotalWaitMs) {
      throw new GaveUp(`${gaveUp}; waiting ${waitMs} ms more would exceed the ${maxTotalWaitMs} ms budget`);
    }
    logger.warn('Slack webhook not reached, retrying', { host, attempt, last: result.what, waitMs });
    await sleep(waitMs);
    waitedMs += waitMs;
  }
}

async function attemptOnce(
  fetchImpl: typeof fetch,
  url: URL,
  body: string,
  timeoutMs: number,
): Promise<AttemptResult> {
  try {
    const response = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    if (response.ok) return { kind: 'delivered' };
    if (response.status === 429) {
      return {
        kind: 'retryable',
        what: 'HTTP 429',
        retryAfterMs: retryAfterMs(response.headers.get('retry-after')),
        rateLimited: true,
      };
    }
    if (response.status >= 500) return { kind: 'retryable', what: `HTTP ${response.status}` };
    return { kind: 'rejected', status: response.status, body: shownBody(text, url) };
  } catch (error) {
    return { kind: 'retryable', what: describeFailure(error, timeoutMs) };
  }
}

/** Equal jitter: 125-250 ms, 250-500, 500-1000, … capped, so retrying senders spread out. */
function backoff(attempt: number, random: () => number): number {
  const base = Math.min(BACKOFF_BASE_MS * 2 ** (attempt - 1), BACKOFF_MAX_MS);
  return Math.round(base / 2 + (random() * base) / 2);
}

/** Slack sends `Retry-After` in seconds. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/** A proxy in front of Slack might echo the request path, which holds the secret part of the URL. */
function shownBody(text: string, url: URL): string {
  const redacted = url.pathname.length > 1 ? text.replaceAll(url.pathname, '/[redacted]') : text;
  const trimmed = redacted.trim();
  if (trimmed === '') return '(empty body)';
  return trimmed.length > BODY_SHOWN ? `${trimmed.slice(0, BODY_SHOWN - 1)}…` : trimmed;
}

/** Names the failure by its kind and code only: fetch's messages may quote the URL. */
function describeFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
  const cause = error instanceof Error ? error.cause : undefined;
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? cause.code : undefined;
  return typeof code === 'string' && /^[A-Z_]+$/.test(code) ? `network error ${code}` : 'network error';
}
