import * as z from 'zod/mini';
import { logger } from '../shared/logger';

// What the person who clicked a button sees. Slack shows nothing of the HTTP answer to a `block_actions`
// request (Bolt acknowledges block actions with an empty ack() and answers through respond(), a POST of JSON
// to the payload's `response_url`); so the answer is posted there, valid 30 minutes for 5 posts. The URL is a
// credential (anyone holding it can post in the channel): no log line carries more of it than its host.

/**
 * An answer through `response_url`: the clicked message replaced (its buttons gone), or a sentence only the
 * clicker sees, the message left as it is. Both forms say `replace_original` rather than rely on a default.
 */
export type SlackResponse =
  | { replace_original: true; text: string }
  | { response_type: 'ephemeral'; replace_original: false; text: string };

/** Posts `response`; never rejects, whatever happens: the decision is taken before and stands. */
export type RespondToSlack = (responseUrl: string, response: SlackResponse) => Promise<ResponseDelivery>;

/** `refused`: not a URL of Slack's, so nothing was sent. */
export type ResponseDelivery = 'posted' | 'refused' | 'failed';

export interface SlackResponderOptions {
  /** @default globalThis.fetch */
  fetchImpl?: typeof fetch;
  /** The one attempt's budget, the answer included: Slack waits 3 s for the whole request. @default 1_000 */
  timeoutMs?: number;
}

const RESPONSE_HOST = 'hooks.slack.com';
// Plain http only reaches a local receiver: tests and the offline rehearsal.
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const NETWORK_CODE = /^[A-Z][A-Z_]*$/;
const SLACK_ERROR = /^[a-z][a-z0-9_]{0,63}$/;
const slackFailureSchema = z.object({ ok: z.literal(false), error: z.optional(z.string()) });

/**
 * A responder that posts once, within `timeoutMs`, to `https://hooks.slack.com/…` (or a loopback receiver),
 * following no redirect; any other URL is refused unsent. Failures are logged with the host and why.
 */
export function createSlackResponder({
  fetchImpl = fetch,
  timeoutMs = 1_000,
}: SlackResponderOptions = {}): RespondToSlack {
  return async (responseUrl, response) => {
    const url = URL.canParse(responseUrl) ? new URL(responseUrl) : undefined;
    if (url === undefined || !isSlackResponseUrl(url)) {
      logger.warn('Slack response_url refused: not https://hooks.slack.com/', {
        host: url?.host ?? 'not a URL',
      });
      return 'refused';
    }
    const host = url.host;
    try {
      const answer = await fetchImpl(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify(response),
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await answer.text();
      const refusal = slackRefusal(answer.status, text);
      if (refusal === undefined) return 'posted';
      logger.warn('Slack response_url refused the answer', { host, status: answer.status, error: refusal });
    } catch (error) {
      logger.warn('Slack response_url not reached', { host, failure: describeFailure(error, timeoutMs) });
    }
    return 'failed';
  };
}

function isSlackResponseUrl(url: URL): boolean {
  if (url.username !== '' || url.password !== '') return false;
  if (url.protocol === 'https:' && url.hostname === RESPONSE_HOST && url.port === '') return true;
  return (url.protocol === 'http:' || url.protocol === 'https:') && LOOPBACK_HOSTS.has(url.hostname);
}

/** Slack's error code when it did not take the answer (not 2xx, or `{"ok": false}`); else undefined. */
function slackRefusal(status: number, text: string): string | undefined {
  const failure = slackFailureSchema.safeParse(parseJson(text));
  if (status >= 200 && status < 300 && !failure.success) return undefined;
  // Only a code-like word is kept: anything longer might echo the request.
  const code = failure.success ? failure.data.error : text.trim();
  return code !== undefined && SLACK_ERROR.test(code) ? code : `HTTP ${status}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The failure by kind and system code only: fetch's messages and causes may quote the address. */
function describeFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause = error instanceof Error ? error.cause : undefined;
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? cause.code : undefined;
  return typeof code === 'string' && NETWORK_CODE.test(code) ? `network error ${code}` : 'network error';
}
