import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsClientOptions } from '../../lambdas/aws/client-options';

describe('awsClientOptions', () => {
  let server: Server;
  let endpoint: string;
  /** Requests that reached the server, which answers none of them. */
  let received = 0;

  beforeAll(async () => {
    server = createServer(() => {
      received += 1;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('connects within 2 s, answers within 5 s, and tries 3 times', () => {
    expect(awsClientOptions()).toEqual({
      requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000, throwOnRequestTimeout: true },
      maxAttempts: 3,
    });
  });

  it('makes a client give up on a server that never answers, after its attempts, instead of waiting', async () => {
    const eks = new EKSClient({
      ...awsClientOptions({ requestTimeoutMs: 300 }),
      endpoint,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDTIMEOUTTEST', secretAccessKey: 'timeout-test-secret' },
    });
    const started = performance.now();
    const error = await eks.send(new DescribeClusterCommand({ name: 'prod-eks' })).then(
      () => undefined,
      (caught: unknown) => caught as Error,
    );
    const elapsed = performance.now() - started;
    eks.destroy();

    expect(error?.name).toBe('TimeoutError');
    expect(error?.message).toMatch(/exceeded the configured 300 ms requestTimeout/);
    expect(received).toBe(3);
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(8_000);
  });
});
