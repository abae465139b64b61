// A thin client by hand instead of @kubernetes/client-node: ~1.6 MB bundled vs a few KB for the three calls we make.
import { Agent, request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import * as z from 'zod/mini';
import { parseOrThrow } from '../shared/errors';
import {
  KubernetesApiError,
  KubernetesConflict,
  KubernetesForbidden,
  KubernetesInvalidResponse,
  KubernetesNotFound,
  KubernetesTimeout,
  KubernetesUnavailable,
} from './errors';
import {
  deploymentSchema,
  replicaSetListSchema,
  type Deployment,
  type JsonPatchOperation,
  type ReplicaSet,
} from './resources';

export interface KubernetesClientOptions {
  /** `https://...` as DescribeCluster returns it. */
  endpoint: string;
  /** Base64 PEM of the cluster CA, as DescribeCluster returns it. */
  caData: string;
  /** Called per request, so a long-lived client never sends an expired token. */
  token: () => Promise<string>;
  /** Whole request, from connect to the last byte of the answer. */
  timeoutMs: number;
}

export interface KubernetesClient {
  getDeployment(namespace: string, name: string): Promise<Deployment>;
  /** Every ReplicaSet matching the selector, following `continue` pages. */
  listReplicaSets(namespace: string, labelSelector: string): Promise<ReplicaSet[]>;
  /** JSON Patch (RFC 6902); answers the patched Deployment. */
  patchDeployment(namespace: string, name: string, ops: JsonPatchOperation[]): Promise<Deployment>;
}

const PAGE_SIZE = 500;

/** Codes meaning the server was not there to answer: transient, like a 5xx. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

const statusSchema = z.object({ message: z.optional(z.string()), reason: z.optional(z.string()) });

/** Resets of a reused keep-alive socket: the server had closed it while it sat idle in the pool. */
const staleResets = new WeakSet<Error>();

// One keep-alive agent per cluster, shared by every client of a warm Lambda: TLS handshakes are the slow part.
const agents = new Map<string, Agent>();

function agentFor(endpoint: string, caData: string): Agent {
  const key = `${endpoint}\n${caData}`;
  let agent = agents.get(key);
  if (!agent) {
    agent = new Agent({ keepAlive: true, ca: Buffer.from(caData, 'base64').toString('utf8') });
    agents.set(key, agent);
  }
  return agent;
}

interface Answer {
  status: number;
  body: string;
}

export function createKubernetesClient(options: KubernetesClientOptions): KubernetesClient {
  const base = new URL(options.endpoint);
  const agent = agentFor(options.endpoint, options.caData);

  function send(
    method: string,
    path: string,
    token: string,
    body?: string,
    contentType?: string,
  ): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        new URL(path, base),
        {
          method,
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            accept: 'application/json',
            ...(body === undefined
              ? {}
              : { 'content-type': contentType, 'content-length': Buffer.byteLength(body).toString() }),
          },
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', fail);
          res.on('end', () => {
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
          });
        },
      );
      const timeout = new KubernetesTimeout(
        `${method} ${path}: no complete answer within ${options.timeoutMs} ms`,
      );
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        req.destroy(timeout);
      }, options.timeoutMs);
      // Destroying the request may surface as an "aborted" reset on the response first: the timeout wins.
      function fail(error: Error) {
        clearTimeout(timer);
        reject(timedOut ? timeout : networkError(method, path, error, req.reusedSocket));
      }
      req.on('error', fail);
      req.end(body);
    });
  }

  async function call(method: string, path: string, body?: string, contentType?: string): Promise<unknown> {
    const token = await options.token();
    let answer: Answer | undefined;
    while (!answer) {
      try {
        answer = await send(method, path, token, body, contentType);
      } catch (error) {
        // A kept-alive socket the server closed while we were idle (or the Lambda was frozen) resets on reuse;
        // Node's docs advise retrying, which ends once the pool's stale sockets are used up. Only reads: a
        // PATCH may have been applied before the reset.
        if (!(error instanceof Error && staleResets.has(error) && method === 'GET')) throw error;
      }
    }
    if (answer.status < 200 || answer.status > 299) throw statusError(method, path, answer);
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.body);
    } catch (error) {
      throw new KubernetesInvalidResponse(`${method} ${path}: answer ${answer.status} is not JSON`, {
        cause: error,
      });
    }
    return parsed;
  }

  const deploymentPath = (namespace: string, name: string) =>
    `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments/${encodeURIComponent(name)}`;

  return {
    async getDeployment(namespace, name) {
      const path = deploymentPath(namespace, name);
      return parseOrThrow(
        deploymentSchema,
        await call('GET', path),
        `GET ${path} answer`,
        KubernetesInvalidResponse,
      );
    },

    async listReplicaSets(namespace, labelSelector) {
      const items: ReplicaSet[] = [];
      let continueToken: string | undefined;
      do {
        const query = new URLSearchParams({ labelSelector, limit: String(PAGE_SIZE) });
        if (continueToken) query.set('continue', continueToken);
        const path = `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/replicasets?${query.toString()}`;
        const page = parseOrThrow(
          replicaSetListSchema,
          await call('GET', path),
          `GET ${path} answer`,
          KubernetesInvalidResponse,
        );
        items.push(...page.items);
        continueToken = page.metadata.continue || undefined;
      } while (continueToken);
      return items;
    },

    async patchDeployment(namespace, name, ops) {
      const path = deploymentPath(namespace, name);
      const answer = await call('PATCH', path, JSON.stringify(ops), 'application/json-patch+json');
      return parseOrThrow(deploymentSchema, answer, `PATCH ${path} answer`, KubernetesInvalidResponse);
    },
  };
}

function networkError(method: string, path: string, error: Error, reusedSocket: boolean): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== undefined && UNAVAILABLE_CODES.has(code)) {
    const mapped = new KubernetesUnavailable(`${method} ${path}: ${code} (${error.message})`, {
      cause: error,
    });
    if (code === 'ECONNRESET' && reusedSocket) staleResets.add(mapped);
    return mapped;
  }
  // TLS and DNS failures are configuration problems, not a server to wait for.
  return new Error(`${method} ${path}: ${error.message}`, { cause: error });
}

function statusError(method: string, path: string, answer: Answer): Error {
  const { status } = answer;
  const message = statusMessage(answer);
  const text = `${method} ${path}: ${status}${message ? ` ${message}` : ''}`;
  if (status === 404) return new KubernetesNotFound(text);
  if (status === 409) return new KubernetesConflict(text);
  // A failed JSON Patch `test` op; json-patch wrote "Testing value", newer releases "testing value".
  if (status === 422 && /testing value/i.test(message)) return new KubernetesConflict(text);
  if (status === 401 || status === 403) return new KubernetesForbidden(text);
  // 429: API Priority and Fairness shedding load; like a 5xx, worth a retry later, not a failure of the request.
  if (status >= 500 || status === 429) return new KubernetesUnavailable(text);
  return new KubernetesApiError(text, status);
}

/** The Status object's message, if the body is one (a load balancer may answer HTML instead). */
function statusMessage(answer: Answer): string {
  try {
    const status = z.safeParse(statusSchema, JSON.parse(answer.body));
    if (status.success) return status.data.message ?? status.data.reason ?? '';
  } catch {
    // not JSON: the status code has to speak for itself
  }
  return '';
}
