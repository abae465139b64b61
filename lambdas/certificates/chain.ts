import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';

// Chain checks of a live probe, done by hand because the probe connects without verification (to see the
// chain a broken server presents) and must then say *why* the chain is bad, which OpenSSL's one error
// code per handshake does not.

/** The certificates a probe trusts: the system roots plus configured private CAs. */
export interface TrustStore {
  /** Whether this exact certificate is a trust anchor. */
  contains(certificate: X509Certificate): boolean;
  /** A trust anchor that issued and signed `certificate`, if any. */
  issuerOf(certificate: X509Certificate): X509Certificate | undefined;
}

let systemRoots: X509Certificate[] | undefined;

/** Builds the trust store once per run: parsing the ~150 system roots costs milliseconds, not per endpoint. */
export function createTrustStore(trustedCa: readonly string[] = []): TrustStore {
  systemRoots ??= rootCertificates.map((pem) => new X509Certificate(pem));
  const anchors = [...systemRoots, ...trustedCa.flatMap(splitPem).map((pem) => new X509Certificate(pem))];
  const fingerprints = new Set(anchors.map((anchor) => anchor.fingerprint256));
  // By subject, so finding an issuer checks the few anchors of that name, not ~150 signatures.
  const bySubject = new Map<string, X509Certificate[]>();
  for (const anchor of anchors)
    bySubject.set(anchor.subject, [...(bySubject.get(anchor.subject) ?? []), anchor]);
  return {
    contains: (certificate) => fingerprints.has(certificate.fingerprint256),
    issuerOf: (certificate) =>
      (bySubject.get(certificate.issuer) ?? []).find((anchor) => issued(anchor, certificate)),
  };
}

/** A configured CA entry may be a bundle of several PEM blocks. */
function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** `issuer` names `child`'s issuer and its key verifies `child`'s signature. */
export function issued(issuer: X509Certificate, child: X509Certificate): boolean {
  try {
    return child.checkIssued(issuer) && child.verify(issuer.publicKey);
  } catch {
    // verify throws on a key type it cannot use for this signature: not the issuer.
    return false;
  }
}

/**
 * Signed by its own key. Not `issued(c, c)`: OpenSSL's issuer check also wants the keyCertSign usage, which a
 * self-signed server certificate usually lacks.
 */
export function selfSigned(certificate: X509Certificate): boolean {
  try {
    return certificate.subject === certificate.issuer && certificate.verify(certificate.publicKey);
  } catch {
    return false;
  }
}

export type ChainVerdict =
  | { trusted: true }
  | {
      trusted: false;
      code: 'self-signed' | 'untrusted-root' | 'missing-intermediate';
      /** The last certificate the path reached. */
      stoppedAt: X509Certificate;
    };

/**
 * Walks from the leaf through the other presented certificates (in any order, as servers send them) to a trust
 * anchor. Where the path stops without one:
 * - at the leaf, signed by itself: `self-signed`;
 * - at a self-signed root, or at a CA certificate whose issuer is not there: `untrusted-root` (servers
 *   rarely send the root, so a missing issuer above a CA certificate is most likely an unknown root);
 * - at the leaf, issued by a certificate that is neither sent nor trusted: `missing-intermediate` (the
 *   server sends only its own certificate; without AIA fetching the root it leads to cannot be known).
 */
export function verifyChain(
  leaf: X509Certificate,
  presented: readonly X509Certificate[],
  store: TrustStore,
): ChainVerdict {
  const path = [leaf];
  let current = leaf;
  for (;;) {
    if (store.contains(current) || store.issuerOf(current)) return { trusted: true };
    const next = presented.find((candidate) => !path.includes(candidate) && issued(candidate, current));
    if (next) {
      path.push(next);
      current = next;
      continue;
    }
    if (selfSigned(current)) {
      return {
        trusted: false,
        code: path.length === 1 ? 'self-signed' : 'untrusted-root',
        stoppedAt: current,
      };
    }
    return {
      trusted: false,
      code: path.length === 1 ? 'missing-intermediate' : 'untrusted-root',
      stoppedAt: current,
    };
  }
}

/** DER of the SHA-1 signature algorithm OIDs: sha1WithRSAEncryption, ecdsa-with-SHA1, dsa-with-sha1. */
const SHA1_SIGNATURE_OIDS = new Set(['2a864886f70d010105', '2a8648ce3d0401', '2a8648ce380403']);

/**
 * Whether the certificate is signed with SHA-1. Node 22's X509Certificate has no signature algorithm field,
 * so this reads the outer `signatureAlgorithm` of the DER (RFC 5280 §4.1): Certificate ::= SEQUENCE {
 * tbsCertificate SEQUENCE, signatureAlgorithm SEQUENCE { OID, … }, signatureValue BIT STRING }.
 */
export function isSha1Signed(certificate: X509Certificate): boolean {
  const der = certificate.raw;
  const outer = readHeader(der, 0);
  const tbs = readHeader(der, outer.contentStart);
  const algorithm = readHeader(der, tbs.contentStart + tbs.length);
  const oid = readHeader(der, algorithm.contentStart);
  return SHA1_SIGNATURE_OIDS.has(
    der.subarray(oid.contentStart, oid.contentStart + oid.length).toString('hex'),
  );
}

/** The tag and length of one DER element at `offset` (definite lengths only, as DER requires). */
function readHeader(der: Buffer, offset: number): { contentStart: number; length: number } {
  const first = der[offset + 1];
  if (first === undefined) throw new RangeError('Truncated DER certificate');
  if (first < 0x80) return { contentStart: offset + 2, length: first };
  const bytes = first & 0x7f;
  return { contentStart: offset + 2 + bytes, length: der.readUIntBE(offset + 2, bytes) };
}

/** Curve sizes of the names OpenSSL reports in `asymmetricKeyDetails.namedCurve`. */
const CURVE_BITS: Record<string, number> = {
  prime192v1: 192,
  secp192k1: 192,
  secp224r1: 224,
  secp224k1: 224,
  prime256v1: 256,
  secp256k1: 256,
  secp384r1: 384,
  secp521r1: 521,
};

/** `RSA 1024 bits` when the key is below the current minimum (RSA 2048, EC 256), else undefined. */
export function weakKey(certificate: X509Certificate): string | undefined {
  const key = certificate.publicKey;
  const details = key.asymmetricKeyDetails;
  if ((key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') && details?.modulusLength) {
    return details.modulusLength < 2048 ? `RSA ${details.modulusLength} bits` : undefined;
  }
  if (key.asymmetricKeyType === 'ec' && details?.namedCurve) {
    const bits = CURVE_BITS[details.namedCurve];
    return bits !== undefined && bits < 256 ? `EC ${details.namedCurve} (${bits} bits)` : undefined;
  }
  return undefined;
}

/** `CN=a, O=b`: X509Certificate's subject is one attribute per line. */
export function subjectOf(certificate: X509Certificate): string {
  return certificate.subject.split('\n').join(', ');
}
