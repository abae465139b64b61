import { createCa, createLeaf, daysFromNow, type KeyAndCertificate } from './certificates';
import { startHangingServer, startTlsServer, type TestServer } from './servers';

// A fleet of live TLS endpoints on 127.0.0.1, one server (and port) each, in a mix of what a probe meets in
// the wild: for the benchmark of the certificate probes at a thousand endpoints. Certificates are shared
// within a kind (one key and certificate per kind, for `*.<domain>`): generating a thousand RSA keys would
// take minutes and measure selfsigned, not the probe.

export const ENDPOINT_KINDS = [
  'valid',
  'expiring',
  'wrong-hostname',
  'self-signed',
  'missing-intermediate',
  'hanging',
] as const;
export type EndpointKind = (typeof ENDPOINT_KINDS)[number];

/** How many endpoints of each kind. */
export type FleetMix = Record<EndpointKind, number>;

/** Days to expiry of the leaves of `valid` and of `expiring` endpoints. */
export const VALID_DAYS = 200;
export const EXPIRING_DAYS = 5;

export interface FleetEndpoint {
  /** Reached by address, verified and sent as SNI by `servername`: a name behind a load balancer. */
  host: '127.0.0.1';
  port: number;
  servername: string;
  kind: EndpointKind;
}

export interface Fleet {
  /** Every endpoint, the kinds spread evenly through the list (as a configuration lists them, unsorted). */
  endpoints: FleetEndpoint[];
  /** The private root the valid chains lead to: a probe's trusted CA. */
  trustedCa: string;
  /** Time taken to generate the certificates, and to start the servers. */
  certificatesMs: number;
  serversMs: number;
  close(): Promise<void>;
}

/**
 * Starts `mix` endpoints: a valid chain (leaf + intermediate under the trusted root, VALID_DAYS left), one
 * EXPIRING_DAYS from expiry, one for another host name, a self-signed one, one sent without its
 * intermediate, and servers that accept TCP and never answer the handshake.
 */
export async function startFleet(mix: FleetMix, domain = 'bench.test'): Promise<Fleet> {
  const certificatesStart = performance.now();
  const root = await createCa('Bench Root');
  const intermediate = await createCa('Bench Intermediate', { issuer: root });
  const wildcard = `*.${domain}`;
  const [valid, expiring, wrongHost, selfSigned] = await Promise.all([
    createLeaf([wildcard], { issuer: intermediate, notAfter: daysFromNow(VALID_DAYS) }),
    createLeaf([wildcard], { issuer: intermediate, notAfter: daysFromNow(EXPIRING_DAYS) }),
    createLeaf([`other.example.test`], { issuer: intermediate, notAfter: daysFromNow(VALID_DAYS) }),
    createLeaf([wildcard], { notAfter: daysFromNow(VALID_DAYS) }),
  ]);
  const certificatesMs = performance.now() - certificatesStart;

  const withChain = (leaf: KeyAndCertificate) => ({ ...leaf, chain: [intermediate.cert] });
  const start: Record<EndpointKind, () => Promise<TestServer>> = {
    valid: () => startTlsServer({ identity: withChain(valid) }),
    expiring: () => startTlsServer({ identity: withChain(expiring) }),
    'wrong-hostname': () => startTlsServer({ identity: withChain(wrongHost) }),
    'self-signed': () => startTlsServer({ identity: selfSigned }),
    'missing-intermediate': () => startTlsServer({ identity: valid }),
    hanging: startHangingServer,
  };

  const serversStart = performance.now();
  const kinds = spread(mix);
  const servers = await Promise.all(kinds.map((kind) => start[kind]()));
  const serversMs = performance.now() - serversStart;
  const width = String(kinds.length).length;
  return {
    endpoints: kinds.map((kind, index) => ({
      host: '127.0.0.1',
      port: (servers[index] as TestServer).port,
      servername: `e${String(index).padStart(width, '0')}.${domain}`,
      kind,
    })),
    trustedCa: root.cert,
    certificatesMs,
    serversMs,
    close: async () => {
      await Promise.all(servers.map((server) => server.close()));
    },
  };
}

/** The kinds of `mix`, each spread evenly through the list: ordered by the fraction of its kind placed. */
function spread(mix: FleetMix): EndpointKind[] {
  return ENDPOINT_KINDS.flatMap((kind) =>
    Array.from({ length: mix[kind] }, (_, index) => ({ kind, at: (index + 0.5) / mix[kind] })),
  )
    .sort((a, b) => a.at - b.at)
    .map(({ kind }) => kind);
}
