// The canary's pre-rollout webhook, `runSmokeTest`, against a real HTTP server on loopback. The configuration
// allows https URLs only, so the fetch given to it sends the URL's path to the local server: everything else
// (the request, the timeout, the answer's handling) is the function's own.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CanaryRun } from '../../lambdas/canary/run';
import { runSmokeTest, SmokeTestFailed } from '../../lambdas/canary/smoke-test';
import { canaryRun, failureOf } from './canary-fixtures';

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

const SMOKE_URL = 'https://smoke.example.com/canary/web?token=s3cr3t-query';

const runWith = (smokeTest: { url: string; timeoutSeconds?: number } | undefined): CanaryRun =>
  canaryRun({}, smokeTest && { smokeTest });

/** A fetch that sends the https URL's path and query to `port` on loopback, over plain http. */
const toLoopback =
  (port: number): typeof fetch =>
  (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input);
    return fetch(`http://127.0.0.1:${port}${url.pathname}${url.search}`, init);
  };

describe('runSmokeTest', () => {
  let server: Server;
  let port: number;
  const received: Received[] = [];
  let answer: (response: ServerResponse) => void;

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        received.push({
          method: request.method ?? '',
          path: request.url ?? '',
          headers: request.headers,
          body: text === '' ? undefined : (JSON.parse(text) as unknown),
        });
        answer(response);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    received.length = 0;
    server.closeAllConnections();
  });

  it("passes on a 2xx, having POSTed the canary's identity as JSON", async () => {
    answer = (response) => response.writeHead(204).end();

    const result = await runSmokeTest({ run: runWith({ url: SMOKE_URL }) }, toLoopback(port));

    expect(result.status).toBe(204);
    expect(result.ms).toBeGreaterThanOrEqual(0);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      method: 'POST',
      path: '/canary/web?token=s3cr3t-query',
      headers: { 'content-type': 'application/json' },
      body: {
        service: 'web',
        runId: 'run-a',
        namespace: 'shop',
        canaryDeployment: 'web-canary',
        canaryImages: ['registry.example.com/web:2.0.0'],
        requestedBy: 'github-actions:acme/web',
        reference: '3f2c1a9e8b7d',
      },
    });
  });

  it('fails on a 500, naming the status and the start of the body, not the query', async () => {
    const body = `database unreachable: ${'x'.repeat(1_000)}`;
    answer = (response) => response.writeHead(500, { 'content-type': 'text/plain' }).end(body);

    const error = await failureOf(runSmokeTest({ run: runWith({ url: SMOKE_URL }) }, toLoopback(port)));

    expect(error).toBeInstanceOf(SmokeTestFailed);
    expect(error.message).toBe(
      `The smoke test at smoke.example.com/canary/web answered 500: ${body.slice(0, 300)}`,
    );
    expect(error.message).not.toContain('s3cr3t');
  });

  it('fails on a 4xx without a body, naming the status', async () => {
    answer = (response) => response.writeHead(403).end();
    const error = await failureOf(runSmokeTest({ run: runWith({ url: SMOKE_URL }) }, toLoopback(port)));
    expect(error.message).toBe('The smoke test at smoke.example.com/canary/web answered 403');
  });

  it('fails on a redirect, which it does not follow, saying so', async () => {
    answer = (response) => response.writeHead(302, { location: '/elsewhere' }).end();
    const error = await failureOf(runSmokeTest({ run: runWith({ url: SMOKE_URL }) }, toLoopback(port)));
    expect(error).toBeInstanceOf(SmokeTestFailed);
    expect(error.message).toBe(
      'The smoke test at smoke.example.com/canary/web failed: the request failed (fetch failed: unexpected redirect)',
    );
    expect(received.map((request) => request.path)).toEqual(['/canary/web?token=s3cr3t-query']);
  });

  it('fails after the configured timeout when the webhook never answers', async () => {
    answer = () => undefined;
    const began = performance.now();

    const error = await failureOf(
      runSmokeTest({ run: runWith({ url: SMOKE_URL, timeoutSeconds: 1 }) }, toLoopback(port)),
    );

    const waited = performance.now() - began;
    expect(error).toBeInstanceOf(SmokeTestFailed);
    expect(error.message).toBe('The smoke test at smoke.example.com/canary/web failed: no answer within 1 s');
    expect(waited).toBeGreaterThanOrEqual(950);
    expect(waited).toBeLessThan(5_000);
    expect(received).toHaveLength(1);
  });

  it('fails when the connection is refused, saying why', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const error = await failureOf(runSmokeTest({ run: runWith({ url: SMOKE_URL }) }, toLoopback(closedPort)));

    expect(error).toBeInstanceOf(SmokeTestFailed);
    expect(error.message).toBe(
      `The smoke test at smoke.example.com/canary/web failed: the request failed (fetch failed: connect ECONNREFUSED 127.0.0.1:${closedPort})`,
    );
  });

  it('fails, calling nothing, when the service has no smoke test', async () => {
    answer = (response) => response.writeHead(200).end();
    const error = await failureOf(runSmokeTest({ run: runWith(undefined) }, toLoopback(port)));
    expect(error).toBeInstanceOf(SmokeTestFailed);
    expect(error.message).toBe('web has no smoke test configured');
    expect(received).toEqual([]);
  });
});
