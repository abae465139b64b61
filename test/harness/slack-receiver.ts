import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timelineNow } from './virtual-clock';

/** One programmed answer. A 2xx answer still checks the payload the way Slack does. */
export interface ScriptedAnswer {
  /** @default 200 */
  status?: number;
  /** Seconds, sent as `Retry-After`. */
  retryAfter?: number;
  /** @default "ok" for 2xx, else a Slack-like code (`rate_limited`, `service_unavailable`, …) */
  body?: string;
  /** Answer only after this long: a slow or hanging Slack. */
  delayMs?: number;
}

export interface ReceivedRequest {
  /** When the request arrived (`timelineNow()`): the same clock as the other simulated peers. */
  at: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON, or the raw text when it is not JSON. */
  body: unknown;
  /** What the receiver answered (or will answer, for a delayed request). */
  status: number;
}

/** A payload as Slack accepted it: `text` and/or `blocks`, within the Block Kit limits. */
export interface SlackPayload {
  text?: string;
  blocks?: unknown[];
  [key: string]: unknown;
}

export interface ReceivedMessage extends ReceivedRequest {
  body: SlackPayload;
}

export interface SlackReceiver {
  /** The webhook URL: `http://127.0.0.1:<port>/services/T000TEST/B000TEST/<random secret part>`. */
  readonly url: string;
  /** Every request received, answered or not. */
  readonly requests: readonly ReceivedRequest[];
  /** The requests Slack would have delivered to the channel (answered 2xx). */
  readonly messages: readonly ReceivedMessage[];
  /** Queues answers for the next requests; once used up, requests are answered 200 "ok". */
  respondWith(answers: ScriptedAnswer[]): void;
  /** Queues `times` answers that arrive only after `ms` (then 200 "ok" if the client still listens). */
  hang(ms: number, times?: number): void;
  /** Forgets the requests and the queued answers. */
  reset(): void;
  close(): Promise<void>;
}

// Slack's Block Kit limits, checked so a test fails where Slack would answer `invalid_blocks`.
const MAX_BLOCKS = 50;
const MAX_HEADER = 150;
const MAX_TEXT = 3_000;
const MAX_CONTEXT_ELEMENTS = 10;

/** Starts a fake Slack incoming webhook on 127.0.0.1 with a random port. */
export async function startSlackReceiver(): Promise<SlackReceiver> {
  const path = `/services/T000TEST/B000TEST/${randomBytes(12).toString('hex')}`;
  const requests: ReceivedRequest[] = [];
  let answers: ScriptedAnswer[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const server = createServer((req, res) => {
    const at = timelineNow();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const body = parseJson(text);
      const answer = answers.shift() ?? {};
      const { status, reply } = decide(req, path, body, answer);
      requests.push({
        at,
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        status,
      });
      const send = () => {
        if (res.destroyed) return;
        const headers: Record<string, string> = { 'content-type': 'text/plain' };
        if (answer.retryAfter !== undefined) headers['retry-after'] = String(answer.retryAfter);
        res.writeHead(status, headers).end(reply);
      };
      if (answer.delayMs === undefined) return send();
      const timer = setTimeout(() => {
        timers.delete(timer);
        send();
      }, answer.delayMs);
      timers.add(timer);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}${path}`,
    requests,
    get messages() {
      return requests.filter(
        (request): request is ReceivedMessage =>
          request.status >= 200 && request.status < 300 && isRecord(request.body),
      );
    },
    respondWith(next) {
      answers.push(...next);
    },
    hang(ms, times = 1) {
      answers.push(...Array.from({ length: times }, () => ({ delayMs: ms })));
    },
    reset() {
      requests.length = 0;
      answers = [];
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A scripted failure is answered as is; a success is answered the way Slack would answer this payload. */
function decide(
  req: IncomingMessage,
  path: string,
  body: unknown,
  answer: ScriptedAnswer,
): { status: number; reply: string } {
  const status = answer.status ?? 200;
  if (status < 200 || status >= 300) return { status, reply: answer.body ?? defaultReply(status) };
  if (req.method !== 'POST') return { status: 405, reply: 'invalid_method' };
  if (req.url !== path) return { status: 404, reply: 'no_service' };
  const problem = payloadProblem(body);
  if (problem !== undefined) return { status: 400, reply: problem };
  return { status, reply: answer.body ?? 'ok' };
}

function defaultReply(status: number): string {
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'service_unavailable';
  return 'invalid_payload';
}

function payloadProblem(body: unknown): string | undefined {
  if (!isRecord(body)) return 'invalid_payload';
  const { text, blocks } = body;
  if (blocks === undefined) return typeof text === 'string' && text !== '' ? undefined : 'no_text';
  if (!Array.isArray(blocks) || blocks.length > MAX_BLOCKS) return 'invalid_blocks';
  return blocks.every(blockWithinLimits) ? undefined : 'invalid_blocks';
}

function blockWithinLimits(block: unknown): boolean {
  if (!isRecord(block)) return false;
  switch (block.type) {
    case 'header':
      return textWithin(block.text, MAX_HEADER, 'plain_text');
    case 'section':
      return textWithin(block.text, MAX_TEXT);
    case 'context':
      return (
        Array.isArray(block.elements) &&
        block.elements.length <= MAX_CONTEXT_ELEMENTS &&
        block.elements.every((element) => textWithin(element, MAX_TEXT))
      );
    default:
      // Other block types pass unchecked: this receiver checks limits, not the whole of Block Kit.
      return true;
  }
}

function textWithin(value: unknown, max: number, type?: string): boolean {
  if (!isRecord(value) || typeof value.text !== 'string') return false;
  if (type !== undefined && value.type !== type) return false;
  return value.text.length > 0 && value.text.length <= max;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
