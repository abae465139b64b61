import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObservedCertificate } from '../../lambdas/certificates/certificate';
import {
  InvalidProbeOptions,
  probeEndpoint,
  probeEndpoints,
  type Endpoint,
} from '../../lambdas/certificates/probe';
import { createCa, createLeaf, daysFromNow, type KeyAndCertificate } from '../harness/tls/certificates';
import {
  closedPort,
  startHangingServer,
  startResettingServer,
  startTlsServer,
  type TestServer,
  type TlsServerOptions,
} from '../harness/tls/servers';

const HOST = 'api.example.test';
const TIMEOUT_MS = 2_000;

let root: KeyAndCertificate;
let intermediate: KeyAndCertificate;
const servers: TestServer[] = [];

beforeAll(async () => {
  root = await createCa('Probe Test Root');
  intermediate = await createCa('Probe Test Intermediate', { issuer: root });
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

async function serve(options: TlsServerOptions): Promise<number> {
  const server = await startTlsServer(options);
  servers.push(server);
  return server.port;
}

/** A leaf for `names` under the test intermediate, served with the intermediate. */
async function serveLeaf(names: string[], options: Parameters<typeof createLeaf>[1] = {}) {
  const leaf = await createLeaf(names, { issuer: intermediate, ...options });
  return serve({ identity: { ...leaf, chain: [intermediate.cert] } });
}

/** Probes `host` at a loopback port, trusting the test root. */
function probeAt(port: number, endpoint: Partial<Endpoint> = {}): Promise<ObservedCertificate> {
  return probeEndpoint(
    { host: HOST, port, connectAddress: '127.0.0.1', ...endpoint },
    { timeoutMs: TIMEOUT_MS, trustedCa: [root.cert] },
  );
}

const codes = (observed: ObservedCertificate) => observed.problems.map((problem) => problem.code);

describe('probeEndpoint against real TLS servers', () => {
  it('reports a valid chain with its expiry, and nothing wrong', async () => {
    const notAfter = daysFromNow(90);
    const port = await serveLeaf([HOST], { notAfter });
    const observed = await probeAt(port);
    expect(observed).toEqual({
      source: 'endpoint',
      id: `${HOST}:${port} (${HOST})`,
      name: `${HOST}:${port}`,
      notAfter: new Date(Math.floor(notAfter.getTime() / 1000) * 1000).toISOString(),
      renewsAutomatically: false,
      inUseBy: [],
      problems: [],
    });
  });

  it('reports the expiry of a certificate expiring in 5 days', async () => {
    const port = await serveLeaf([HOST], { notAfter: daysFromNow(5) });
    const observed = await probeAt(port);
    const days = (Date.parse(observed.notAfter ?? '') - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(4.99);
    expect(days).toBeLessThan(5.01);
    expect(observed.problems).toEqual([]);
  });

  it('reports an expired certificate by its past notAfter', async () => {
    const port = await serveLeaf([HOST], { notBefore: daysFromNow(-30), notAfter: daysFromNow(-2) });
    const observed = await probeAt(port);
    expect(Date.parse(observed.notAfter ?? '')).toBeLessThan(Date.now() - 86_400_000);
    expect(observed.expiringCertificate).toBeUndefined();
    // Expiry is the classifier's business, from notAfter; the chain itself is sound.
    expect(observed.problems).toEqual([]);
  });

  it('flags a certificate for another hostname', async () => {
    const port = await serveLeaf(['other.example.test']);
    const observed = await probeAt(port);
    expect(codes(observed)).toEqual(['hostname-mismatch']);
    expect(observed.problems[0]?.text).toContain(HOST);
  });

  it('flags a self-signed certificate', async () => {
    const port = await serve({ identity: await createLeaf([HOST]) });
    expect(codes(await probeAt(port))).toEqual(['self-signed']);
  });

  it('flags a chain under a root nobody trusts', async () => {
    const otherRoot = await createCa('Unknown Root');
    const otherIntermediate = await createCa('Unknown Intermediate', { issuer: otherRoot });
    const leaf = await createLeaf([HOST], { issuer: otherIntermediate });
    const port = await serve({ identity: { ...leaf, chain: [otherIntermediate.cert] } });
    const observed = await probeAt(port);
    expect(codes(observed)).toEqual(['untrusted-root']);
    expect(observed.problems[0]?.text).toContain('Unknown Root');
  });

  it('names the intermediate when it expires before the leaf', async () => {
    const shortIntermediate = await createCa('Short Intermediate', {
      issuer: root,
      notAfter: daysFromNow(10),
    });
    const leaf = await createLeaf([HOST], { issuer: shortIntermediate, notAfter: daysFromNow(200) });
    const port = await serve({ identity: { ...leaf, chain: [shortIntermediate.cert] } });
    const observed = await probeAt(port);
    expect(observed.expiringCertificate).toBe('CN=Short Intermediate');
    const days = (Date.parse(observed.notAfter ?? '') - Date.now()) / 86_400_000;
    expect(Math.round(days)).toBe(10);
    expect(observed.problems).toEqual([]);
  });

  it('flags a server that sends only its leaf although the root is trusted', async () => {
    const leaf = await createLeaf([HOST], { issuer: intermediate });
    const port = await serve({ identity: leaf });
    const observed = await probeAt(port);
    expect(codes(observed)).toEqual(['missing-intermediate']);
    expect(observed.problems[0]?.text).toContain('Probe Test Intermediate');
  });

  it('flags a TLS 1.0 only server as legacy-tls', async () => {
    const leaf = await createLeaf([HOST], { issuer: intermediate });
    const port = await serve({
      identity: { ...leaf, chain: [intermediate.cert] },
      minVersion: 'TLSv1',
      maxVersion: 'TLSv1',
    });
    expect(codes(await probeAt(port))).toEqual(['legacy-tls']);
  });

  it('flags a SHA-1 signed leaf, not the SHA-256 intermediate', async () => {
    const port = await serveLeaf([HOST], { algorithm: 'sha1' });
    const observed = await probeAt(port);
    expect(codes(observed)).toEqual(['sha1-signature']);
    expect(observed.problems[0]?.text).toContain(`CN=${HOST}`);
  });

  it('flags a weak RSA key', async () => {
    const port = await serveLeaf([HOST], { keySize: 1024 });
    const observed = await probeAt(port);
    expect(codes(observed)).toEqual(['weak-key']);
    expect(observed.problems[0]?.text).toContain('RSA 1024 bits');
  });

  it('sends SNI: a server that needs the right name answers it, and fails any other', async () => {
    const leaf = await createLeaf([HOST], { issuer: intermediate });
    const port = await serve({ identity: { ...leaf, chain: [intermediate.cert] }, requireSni: HOST });
    expect(await probeAt(port)).toMatchObject({ id: `${HOST}:${port} (${HOST})`, problems: [] });
    const wrong = await probeAt(port, { servername: 'wrong.example.test' });
    expect(wrong.id).toBe(`${HOST}:${port} (wrong.example.test)`);
    expect(codes(wrong)).toEqual(['unreachable']);
    expect(wrong.problems[0]?.text).toMatch(/^Unreachable \(handshake\)/);
    expect(wrong.notAfter).toBeUndefined();
  });

  it('sends and verifies an IDN hostname as its A-label', async () => {
    const leaf = await createLeaf(['xn--bcher-kva.example'], { issuer: intermediate });
    const port = await serve({
      identity: { ...leaf, chain: [intermediate.cert] },
      requireSni: 'xn--bcher-kva.example',
    });
    const observed = await probeAt(port, { host: 'bücher.example' });
    expect(observed.id).toBe(`bücher.example:${port} (xn--bcher-kva.example)`);
    expect(observed.problems).toEqual([]);
  });

  it('strips the trailing dot of a fully qualified hostname for SNI and verification', async () => {
    const leaf = await createLeaf([HOST], { issuer: intermediate });
    const port = await serve({ identity: { ...leaf, chain: [intermediate.cert] }, requireSni: HOST });
    const observed = await probeAt(port, { host: `${HOST}.` });
    expect(observed.id).toBe(`${HOST}.:${port} (${HOST})`);
    expect(observed.problems).toEqual([]);
  });

  it('verifies an IP address against the IP SAN and sends no SNI', async () => {
    const port = await serveLeaf(['127.0.0.1']);
    const observed = await probeAt(port, { host: '127.0.0.1', connectAddress: undefined });
    expect(observed.id).toBe(`127.0.0.1:${port}`);
    expect(observed.problems).toEqual([]);
  });
});

describe('probeEndpoint against endpoints that are not TLS servers', () => {
  const reasonOf = (observed: ObservedCertificate) => {
    expect(codes(observed)).toEqual(['unreachable']);
    expect(observed.notAfter).toBeUndefined();
    return /^Unreachable \((\w+)\)/.exec(observed.problems[0]?.text ?? '')?.[1];
  };

  it('times out on a server that accepts TCP and never answers the handshake', async () => {
    const server = await startHangingServer();
    servers.push(server);
    const started = performance.now();
    const observed = await probeEndpoint(
      { host: HOST, port: server.port, connectAddress: '127.0.0.1' },
      { timeoutMs: 300 },
    );
    expect(reasonOf(observed)).toBe('timeout');
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    // The probe closed its socket when it gave up.
    await expect.poll(() => server.open).toBe(0);
  });

  it('reports a reset when the server drops the connection after the ClientHello', async () => {
    const server = await startResettingServer();
    servers.push(server);
    expect(reasonOf(await probeAt(server.port))).toBe('reset');
  });

  it('names an IPv6 endpoint with its address in brackets, as the configuration does for its alarm', async () => {
    const observed = await probeEndpoint(
      { host: '::1', port: await closedPort() },
      { timeoutMs: TIMEOUT_MS },
    );
    expect(observed.id).toMatch(/^\[::1\]:\d+$/);
    expect(observed.problems.map((problem) => problem.code)).toEqual(['unreachable']);
  });

  it('reports a refused connection on a closed port', async () => {
    expect(reasonOf(await probeAt(await closedPort()))).toBe('refused');
  });

  it('reports a name that does not resolve', async () => {
    // .invalid never resolves (RFC 2606); no connectAddress, so the probe asks DNS.
    const observed = await probeEndpoint({ host: 'no-such-host.invalid', port: 443 }, { timeoutMs: 5_000 });
    expect(reasonOf(observed)).toBe('dns');
  });
});

describe('probeEndpoints', () => {
  it('never has more than `concurrency` connections open, and keeps the input order', async () => {
    const server = await startHangingServer();
    servers.push(server);
    const endpoints = Array.from({ length: 50 }, (_, index) => ({
      host: `host-${index}.example.test`,
      port: server.port,
      connectAddress: '127.0.0.1',
    }));
    const results = await probeEndpoints(endpoints, { concurrency: 10, timeoutMs: 100 });
    expect(server.maxOpen).toBe(10);
    expect(results.map((result) => result.name)).toEqual(endpoints.map((e) => `${e.host}:${e.port}`));
  });

  it('takes about timeout × ceil(N / concurrency) for hanging endpoints, not N × timeout', async () => {
    const server = await startHangingServer();
    servers.push(server);
    const endpoints = Array.from({ length: 12 }, () => ({
      host: HOST,
      port: server.port,
      connectAddress: '127.0.0.1',
    }));
    const started = performance.now();
    const results = await probeEndpoints(endpoints, { concurrency: 4, timeoutMs: 300 });
    const elapsed = performance.now() - started;
    // 3 waves of 300 ms; sequential would be 3.6 s.
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(1_500);
    expect(results.every((result) => result.problems[0]?.text.startsWith('Unreachable (timeout)'))).toBe(
      true,
    );
  });

  it('refuses a concurrency that would probe nothing', async () => {
    await expect(probeEndpoints([], { concurrency: 0, timeoutMs: 100 })).rejects.toThrow(InvalidProbeOptions);
  });
});
