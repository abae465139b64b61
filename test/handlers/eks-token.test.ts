import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createKubernetesClient } from '../../lambdas/kubernetes/client';
import { KubernetesUnauthorized, UnsupportedPartition } from '../../lambdas/kubernetes/errors';
import { createEksToken } from '../../lambdas/kubernetes/token';
import { startKubernetesApiServer, type SimulatedKubernetesApi } from '../harness/kubernetes/server';

const REGION = 'eu-west-1';
const CREDENTIALS = { accessKeyId: 'AKIDEKSTOKENTEST', secretAccessKey: 'eks-token-test-secret' };
const SIGNED_AT = new Date('2026-03-01T12:00:00Z');

function presignedUrl(token: string): URL {
  return new URL(Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString('utf8'));
}

describe('createEksToken', () => {
  it('is k8s-aws-v1. and the unpadded base64url of a presigned STS GetCallerIdentity URL', async () => {
    const { token } = await createEksToken({
      clusterName: 'prod-eks',
      region: REGION,
      credentials: CREDENTIALS,
      now: SIGNED_AT,
    });
    expect(token).toMatch(/^k8s-aws-v1\.[A-Za-z0-9_-]+$/);
    const url = presignedUrl(token);
    expect(`${url.protocol}//${url.host}${url.pathname}`).toBe('https://sts.eu-west-1.amazonaws.com/');
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      Action: 'GetCallerIdentity',
      Version: '2011-06-15',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': 'AKIDEKSTOKENTEST/20260301/eu-west-1/sts/aws4_request',
      'X-Amz-Date': '20260301T120000Z',
      'X-Amz-Expires': '60',
      'X-Amz-SignedHeaders': 'host;x-k8s-aws-id',
    });
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('never pads, whatever the length of the URL', async () => {
    // The session token is the only part of the URL whose length varies; 1..3 extra characters cover all padding.
    const tokens = await Promise.all(
      ['s', 'se', 'ses'].map((sessionToken) =>
        createEksToken({
          clusterName: 'prod-eks',
          region: REGION,
          credentials: { ...CREDENTIALS, sessionToken },
          now: SIGNED_AT,
        }),
      ),
    );
    const urlLengths = tokens.map(
      ({ token }) => Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').length % 3,
    );
    expect(new Set(urlLengths)).toEqual(new Set([0, 1, 2]));
    for (const { token } of tokens) expect(token).toMatch(/^k8s-aws-v1\.[A-Za-z0-9_-]+$/);
  });

  it('signs the x-k8s-aws-id header, so the cluster name changes the signature', async () => {
    const sign = (clusterName: string) =>
      createEksToken({ clusterName, region: REGION, credentials: CREDENTIALS, now: SIGNED_AT });
    const [prod, prodAgain, staging] = await Promise.all([
      sign('prod-eks'),
      sign('prod-eks'),
      sign('staging-eks'),
    ]);
    expect(prodAgain.token).toBe(prod.token);
    expect(presignedUrl(staging.token).searchParams.get('X-Amz-Signature')).not.toBe(
      presignedUrl(prod.token).searchParams.get('X-Amz-Signature'),
    );
  });

  it('carries a session token when the credentials have one, and none otherwise', async () => {
    const withSession = await createEksToken({
      clusterName: 'prod-eks',
      region: REGION,
      credentials: { ...CREDENTIALS, sessionToken: 'FwoG+ZXIvYXdz/EJr//////////wEaD=' },
      now: SIGNED_AT,
    });
    const without = await createEksToken({
      clusterName: 'prod-eks',
      region: REGION,
      credentials: CREDENTIALS,
      now: SIGNED_AT,
    });
    expect(presignedUrl(withSession.token).searchParams.get('X-Amz-Security-Token')).toBe(
      'FwoG+ZXIvYXdz/EJr//////////wEaD=',
    );
    expect(presignedUrl(without.token).searchParams.has('X-Amz-Security-Token')).toBe(false);
  });

  it('expires 14 minutes after signing, a minute before EKS stops accepting it', async () => {
    const { expiresAt } = await createEksToken({
      clusterName: 'prod-eks',
      region: REGION,
      credentials: CREDENTIALS,
      now: SIGNED_AT,
    });
    expect(expiresAt.toISOString()).toBe('2026-03-01T12:14:00.000Z');
  });

  describe("names the STS host of the region's partition", () => {
    it.each([
      ['eu-west-1', 'https://sts.eu-west-1.amazonaws.com/'],
      ['cn-north-1', 'https://sts.cn-north-1.amazonaws.com.cn/'],
      ['cn-northwest-1', 'https://sts.cn-northwest-1.amazonaws.com.cn/'],
      ['us-gov-west-1', 'https://sts.us-gov-west-1.amazonaws.com/'],
    ])('%s: %s, with the region in the credential scope', async (region, url) => {
      const { token } = await createEksToken({
        clusterName: 'prod-eks',
        region,
        credentials: CREDENTIALS,
        now: SIGNED_AT,
      });
      const presigned = presignedUrl(token);
      expect(`${presigned.protocol}//${presigned.host}${presigned.pathname}`).toBe(url);
      expect(presigned.searchParams.get('X-Amz-Credential')).toBe(
        `AKIDEKSTOKENTEST/20260301/${region}/sts/aws4_request`,
      );
    });

    it('signs the host it names: the same request for another host has another signature', async () => {
      const signature = async (region: string) =>
        presignedUrl(
          (
            await createEksToken({
              clusterName: 'prod-eks',
              region,
              credentials: CREDENTIALS,
              now: SIGNED_AT,
            })
          ).token,
        ).searchParams.get('X-Amz-Signature');
      const signer = new SignatureV4({
        service: 'sts',
        region: 'cn-north-1',
        credentials: CREDENTIALS,
        sha256: Sha256,
      });
      const withHost = async (host: string) =>
        (
          await signer.presign(
            {
              method: 'GET',
              protocol: 'https:',
              hostname: host,
              path: '/',
              query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
              headers: { host, 'x-k8s-aws-id': 'prod-eks' },
            },
            { signingDate: SIGNED_AT, expiresIn: 60 },
          )
        ).query?.['X-Amz-Signature'];
      expect(await signature('cn-north-1')).toBe(await withHost('sts.cn-north-1.amazonaws.com.cn'));
      expect(await signature('cn-north-1')).not.toBe(await withHost('sts.cn-north-1.amazonaws.com'));
    });

    it.each([
      'us-iso-east-1',
      'us-isob-east-1',
      'eu-isoe-west-1',
      'us-isof-south-1',
      'eusc-de-east-1',
      'local',
    ])(
      'refuses %s, whose partition it does not know, with UnsupportedPartition naming the region',
      async (region) => {
        const signing = createEksToken({ clusterName: 'prod-eks', region, credentials: CREDENTIALS });
        await expect(signing).rejects.toBeInstanceOf(UnsupportedPartition);
        await expect(signing).rejects.toThrow(
          `Region ${region} is not in a partition the EKS token supports (aws, aws-cn, aws-us-gov): the token is a ` +
            'presigned STS URL and this code does not know the STS host there, so nothing was sent to the cluster. ' +
            'Add the partition to lambdas/kubernetes/token.ts once its STS host is known.',
        );
      },
    );
  });

  it('stays well under the 4 KB EKS allows, even with a long session token', async () => {
    const { token } = await createEksToken({
      clusterName: 'prod-eks',
      region: REGION,
      credentials: { ...CREDENTIALS, sessionToken: 'x'.repeat(1200) },
      now: SIGNED_AT,
    });
    expect(token.length).toBeLessThan(4096);
  });
});

