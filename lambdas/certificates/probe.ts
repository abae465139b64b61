import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import {
  checkServerIdentity,
  connect,
  createSecureContext,
  type DetailedPeerCertificate,
  type SecureContext,
  type TLSSocket,
} from 'node:tls';
import { domainToASCII } from 'node:url';
import { RunbookError } from '../shared/errors';
import type { CertificateProblem, ObservedCertificate } from './certificate';
import {
  createTrustStore,
  isSha1Signed,
  selfSigned,
  subjectOf,
  verifyChain,
  weakKey,
  type TrustStore,
} from './chain';
import { mapConcurrently } from '../shared/concurrency';

// Live TLS probes of configured endpoints, as Prometheus' blackbox exporter does: connect, read the chain
// the server presents, and report its expiry and what is wrong with it. A probe never throws for the
// endpoint's sake: an endpoint that cannot be reached is itself a finding.

export interface Endpoint {
  host: string;
  port: number;
  /** The name sent as SNI and verified against the certificate. @default host (none when host is an IP) */
  servername?: string;
  /**
   * Connect to this address instead of resolving `host`, still sending SNI and verifying as `host`: an
   * endpoint behind a load balancer reached by its address, or a test server on 127.0.0.1.
   */
  connectAddress?: string;
}

export interface ProbeOptions {
  /** Budget of one endpoint, covering DNS, TCP connect and the TLS handshake. */
  timeoutMs: number;
  /** PEM certificates (or bundles) trusted besides the system roots: private CAs. */
  trustedCa?: string[];
}

export interface ProbeEndpointsOptions extends ProbeOptions {
  /** How many endpoints are probed at once. */
  concurrency: number;
}

/** Probe options that cannot work (a zero concurrency would probe nothing). */
export class InvalidProbeOptions extends RunbookError {
  override name = 'InvalidProbeOptions';
}

export type UnreachableReason = 'timeout' | 'reset' | 'refused' | 'dns' | 'handshake' | 'network';

const REASON_TEXT: Record<UnreachableReason, string> = {
  timeout: 'no TLS handshake within the timeout (the port may accept TCP and never answer)',
  reset: 'the connection was closed during the TLS handshake',
  refused: 'the connection was refused (nothing listens on the port)',
  dns: 'the name does not resolve',
  handshake: 'the TLS handshake failed',
  network: 'the address cannot be reached',
};

const DNS_ERRORS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'ENODATA']);

/** IDN to ASCII (certificates and DNS carry A-labels); '' when it cannot convert, then the name as given. */
const ascii = (name: string): string => domainToASCII(name) || name;

/**
 * The name verified against the certificate and sent as SNI (none for an IP address: RFC 6066 forbids it),
 * without the trailing root dot no certificate carries, and the host to connect to, dot kept for DNS.
 */
function namesOf(endpoint: Endpoint): { sni?: string; verifyAs: string; connectTo: string } {
  const connectTo = endpoint.connectAddress ?? (isIP(endpoint.host) ? endpoint.host : ascii(endpoint.host));
  const name = (endpoint.servername ?? endpoint.host).replace(/\.$/, '');
  if (isIP(name)) return { verifyAs: name, connectTo };
  return { sni: ascii(name), verifyAs: ascii(name), connectTo };
}

/** `host:port`, an IPv6 address in brackets so its colons do not run into the port's (RFC 3986). */
function hostPort({ host, port }: Endpoint): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/** Probes one endpoint. Prefer probeEndpoints for many: it builds the trust store once. */
export function probeEndpoint(endpoint: Endpoint, options: ProbeOptions): Promise<ObservedCertificate> {
  return probe(endpoint, options.timeoutMs, createTrustStore(options.trustedCa), probeContext());
}

/**
 * The lowest protocol and security level, so a legacy server completes the handshake and is reported as such
 * rather than as unreachable; built once per run: a context per connection costs ~0.4 ms of CPU each.
 */
