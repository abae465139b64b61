import { generate } from 'selfsigned';

// Certificates for the TLS probe tests, generated in-process with `selfsigned` (WebCrypto underneath), so
// no openssl CLI and no fixture files that expire. All keys are RSA: selfsigned imports the CA's key with
// the leaf's key type.

export interface KeyAndCertificate {
  /** PEM */
  cert: string;
  /** PEM, PKCS#8 */
  key: string;
}

export interface CertificateOptions {
  notBefore?: Date;
  /** @default a year from now */
  notAfter?: Date;
  /** The signature hash: 'sha1' for a SHA-1 signed certificate. @default 'sha256' */
  algorithm?: 'sha1' | 'sha256';
  /** RSA modulus bits. @default 2048 */
  keySize?: number;
  /** Signed by this CA; self-signed when absent. */
  issuer?: KeyAndCertificate;
}

const DAY_MS = 86_400_000;

/** A date `days` from now (negative: in the past). */
export const daysFromNow = (days: number): Date => new Date(Date.now() + days * DAY_MS);

async function create(
  commonName: string,
  extensions: NonNullable<Parameters<typeof generate>[1]>['extensions'],
  options: CertificateOptions,
): Promise<KeyAndCertificate> {
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    algorithm: options.algorithm ?? 'sha256',
    keySize: options.keySize ?? 2048,
    notBeforeDate: options.notBefore ?? daysFromNow(-1),
    notAfterDate: options.notAfter ?? daysFromNow(365),
    extensions,
    ...(options.issuer && { ca: { cert: options.issuer.cert, key: options.issuer.key } }),
  });
  return { cert: pems.cert, key: pems.private };
}

/** A CA: a root when `options.issuer` is absent, else an intermediate under it. */
export function createCa(commonName: string, options: CertificateOptions = {}): Promise<KeyAndCertificate> {
  return create(
    commonName,
    [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
    options,
  );
}

/** A server certificate for `names` (DNS names, or IP addresses); the first is its common name. */
export function createLeaf(names: string[], options: CertificateOptions = {}): Promise<KeyAndCertificate> {
  const [commonName = 'localhost'] = names;
  return create(
    commonName,
    [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: names.map((name) =>
          /^[\d.]+$/.test(name) ? { type: 7, ip: name } : { type: 2, value: name },
        ),
      },
    ],
    options,
  );
}
