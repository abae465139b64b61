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
  /** The same server as Slack's Web API (`chat.postMessage`, `chat.update`) for a Slack app's bot token. */
  readonly api: SlackApi;
  /** Every request received, answered or not. */
  readonly requests: readonly ReceivedRequest[];
  /** The requests Slack would have delivered to the channel through the webhook (answered 2xx). */
  readonly messages: readonly ReceivedMessage[];
  /** Queues answers for the next requests; once used up, requests are answered 200 "ok". */
  respondWith(answers: ScriptedAnswer[]): void;
  /** Queues `times` answers that arrive only after `ms` (then 200 "ok" if the client still listens). */
  hang(ms: number, times?: number): void;
  /** Forgets the requests, the queued answers and the Web API's messages. */
  reset(): void;
  close(): Promise<void>;
}

/** A channel the fake workspace has; the app can post only where it is a member. */
export interface SlackChannel {
  id: string;
  name: string;
  /** @default true */
  member?: boolean;
}

export type SlackApiMethod = 'chat.postMessage' | 'chat.update';

/** One programmed Web API answer, taken by the next call (of `method`, when given) instead of the real one. */
export type ApiFault = { method?: SlackApiMethod; delayMs?: number } & (
  | { kind: 'rate-limited'; /** Seconds, sent as `Retry-After`. */ retryAfter?: number }
  /** `{"ok": false, "error": <error>}`, with HTTP 200 as Slack does unless `status` says otherwise. */
  | { kind: 'error'; error: string; status?: number }
  /** The body as is: a malformed answer. */
  | { kind: 'raw'; body: string; status?: number; contentType?: string }
);

/** One version of a message's content. */
export interface MessageVersion {
  at: number;
  text?: string;
  blocks?: unknown[];
}

/** A message as the fake workspace holds it: what was posted and each update since. */
export interface StoredMessage {
  channel: string;
  ts: string;
  /** The parent's `ts`, for a reply. */
  threadTs?: string;
  posted: MessageVersion;
  updates: MessageVersion[];
  /** The content now: the last update, or what was posted. */
  current: MessageVersion;
}

/** A top-level message and the replies in its thread, in order. */
export interface SlackThread {
  parent: StoredMessage;
  replies: StoredMessage[];
}

export interface SlackApi {
  /** The base URL to give the client: `http://127.0.0.1:<port>/api/`. */
  readonly baseUrl: string;
  /** The bot token the API accepts (`Authorization: Bearer …`): `xoxb-…`, random per receiver. */
  readonly botToken: string;
  readonly channels: readonly SlackChannel[];
  /** Every message posted, top-level and replies, in order. */
  readonly messages: readonly StoredMessage[];
  /** The top-level messages with their replies. */
  readonly threads: readonly SlackThread[];
  /** The requests to the Web API, answered or not (also in the receiver's `requests`). */
  readonly requests: readonly ReceivedRequest[];
  /** Queues faults for the next calls; once used up, calls are answered as Slack would. */
  fail(faults: ApiFault[]): void;
}

/** The Web API's workspace: `C000RUNBOOKS` (#runbooks, the app is a member) and `C000PRIVATE` (it is not). */
export const DEFAULT_CHANNELS: readonly SlackChannel[] = [
  { id: 'C000RUNBOOKS', name: 'runbooks' },
  { id: 'C000PRIVATE', name: 'private', member: false },
];

export interface SlackReceiverOptions {
  /** @default DEFAULT_CHANNELS */
  channels?: readonly SlackChannel[];
}

// Slack's Block Kit limits, checked so a test fails where Slack would answer `invalid_blocks`.
const MAX_BLOCKS = 50;
const MAX_HEADER = 150;
const MAX_TEXT = 3_000;
const MAX_CONTEXT_ELEMENTS = 10;

/**
 * Starts a fake Slack on 127.0.0.1 with a random port: an incoming webhook at `url`, and the Web API's
 * `chat.postMessage` and `chat.update` under `api.baseUrl`.
 */