describe('the simulated API server, given EKS tokens', () => {
  let serverTime = SIGNED_AT;
  let sim: SimulatedKubernetesApi;

  beforeAll(async () => {
    sim = await startKubernetesApiServer({
      clusterName: 'prod-eks',
      region: REGION,
      credentials: CREDENTIALS,
      now: () => serverTime,
    });
  });
  afterAll(() => sim.close());
  beforeEach(() => {
    sim.reset();
    serverTime = SIGNED_AT;
    sim.addDeployment({ namespace: 'shop', name: 'web', revisions: [{ image: 'web:1' }] });
  });

  /** Reads the Deployment with a fixed token; resolves to the image or rejects with the client's error. */
  async function readWith(token: string): Promise<string | undefined> {
    const client = createKubernetesClient({
      endpoint: sim.endpoint,
      caData: sim.caData,
      token: async () => token,
      timeoutMs: 2000,
    });
    const deployment = await client.getDeployment('shop', 'web');
    return deployment.spec.template.spec.containers[0]?.image;
  }

  const tokenFor = async (clusterName: string, credentials = CREDENTIALS, sessionToken?: string) =>
    (
      await createEksToken({
        clusterName,
        region: REGION,
        credentials: { ...credentials, ...(sessionToken ? { sessionToken } : {}) },
        now: SIGNED_AT,
      })
    ).token;

  it('accepts a token for its cluster, with or without a session token', async () => {
    await expect(readWith(await tokenFor('prod-eks'))).resolves.toBe('web:1');
    await expect(readWith(await tokenFor('prod-eks', CREDENTIALS, 'session/+token='))).resolves.toBe('web:1');
    expect(sim.authFailures).toEqual([]);
  });

  it('refuses a token signed for another cluster', async () => {
    await expect(readWith(await tokenFor('staging-eks'))).rejects.toBeInstanceOf(KubernetesUnauthorized);
    expect(sim.authFailures).toEqual([expect.stringMatching(/signature mismatch/)]);
  });

  it('refuses a token signed with another secret', async () => {
    const token = await tokenFor('prod-eks', { ...CREDENTIALS, secretAccessKey: 'not-the-secret' });
    await expect(readWith(token)).rejects.toThrow(
      /GET \/apis\/apps\/v1\/namespaces\/shop\/deployments\/web: 401 Unauthorized/,
    );
  });

  it('accepts a token up to 15 minutes old and refuses it after', async () => {
    const token = await tokenFor('prod-eks');
    serverTime = new Date(SIGNED_AT.getTime() + 15 * 60_000 - 1000);
    await expect(readWith(token)).resolves.toBe('web:1');
    serverTime = new Date(SIGNED_AT.getTime() + 15 * 60_000 + 1000);
    await expect(readWith(token)).rejects.toBeInstanceOf(KubernetesUnauthorized);
    expect(sim.authFailures).toEqual([expect.stringMatching(/token expired/)]);
  });

  it('refuses a presigned URL whose signature does not cover x-k8s-aws-id', async () => {
    const signer = new SignatureV4({
      service: 'sts',
      region: REGION,
      credentials: CREDENTIALS,
      sha256: Sha256,
    });
    const host = `sts.${REGION}.amazonaws.com`;
    const presigned = await signer.presign(
      {
        method: 'GET',
        protocol: 'https:',
        hostname: host,
        path: '/',
        query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
        headers: { host },
      },
      { signingDate: SIGNED_AT, expiresIn: 60 },
    );
    const query = new URLSearchParams(presigned.query as Record<string, string>).toString();
    const token = `k8s-aws-v1.${Buffer.from(`https://${host}/?${query}`).toString('base64url')}`;
    await expect(readWith(token)).rejects.toBeInstanceOf(KubernetesUnauthorized);
    expect(sim.authFailures).toEqual(['x-k8s-aws-id is not a signed header']);
  });

  it('refuses a request without a bearer token, and a padded token', async () => {
    await expect(readWith('')).rejects.toBeInstanceOf(KubernetesUnauthorized);
    await expect(readWith(`${await tokenFor('prod-eks')}==`)).rejects.toBeInstanceOf(KubernetesUnauthorized);
    expect(sim.authFailures).toEqual(['no bearer token', 'token is not unpadded base64url']);
  });

  it('in a China region, accepts a token for its .amazonaws.com.cn STS host and refuses one for amazonaws.com', async () => {
    const china = await startKubernetesApiServer({
      clusterName: 'prod-eks',
      region: 'cn-north-1',
      credentials: CREDENTIALS,
      now: () => serverTime,
    });
    try {
      china.addDeployment({ namespace: 'shop', name: 'web', revisions: [{ image: 'web:cn' }] });
      const read = (token: string) =>
        createKubernetesClient({
          endpoint: china.endpoint,
          caData: china.caData,
          token: async () => token,
          timeoutMs: 2000,
        }).getDeployment('shop', 'web');
      const signed = (region: string) =>
        createEksToken({ clusterName: 'prod-eks', region, credentials: CREDENTIALS, now: SIGNED_AT });
      await expect(read((await signed('cn-north-1')).token)).resolves.toMatchObject({
        metadata: { name: 'web' },
      });
      const global = await signed('eu-west-1');
      await expect(read(global.token)).rejects.toBeInstanceOf(KubernetesUnauthorized);
      expect(china.authFailures).toEqual([
        'token is for https://sts.eu-west-1.amazonaws.com/, not https://sts.cn-north-1.amazonaws.com.cn/',
      ]);
    } finally {
      await china.close();
    }
  });

  it('answers a refusal with a Kubernetes Status and never echoes the token in the error', async () => {
    const token = await tokenFor('staging-eks');
    const error = await readWith(token).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(KubernetesUnauthorized);
    expect((error as Error).message).not.toContain(token.slice(0, 20));
    expect(sim.requests).toEqual([expect.objectContaining({ method: 'GET', status: 401 })]);
  });
});
