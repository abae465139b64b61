import { describe, expect, it } from 'vitest';
import { verifyEksToken } from '../harness/kubernetes/eks-token';
import { createEksToken } from '../../lambdas/kubernetes/token';

const REGION = 'eu-west-1';
const CREDENTIALS = { accessKeyId: 'AKIDVERIFIERTEST', secretAccessKey: 'verifier-test-secret' };
const CLUSTER = { clusterName: 'prod-eks', region: REGION, credentials: CREDENTIALS };
const SIGNED_AT = new Date('2026-03-01T12:00:00Z');
const PREFIX = 'k8s-aws-v1.';

async function signed({
  clusterName = 'prod-eks',
  credentials = CREDENTIALS as { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  region = REGION,
} = {}): Promise<string> {
  return (await createEksToken({ clusterName, region, credentials, now: SIGNED_AT })).token;
}

/** The token with its presigned URL edited. */
function rewritten(token: string, edit: (url: URL) => void): string {
  const url = new URL(Buffer.from(token.slice(PREFIX.length), 'base64url').toString('utf8'));
  edit(url);
  return PREFIX + Buffer.from(url.toString(), 'utf8').toString('base64url');
}

const tokenOf = (url: string) => PREFIX + Buffer.from(url, 'utf8').toString('base64url');
const after = (ms: number) => new Date(SIGNED_AT.getTime() + ms);
const verify = (token: string, now = SIGNED_AT) => verifyEksToken(token, CLUSTER, now);

describe('verifyEksToken', () => {
  it('accepts a token the production signer made for this cluster, with or without a session token', async () => {
    expect(verify(await signed())).toBeUndefined();
    const withSession = await signed({ credentials: { ...CREDENTIALS, sessionToken: 'Fwo/+session=' } });
    expect(withSession).not.toBe(await signed());
    expect(verify(withSession)).toBeUndefined();
  });

  describe('the cluster id', () => {
    it('refuses a token signed for another cluster, the signature covering x-k8s-aws-id', async () => {
      expect(verify(await signed({ clusterName: 'staging-eks' }))).toBe(
        'signature mismatch (not signed by AKIDVERIFIERTEST for cluster prod-eks)',
      );
    });

    it('checks the token against the cluster it verifies for', async () => {
      const staging = { ...CLUSTER, clusterName: 'staging-eks' };
      expect(
        verifyEksToken(await signed({ clusterName: 'staging-eks' }), staging, SIGNED_AT),
      ).toBeUndefined();
      expect(verifyEksToken(await signed(), staging, SIGNED_AT)).toMatch(/^signature mismatch/);
    });

    it('refuses a token whose signature does not cover x-k8s-aws-id', async () => {
      const token = rewritten(await signed(), (url) => url.searchParams.set('X-Amz-SignedHeaders', 'host'));
      expect(verify(token)).toBe('x-k8s-aws-id is not a signed header');
    });

    it('refuses a token that signs headers beyond host and x-k8s-aws-id', async () => {
      const token = rewritten(await signed(), (url) =>
        url.searchParams.set('X-Amz-SignedHeaders', 'host;x-amz-date;x-k8s-aws-id'),
      );
      expect(verify(token)).toBe('signed headers are host;x-amz-date;x-k8s-aws-id, not host;x-k8s-aws-id');
    });
  });

  describe('age', () => {
    it('accepts a token up to 15 minutes old and refuses it after', async () => {
      const token = await signed();
      expect(verify(token, after(15 * 60_000))).toBeUndefined();
      expect(verify(token, after(15 * 60_000 + 1000))).toBe('token expired: signed 901 s ago (limit 900 s)');
    });

    it('allows the signer a clock up to 5 minutes ahead, and no more', async () => {
      const token = await signed();
      expect(verify(token, after(-5 * 60_000))).toBeUndefined();
      expect(verify(token, after(-5 * 60_000 - 1000))).toBe('token signed 301 s in the future');
    });

    it('refuses a malformed X-Amz-Date', async () => {
      const token = rewritten(await signed(), (url) =>
        url.searchParams.set('X-Amz-Date', '2026-03-01T12:00:00Z'),
      );
      expect(verify(token)).toBe('X-Amz-Date 2026-03-01T12:00:00Z is malformed');
    });
  });

  describe('the signature', () => {
    it('refuses a token signed with another secret', async () => {
      const token = await signed({ credentials: { ...CREDENTIALS, secretAccessKey: 'not-the-secret' } });
      expect(verify(token)).toMatch(/^signature mismatch/);
    });

    it('refuses a token whose signature was altered, or is missing', async () => {
      const token = await signed();
      const altered = rewritten(token, (url) => {
        const signature = url.searchParams.get('X-Amz-Signature') ?? '';
        url.searchParams.set(
          'X-Amz-Signature',
          `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`,
        );
      });
      const missing = rewritten(token, (url) => url.searchParams.delete('X-Amz-Signature'));
      expect(verify(altered)).toMatch(/^signature mismatch/);
      expect(verify(missing)).toMatch(/^signature mismatch/);
    });

    it('refuses a token whose signed query was changed after signing', async () => {
      const token = rewritten(await signed(), (url) => url.searchParams.set('X-Amz-Expires', '900'));
      expect(verify(token)).toMatch(/^signature mismatch/);
    });

    it('refuses credentials other than the expected access key, before checking the signature', async () => {
      const token = await signed({ credentials: { ...CREDENTIALS, accessKeyId: 'AKIDSOMEONEELSE' } });
      expect(verify(token)).toBe(
        'credential AKIDSOMEONEELSE/20260301/eu-west-1/sts/aws4_request is not AKIDVERIFIERTEST/20260301/eu-west-1/sts/aws4_request',
      );
    });
  });

  describe('the form of the token', () => {
    it('refuses a token without the k8s-aws-v1. prefix', async () => {
      expect(verify((await signed()).slice(PREFIX.length))).toBe('not a k8s-aws-v1 token');
    });

    it('refuses padded or standard base64', async () => {
      expect(verify(`${await signed()}=`)).toBe('token is not unpadded base64url');
      expect(verify(`${PREFIX}ab+c`)).toBe('token is not unpadded base64url');
    });

    it('refuses a token that is not a URL', () => {
      expect(verify(tokenOf('not a url'))).toBe('token is not a URL');
    });

    it("refuses a URL other than the region's STS endpoint", async () => {
      expect(verify(await signed({ region: 'us-east-1' }))).toBe(
        'token is for https://sts.us-east-1.amazonaws.com/, not https://sts.eu-west-1.amazonaws.com/',
      );
      const path = rewritten(await signed(), (url) => {
        url.pathname = '/other';
      });
      expect(verify(path)).toBe(
        'token is for https://sts.eu-west-1.amazonaws.com/other, not https://sts.eu-west-1.amazonaws.com/',
      );
    });

    it("accepts a China region's token only for its amazonaws.com.cn STS host", async () => {
      const china = { ...CLUSTER, region: 'cn-north-1' };
      const token = await signed({ region: 'cn-north-1' });
      expect(verifyEksToken(token, china, SIGNED_AT)).toBeUndefined();
      const globalHost = rewritten(token, (url) => {
        url.host = 'sts.cn-north-1.amazonaws.com';
      });
      expect(verifyEksToken(globalHost, china, SIGNED_AT)).toBe(
        'token is for https://sts.cn-north-1.amazonaws.com/, not https://sts.cn-north-1.amazonaws.com.cn/',
      );
    });

    it('refuses a repeated query parameter and one outside the allow-list', async () => {
      const token = await signed();
      expect(verify(rewritten(token, (url) => url.searchParams.append('Action', 'GetCallerIdentity')))).toBe(
        'query parameter Action repeated',
      );
      expect(verify(rewritten(token, (url) => url.searchParams.set('X-Amz-Extra', '1')))).toBe(
        'unexpected query parameters X-Amz-Extra',
      );
    });

    it('refuses another action, API version or signing algorithm', async () => {
      const token = await signed();
      const withParameter = (name: string, value: string) =>
        verify(rewritten(token, (url) => url.searchParams.set(name, value)));
      expect(withParameter('Action', 'AssumeRole')).toBe('Action is AssumeRole, not GetCallerIdentity');
      expect(withParameter('Version', '2010-01-01')).toBe('Version is 2010-01-01');
      expect(withParameter('X-Amz-Algorithm', 'AWS4-HMAC-SHA512')).toBe(
        'X-Amz-Algorithm is not AWS4-HMAC-SHA256',
      );
    });
  });
});