export async function startSlackReceiver({
  channels = DEFAULT_CHANNELS,
}: SlackReceiverOptions = {}): Promise<SlackReceiver> {
  const path = `/services/T000TEST/B000TEST/${randomBytes(12).toString('hex')}`;
  const requests: ReceivedRequest[] = [];
  let answers: ScriptedAnswer[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const workspace = new Workspace(channels, `xoxb-000test-${randomBytes(12).toString('hex')}`);

  const later = (ms: number | undefined, send: () => void) => {
    if (ms === undefined) return send();
    const timer = setTimeout(() => {
      timers.delete(timer);
      send();
    }, ms);
    timers.add(timer);
  };

  const server = createServer((req, res) => {
    const at = timelineNow();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const body = parseJson(text);
      if (req.url?.startsWith(API_PREFIX)) {
        const answer = workspace.answer(req, body, at);
        requests.push({
          at,
          method: req.method ?? '',
          path: req.url,
          headers: req.headers,
          body,
          status: answer.status,
        });
        return later(answer.delayMs, () => {
          if (!res.destroyed) res.writeHead(answer.status, answer.headers).end(answer.body);
        });
      }
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
      later(answer.delayMs, send);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}${path}`,
    api: {
      baseUrl: `http://127.0.0.1:${port}${API_PREFIX}`,
      botToken: workspace.botToken,
      channels,
      get messages() {
        return workspace.messages.map(stored);
      },
      get threads() {
        return workspace.threads();
      },
      get requests() {
        return requests.filter((request) => request.path.startsWith(API_PREFIX));
      },
      fail(faults) {
        workspace.faults.push(...faults);
      },
    },
    requests,
    get messages() {
      return requests.filter(
        (request): request is ReceivedMessage =>
          request.path === path && request.status >= 200 && request.status < 300 && isRecord(request.body),
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
      workspace.reset();
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

const API_PREFIX = '/api/';

interface ApiAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  delayMs?: number;
}

interface MutableMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  posted: MessageVersion;
  updates: MessageVersion[];
}

/** The Web API's state: channels, messages by `ts`, queued faults. */
class Workspace {
  readonly messages: MutableMessage[] = [];
  faults: ApiFault[] = [];
  private sequence = 0;

  constructor(
    private readonly channels: readonly SlackChannel[],
    readonly botToken: string,
  ) {}

  reset(): void {
    this.messages.length = 0;
    this.faults = [];
  }

  threads(): SlackThread[] {
    return this.messages
      .filter((message) => message.threadTs === undefined)
      .map((parent) => ({
        parent: stored(parent),
        replies: this.messages.filter((message) => message.threadTs === parent.ts).map(stored),
      }));
  }

  /** Answers one call the way Slack does: HTTP 200 and `ok: false` for API errors, 429 when rate-limited. */
  answer(req: IncomingMessage, body: unknown, at: number): ApiAnswer {
    const method = req.url?.slice(API_PREFIX.length).split('?')[0] ?? '';
    const fault = this.takeFault(method);
    const answer = fault ? faultAnswer(fault) : this.call(req, method, body, at);
    return { ...answer, delayMs: fault?.delayMs };
  }

  private takeFault(method: string): ApiFault | undefined {
    const index = this.faults.findIndex((fault) => fault.method === undefined || fault.method === method);
    return index === -1 ? undefined : this.faults.splice(index, 1)[0];
  }

  private call(req: IncomingMessage, method: string, body: unknown, at: number): ApiAnswer {
    if (method !== 'chat.postMessage' && method !== 'chat.update') return apiError('unknown_method', 404);
    if (req.method !== 'POST') return apiError('invalid_request_method');
    const authorization = req.headers.authorization;
    if (authorization === undefined || !authorization.startsWith('Bearer ')) return apiError('not_authed');
    if (authorization !== `Bearer ${this.botToken}`) return apiError('invalid_auth');
    if (!req.headers['content-type']?.startsWith('application/json')) return apiError('invalid_post_type');
    if (!isRecord(body)) return apiError('invalid_json');
    const channel = this.channel(body.channel);
    if (channel === undefined) return apiError('channel_not_found');
    if (channel.member === false) return apiError('not_in_channel');
    const problem = payloadProblem(body);
    if (problem !== undefined) return apiError(problem);
    const version: MessageVersion = {
      at,
      text: body.text as string | undefined,
      blocks: body.blocks as unknown[] | undefined,
    };
    return method === 'chat.postMessage'
      ? this.post(channel, body, version)
      : this.update(channel, body, version);
  }

  private post(channel: SlackChannel, body: Record<string, unknown>, version: MessageVersion): ApiAnswer {
    let threadTs: string | undefined;
    if (body.thread_ts !== undefined) {
      const parent = this.find(channel, body.thread_ts);
      // Stricter than Slack, which may post a reply to an unknown thread at the top level.
      if (parent === undefined) return apiError('thread_not_found');
      // Slack files a reply to a reply under the thread's parent.
      threadTs = parent.threadTs ?? parent.ts;
    }
    const ts = this.nextTs(version.at);
    this.messages.push({ channel: channel.id, ts, threadTs, posted: version, updates: [] });
    return apiOk({
      channel: channel.id,
      ts,
      message: { text: version.text, ...(threadTs ? { thread_ts: threadTs } : {}) },
    });
  }

  private update(channel: SlackChannel, body: Record<string, unknown>, version: MessageVersion): ApiAnswer {
    const message = this.find(channel, body.ts);
    if (message === undefined) return apiError('message_not_found');
    message.updates.push(version);
    return apiOk({ channel: channel.id, ts: message.ts, text: version.text });
  }

  /** A channel by ID, or by name with or without `#`, as Slack accepts both. */
  private channel(value: unknown): SlackChannel | undefined {
    if (typeof value !== 'string') return undefined;
    const name = value.replace(/^#/, '');
    return this.channels.find((channel) => channel.id === value || channel.name === name);
  }

  private find(channel: SlackChannel, ts: unknown): MutableMessage | undefined {
    return this.messages.find((message) => message.channel === channel.id && message.ts === ts);
  }

  /** Slack's `ts`: seconds and a unique suffix, on the simulated timeline. */
  private nextTs(at: number): string {
    this.sequence += 1;
    return `${Math.floor(at / 1000)}.${String(this.sequence).padStart(6, '0')}`;
  }
}

function stored(message: MutableMessage): StoredMessage {
  const { posted, updates } = message;
  return { ...message, posted, updates: [...updates], current: updates.at(-1) ?? posted };
}

function apiOk(fields: Record<string, unknown>): ApiAnswer {
  return apiAnswer(200, { ok: true, ...fields });
}

function apiError(error: string, status = 200): ApiAnswer {
  return apiAnswer(status, { ok: false, error });
}

function apiAnswer(status: number, body: unknown, headers: Record<string, string> = {}): ApiAnswer {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(body),
  };
}

function faultAnswer(fault: ApiFault): ApiAnswer {
  switch (fault.kind) {
    case 'rate-limited':
      return apiAnswer(
        429,
        { ok: false, error: 'ratelimited' },
        fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) },
      );
    case 'error':
      return apiError(fault.error, fault.status);
    case 'raw':
      return {
        status: fault.status ?? 200,
        headers: { 'content-type': fault.contentType ?? 'text/html' },
        body: fault.body,
      };
  }
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
