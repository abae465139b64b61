import { request } from 'node:https';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEksToken } from '../../lambdas/kubernetes/token';
import { startKubernetesApiServer, type SimulatedKubernetesApi } from '../harness/kubernetes/server';

// The simulated API server's cert-manager Certificates, seen through plain HTTPS rather than our client, so the
// client's tests cannot pass on a simulator that agrees with it by accident.

const REGION = 'eu-west-1';
const CREDENTIALS = { accessKeyId: 'AKIDCERTMANAGERSIM', secretAccessKey: 'cert-manager-sim-secret' };
const USER = 'arn:aws:sts::111122223333:assumed-role/certificate-check/collect-cert-manager';
const CERTIFICATES = '/apis/cert-manager.io/v1/namespaces/shop/certificates';
const DAY_MS = 86_400_000;

let sim: SimulatedKubernetesApi;

beforeAll(async () => {
  sim = await startKubernetesApiServer({
    clusterName: 'prod-eks',
    region: REGION,
    credentials: CREDENTIALS,
    username: USER,
  });
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

interface Answer {
  status: number;
  contentType: string | undefined;
  text: string;
}

/** One GET with a valid token: the status, the content type and the body as sent. */
async function get(path: string): Promise<Answer> {
  const { token } = await createEksToken({
    clusterName: 'prod-eks',
    region: REGION,
    credentials: CREDENTIALS,
  });
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, sim.endpoint),
      {
        ca: Buffer.from(sim.caData, 'base64').toString('utf8'),
        agent: false,
        headers: { authorization: `Bearer ${token}` },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

interface ListBody {
  kind: string;
  apiVersion: string;
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: Array<{ metadata: { name: string; namespace: string } }>;
}

const listOf = (answer: Answer) => JSON.parse(answer.text) as ListBody;

describe('the simulated API server, on cert-manager Certificates', () => {
  it('lists a namespace in pages from one snapshot, as for any kind', async () => {
    for (const name of ['a', 'b', 'c']) sim.addCertificate({ namespace: 'shop', name });
    sim.addCertificate({ namespace: 'other', name: 'z' });

    const first = await get(`${CERTIFICATES}?limit=2`);
    expect(first.status).toBe(200);
    const page = listOf(first);
    expect(page).toMatchObject({
      kind: 'CertificateList',
      apiVersion: 'cert-manager.io/v1',
      metadata: { remainingItemCount: 1 },
    });
    expect(page.items.map((item) => item.metadata.name)).toEqual(['a', 'b']);

    sim.addCertificate({ namespace: 'shop', name: 'bb' }); // after the snapshot: not on the next page
    const next = listOf(
      await get(`${CERTIFICATES}?limit=2&continue=${encodeURIComponent(page.metadata.continue ?? '')}`),
    );
    expect(next.items.map((item) => item.metadata.name)).toEqual(['c']);
    expect(next.metadata.continue).toBeUndefined();
    expect(next.metadata.resourceVersion).toBe(page.metadata.resourceVersion);
    expect(listOf(await get(CERTIFICATES)).items).toHaveLength(4);
  });

  it('answers one Certificate by name, and 404 naming the group for one that does not exist', async () => {
    const notBefore = new Date('2026-01-01T00:00:00Z');
    const notAfter = new Date('2026-04-01T00:00:00Z');
    sim.addCertificate({
      namespace: 'shop',
      name: 'web',
      commonName: 'www.example.com',
      issued: { notBefore, notAfter },
    });

    const found = await get(`${CERTIFICATES}/web`);
    expect(found.status).toBe(200);
    expect(JSON.parse(found.text)).toMatchObject({
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: 'web', namespace: 'shop' },
      spec: {
        secretName: 'web-tls',
        commonName: 'www.example.com',
        dnsNames: ['web.example.com'],
        issuerRef: { name: 'letsencrypt-prod', kind: 'ClusterIssuer' },
      },
      status: {
        notBefore: '2026-01-01T00:00:00Z',
        notAfter: '2026-04-01T00:00:00Z',
        // Two thirds of the 90 days, as cert-manager's default renewBefore puts it.
        renewalTime: '2026-03-02T00:00:00Z',
        conditions: [
          expect.objectContaining({
            type: 'Ready',
            status: 'True',
            reason: 'Ready',
            message: 'Certificate is up to date and has not expired',
          }),
        ],
      },
    });

    const missing = await get(`${CERTIFICATES}/api`);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.text)).toMatchObject({
      kind: 'Status',
      reason: 'NotFound',
      message: 'certificates.cert-manager.io "api" not found',
      details: { name: 'api', group: 'cert-manager.io', kind: 'certificates' },
    });
  });

  it('writes status as cert-manager leaves it: none before it reconciles, no notAfter before it issues', async () => {
    sim.addCertificate({ namespace: 'shop', name: 'fresh', issued: null, ready: null });
    sim.addCertificate({ namespace: 'shop', name: 'pending', issued: null });
    sim.addCertificate({
      namespace: 'shop',
      name: 'failing',
      issuing: { status: 'False', reason: 'Failed', message: 'The certificate request has failed' },
      failedIssuanceAttempts: 2,
      lastFailureTime: new Date('2026-02-01T00:00:00Z'),
    });

    const { items } = JSON.parse((await get(CERTIFICATES)).text) as {
      items: Array<{ metadata: { name: string }; status?: { notAfter?: string } }>;
    };
    const byName = Object.fromEntries(items.map((item) => [item.metadata.name, item]));
    expect(byName.fresh).not.toHaveProperty('status');
    expect(byName.pending).toMatchObject({
      status: {
        conditions: [{ type: 'Ready', status: 'False', reason: 'DoesNotExist' }],
      },
    });
    expect(byName.pending).not.toHaveProperty('status.notAfter');
    expect(byName.failing).toMatchObject({
      status: {
        failedIssuanceAttempts: 2,
        lastFailureTime: '2026-02-01T00:00:00Z',
        conditions: [
          { type: 'Ready', status: 'True' },
          { type: 'Issuing', status: 'False', reason: 'Failed' },
        ],
      },
    });
    // The default: a 90-day certificate issued 30 days ago.
    const notAfter = Date.parse(byName.failing?.status?.notAfter ?? '');
    expect(Math.round((notAfter - Date.now()) / DAY_MS)).toBe(60);
  });

  it('refuses a denied resource with the 403 RBAC gives, naming the cert-manager.io group, and only there', async () => {
    sim.addCertificate({ namespace: 'shop', name: 'web' });
    sim.addCertificate({ namespace: 'payments', name: 'api' });
    sim.addDeployment({ namespace: 'shop', name: 'web', revisions: [{ image: 'web:1' }] });
    sim.denyAccess({ namespace: 'shop', resources: ['certificates'], verbs: ['list'] });

    const denied = await get(CERTIFICATES);
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.text)).toMatchObject({
      reason: 'Forbidden',
      message: `certificates.cert-manager.io is forbidden: User "${USER}" cannot list resource "certificates" in API group "cert-manager.io" in the namespace "shop"`,
    });
    expect((await get(`${CERTIFICATES}/web`)).status).toBe(200);
    expect((await get('/apis/cert-manager.io/v1/namespaces/payments/certificates')).status).toBe(200);
    expect((await get('/apis/apps/v1/namespaces/shop/deployments/web')).status).toBe(200);
  });

  it('without cert-manager: the Certificates are gone and the group answers 404 as plain text, after RBAC', async () => {
    sim.addCertificate({ namespace: 'shop', name: 'web' });
    sim.setCertManagerInstalled(false);

    const list = await get(CERTIFICATES);
    expect(list).toEqual({
      status: 404,
      contentType: 'text/plain; charset=utf-8',
      text: '404 page not found\n',
    });
    expect((await get(`${CERTIFICATES}/web`)).status).toBe(404);
    expect(() => sim.addCertificate({ namespace: 'shop', name: 'web' })).toThrow(
      /cert-manager is not installed/,
    );

    // Installing it again brings back the CRD, not the Certificates deleted with it.
    sim.setCertManagerInstalled(true);
    expect(listOf(await get(CERTIFICATES)).items).toEqual([]);

    sim.setCertManagerInstalled(false);
    sim.denyAccess({ namespace: 'shop' });
    expect((await get(CERTIFICATES)).status).toBe(403);

    sim.reset();
    expect((await get(CERTIFICATES)).status).toBe(200);
  });

  it('answers injected faults on Certificate paths like any other', async () => {
    sim.addCertificate({ namespace: 'shop', name: 'web' });
    sim.injectFault({ pathIncludes: '/certificates', status: 503 });
    expect((await get(CERTIFICATES)).status).toBe(503);
    expect((await get(CERTIFICATES)).status).toBe(200);
  });
});
