// The EKS token check, as aws-iam-authenticator makes it: a `k8s-aws-v1.` token is the unpadded base64url of a
// presigned STS GetCallerIdentity URL whose SigV4 signature covers `x-k8s-aws-id: <cluster>`. The signature is
// recomputed here from the raw query, independently of the signer the client uses.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { compareStrings } from './canonical-json';

export interface EksTokenVerifierOptions {
  /** The cluster the token must be signed for (the x-k8s-aws-id header). */
  clusterName: string;
  region: string;
  /** The credentials tokens must be signed with (the Lambda role's, in production). */
  credentials: { accessKeyId: string; secretAccessKey: string };
}

const TOKEN_PREFIX = 'k8s-aws-v1.';
/** EKS accepts a token for 15 minutes from X-Amz-Date, whatever its X-Amz-Expires says. */
const TOKEN_MAX_AGE_MS = 15 * 60_000;
const TOKEN_MAX_CLOCK_SKEW_MS = 5 * 60_000;
const SIGNED_HEADERS = 'host;x-k8s-aws-id';
const EMPTY_PAYLOAD_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** aws-iam-authenticator's allow-list of query parameters. */
const ALLOWED_PARAMETERS = new Set([
  'Action',
  'Version',
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-Security-Token',
  'X-Amz-Signature',
  'X-Amz-SignedHeaders',
]);

/** Why EKS would refuse `token` at time `now`, or undefined when it would accept it. */
export function verifyEksToken(
  token: string,
  options: EksTokenVerifierOptions,
  now: Date,
): string | undefined {
  const { clusterName, region, credentials } = options;
  if (!token.startsWith(TOKEN_PREFIX)) return 'not a k8s-aws-v1 token';
  const encoded = token.slice(TOKEN_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(encoded)) return 'token is not unpadded base64url';
  let url: URL;
  try {
    url = new URL(Buffer.from(encoded, 'base64url').toString('utf8'));
  } catch {
    return 'token is not a URL';
  }
  // China's regions have a DNS suffix of their own; every other region this verifier is given uses amazonaws.com.
  const host = `sts.${region}.${region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'}`;
  if (url.protocol !== 'https:' || url.host !== host || url.pathname !== '/') {
    return `token is for ${url.protocol}//${url.host}${url.pathname}, not https://${host}/`;
  }
  const query = new Map<string, string>();
  for (const [name, value] of url.searchParams) {
    if (query.has(name)) return `query parameter ${name} repeated`;
    query.set(name, value);
  }
  const unexpected = [...query.keys()].filter((name) => !ALLOWED_PARAMETERS.has(name));
  if (unexpected.length) return `unexpected query parameters ${unexpected.join(', ')}`;
  if (query.get('Action') !== 'GetCallerIdentity')
    return `Action is ${query.get('Action')}, not GetCallerIdentity`;
  if (query.get('Version') !== '2011-06-15') return `Version is ${query.get('Version')}`;
  if (query.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return 'X-Amz-Algorithm is not AWS4-HMAC-SHA256';
  const signedHeaders = (query.get('X-Amz-SignedHeaders') ?? '').split(';');
  if (!signedHeaders.includes('x-k8s-aws-id')) return 'x-k8s-aws-id is not a signed header';
  if (signedHeaders.join(';') !== SIGNED_HEADERS) {
    return `signed headers are ${signedHeaders.join(';')}, not ${SIGNED_HEADERS}`;
  }
  const amzDate = query.get('X-Amz-Date') ?? '';
  const dateMatch = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!dateMatch) return `X-Amz-Date ${amzDate} is malformed`;
  const [, y, mo, d, h, mi, s] = dateMatch.map(Number);
  const signedAt = Date.UTC(y ?? 0, (mo ?? 1) - 1, d, h, mi, s);
  const age = now.getTime() - signedAt;
  if (age > TOKEN_MAX_AGE_MS) return `token expired: signed ${Math.round(age / 1000)} s ago (limit 900 s)`;
  if (-age > TOKEN_MAX_CLOCK_SKEW_MS) return `token signed ${Math.round(-age / 1000)} s in the future`;
  const scope = `${amzDate.slice(0, 8)}/${region}/sts/aws4_request`;
  if (query.get('X-Amz-Credential') !== `${credentials.accessKeyId}/${scope}`) {
    return `credential ${query.get('X-Amz-Credential')} is not ${credentials.accessKeyId}/${scope}`;
  }
  const canonicalQuery = [...query.entries()]
    .filter(([name]) => name !== 'X-Amz-Signature')
    .map(([name, value]) => [rfc3986(name), rfc3986(value)] as const)
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  // The header value is this cluster's name: a token signed for another cluster fails here.
  const canonicalRequest = [
    'GET',
    '/',
    canonicalQuery,
    `host:${host}\nx-k8s-aws-id:${clusterName}\n`,
    SIGNED_HEADERS,
    EMPTY_PAYLOAD_SHA256,
  ].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  let key: Buffer = hmac(`AWS4${credentials.secretAccessKey}`, amzDate.slice(0, 8));
  for (const part of [region, 'sts', 'aws4_request']) key = hmac(key, part);
  const expected = Buffer.from(hmac(key, stringToSign).toString('hex'));
  const given = Buffer.from(query.get('X-Amz-Signature') ?? '');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return `signature mismatch (not signed by ${credentials.accessKeyId} for cluster ${clusterName})`;
  }
  return undefined;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** SigV4's URI encoding: encodeURIComponent plus the reserved characters it leaves alone. */
function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