function probeContext(): SecureContext {
  return createSecureContext({ minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' });
}

/** Probes every endpoint, at most `concurrency` at once; the results are in the order of `endpoints`. */
export async function probeEndpoints(
  endpoints: readonly Endpoint[],
  options: ProbeEndpointsOptions,
): Promise<ObservedCertificate[]> {
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
    throw new InvalidProbeOptions(`concurrency must be a positive integer, not ${options.concurrency}`);
  }
  if (!(options.timeoutMs > 0)) {
    throw new InvalidProbeOptions(`timeoutMs must be positive, not ${options.timeoutMs}`);
  }
  const store = createTrustStore(options.trustedCa);
  const context = probeContext();
  // A hanging endpoint holds up only its own worker: N of them take ~timeout × ⌈N / concurrency⌉.
  return mapConcurrently(endpoints, options.concurrency, (endpoint) =>
    probe(endpoint, options.timeoutMs, store, context),
  );
}

function probe(
  endpoint: Endpoint,
  timeoutMs: number,
  store: TrustStore,
  secureContext: SecureContext,
): Promise<ObservedCertificate> {
  const { sni, verifyAs, connectTo } = namesOf(endpoint);
  const base = {
    source: 'endpoint' as const,
    id: `${hostPort(endpoint)}${sni ? ` (${sni})` : ''}`,
    name: hostPort(endpoint),
    renewsAutomatically: false,
    inUseBy: [],
  };
  const unreachable = (reason: UnreachableReason, detail?: string): ObservedCertificate => ({
    ...base,
    problems: [
      {
        code: 'unreachable',
        text: `Unreachable (${reason}): ${REASON_TEXT[reason]}${detail ? ` (${detail})` : ''}; check the endpoint and its network path.`,
      },
    ],
  });

  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: ObservedCertificate): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const socket = connect({
      host: connectTo,
      port: endpoint.port,
      servername: sni,
      // Only to see the chain a broken server presents: everything is verified below, and nothing but the
      // handshake goes over this connection.
      rejectUnauthorized: false,
      secureContext,
    });
    const timer = setTimeout(() => finish(unreachable('timeout', `${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (error: NodeJS.ErrnoException) => finish(unreachable(reasonOf(error), error.message)));
    socket.once('secureConnect', () => {
      try {
        finish({ ...base, ...inspect(socket, verifyAs, store) });
      } catch (error) {
        // A certificate this code cannot parse must not fail the whole run: report it on its line.
        finish({
          ...base,
          problems: [
            {
              code: 'unreadable-certificate',
              text: `The server's certificate cannot be read (${(error as Error).message}): check what the endpoint serves.`,
            },
          ],
        });
      }
    });
  });
}

function reasonOf(error: NodeJS.ErrnoException): UnreachableReason {
  if (error.code === 'ECONNREFUSED') return 'refused';
  if (error.code === 'ECONNRESET' || error.code === 'EPIPE') return 'reset';
  if (error.code && DNS_ERRORS.has(error.code)) return 'dns';
  if (error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH') return 'network';
  return 'handshake';
}

/** The certificates the server presented, leaf first, from Node's linked issuer objects. */
function presentedChain(peer: DetailedPeerCertificate): X509Certificate[] {
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  for (
    let current: DetailedPeerCertificate | undefined = peer;
    current?.raw;
    current = current.issuerCertificate
  ) {
    // A self-signed certificate is its own issuerCertificate.
    if (seen.has(current.fingerprint256)) break;
    seen.add(current.fingerprint256);
    chain.push(new X509Certificate(current.raw));
  }
  return chain;
}

function inspect(
  socket: TLSSocket,
  verifyAs: string,
  store: TrustStore,
): Pick<ObservedCertificate, 'notAfter' | 'expiringCertificate' | 'problems'> {
  const peer = socket.getPeerCertificate(true);
  const chain = presentedChain(peer);
  const [leaf] = chain;
  if (!leaf) return { problems: [{ code: 'no-certificate', text: 'The server presented no certificate.' }] };
  const problems: CertificateProblem[] = [];

  const verdict = verifyChain(leaf, chain, store);
  if (!verdict.trusted) {
    const at = subjectOf(verdict.stoppedAt);
    const text = {
      'self-signed': `The certificate (${at}) is self-signed: replace it with one from a trusted CA, or add it to the trusted CAs if it is pinned on purpose.`,
      'untrusted-root': `The chain ends at ${at}, issued by ${verdict.stoppedAt.issuer.split('\n').join(', ')}, which is not a trusted root: use a publicly trusted CA, or add the private root to the trusted CAs.`,
      'missing-intermediate': `The server sends only its certificate, and its issuer (${verdict.stoppedAt.issuer.split('\n').join(', ')}) is not a trusted root: configure the server with the full chain (certificate plus intermediates).`,
    }[verdict.code];
    problems.push({ code: verdict.code, text });
  }

  const mismatch = checkServerIdentity(verifyAs, peer);
  if (mismatch) {
    problems.push({
      code: 'hostname-mismatch',
      text: `The certificate does not cover ${verifyAs} (${mismatch.message}): issue one whose subject alternative names include it.`,
    });
  }

  const protocol = socket.getProtocol();
  if (protocol === 'TLSv1' || protocol === 'TLSv1.1') {
    problems.push({
      code: 'legacy-tls',
      text: `The server negotiates ${protocol}, which browsers and current clients refuse: enable TLS 1.2 or 1.3 and disable older versions.`,
    });
  }

  for (const certificate of chain) {
    const weak = weakKey(certificate);
    if (weak) {
      problems.push({
        code: 'weak-key',
        text: `${subjectOf(certificate)} has a weak key (${weak}): reissue it with RSA 2048+ or EC P-256+.`,
      });
    }
    // A root's signature on itself is not checked by clients; every other SHA-1 signature is refused.
    if (!store.contains(certificate) && !selfSigned(certificate) && isSha1Signed(certificate)) {
      problems.push({
        code: 'sha1-signature',
        text: `${subjectOf(certificate)} is signed with SHA-1, which clients refuse: reissue it with SHA-256.`,
      });
    }
  }

  // The earliest expiry anywhere in the presented chain: an intermediate can expire before the leaf.
  const earliest = chain.reduce((soonest, certificate) =>
    certificate.validToDate < soonest.validToDate ? certificate : soonest,
  );
  return {
    notAfter: earliest.validToDate.toISOString(),
    ...(earliest !== leaf && { expiringCertificate: subjectOf(earliest) }),
    problems,
  };
}
