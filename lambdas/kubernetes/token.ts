import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { UnsupportedPartition } from './errors';

export interface EksTokenOptions {
  clusterName: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Signing time; defaults to now. */
  now?: Date;
}

export interface EksToken {
  token: string;
  expiresAt: Date;
}

const TOKEN_PREFIX = 'k8s-aws-v1.';
/** EKS accepts a token for 15 minutes from X-Amz-Date; refresh one minute early (reference.md). */
const TOKEN_LIFETIME_MS = 14 * 60_000;
/** Sent as X-Amz-Expires, as aws-iam-authenticator does; EKS ignores it in favour of the 15 minutes. */
const PRESIGN_EXPIRES_IN_SECONDS = 60;

/**
 * The partitions whose STS host the token can name, with the region patterns and DNS suffixes of the SDK's
 * partition data (@aws-sdk/core, util-endpoints partitions); aws-us-gov shares the aws suffix. The others
 * (aws-iso*, aws-eusc) are refused rather than guessed at: a token for the wrong host is a bare 401.
 */
const PARTITIONS = [
  { id: 'aws', regions: /^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$/, dnsSuffix: 'amazonaws.com' },
  { id: 'aws-cn', regions: /^cn-\w+-\d+$/, dnsSuffix: 'amazonaws.com.cn' },
  { id: 'aws-us-gov', regions: /^us-gov-\w+-\d+$/, dnsSuffix: 'amazonaws.com' },
] as const;

/** The regional STS host the token is presigned for; EKS accepts only its own partition's. */
export function stsHostname(region: string): string {
  const partition = PARTITIONS.find(({ regions }) => regions.test(region));
  if (!partition) {
    throw new UnsupportedPartition(
      `Region ${region} is not in a partition the EKS token supports (${PARTITIONS.map(({ id }) => id).join(', ')}): ` +
        'the token is a presigned STS URL and this code does not know the STS host there, so nothing was sent to the ' +
        'cluster. Add the partition to lambdas/kubernetes/token.ts once its STS host is known.',
    );
  }
  return `sts.${region}.${partition.dnsSuffix}`;
}

/**
 * A bearer token for the EKS API server: a presigned STS GetCallerIdentity URL whose signature covers
 * `x-k8s-aws-id: <cluster>`, so it is valid for that cluster only (reference.md, "EKS access from a Lambda").
 */
export async function createEksToken({
  clusterName,
  region,
  credentials,
  now = new Date(),
}: EksTokenOptions): Promise<EksToken> {
  const hostname = stsHostname(region);
  const signer = new SignatureV4({ service: 'sts', region, credentials, sha256: Sha256 });
  const presigned = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: hostname, 'x-k8s-aws-id': clusterName },
    },
    { signingDate: now, expiresIn: PRESIGN_EXPIRES_IN_SECONDS },
  );
  const url = `https://${hostname}/?${queryString(presigned.query ?? {})}`;
  return {
    token: TOKEN_PREFIX + Buffer.from(url, 'utf8').toString('base64url'),
    expiresAt: new Date(now.getTime() + TOKEN_LIFETIME_MS),
  };
}

function queryString(query: Record<string, string | string[] | null>): string {
  return Object.entries(query)
    .flatMap(([key, value]) =>
      (Array.isArray(value) ? value : [value ?? '']).map(
        (item) => `${encodeRfc3986(key)}=${encodeRfc3986(item)}`,
      ),
    )
    .join('&');
}

/** SigV4 canonical encoding; the server re-encodes what it decodes, so the URL must round-trip exactly. */
function encodeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
