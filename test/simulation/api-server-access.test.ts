import { request } from 'node:https';
import { connect, type PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEksToken } from '../../lambdas/kubernetes/token';
import { startKubernetesApiServer, type SimulatedKubernetesApi } from '../harness/kubernetes/server';

// The simulated API server's access model and certificates, seen through plain HTTPS and TLS rather than our
// client, so the client's tests cannot pass on a simulator that agrees with it by accident.

const REGION = 'eu-west-1';
const CREDENTIALS = { accessKeyId: 'AKIDACCESSTEST', secretAccessKey: 'access-test-secret' };
const USER = 'arn:aws:sts::111122223333:assumed-role/checkout-runbooks/prepare';
const DEPLOYMENT = '/apis/apps/v1/namespaces/shop/deployments/web';

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
beforeEach(() => {
  sim.reset();
  sim.addDeployment({ namespace: 'shop', name: 'web', revisions: [{ image: 'web:1' }] });
});

/** One request with a valid token; the status and the parsed body. */
async function send(method: string, path: string, body?: string): Promise<{ status: number; body: unknown }> {
  const { token } = await createEksToken({
    clusterName: 'prod-eks',
    region: REGION,
    credentials: CREDENTIALS,
  });
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, sim.endpoint),
      {
        method,
        ca: Buffer.from(sim.caData, 'base64').toString('utf8'),
        agent: false,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json-patch+json' }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The certificate the server presents to a client that trusts anything. */
function presented(): Promise<PeerCertificate> {
  const { port } = new URL(sim.endpoint);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: Number(port), rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.on('error', reject);
  });
}

const LABEL = JSON.stringify([{ op: 'add', path: '/metadata/labels/x', value: 'y' }]);

describe('the simulated API server, on access', () => {
  it('answers 401 to a valid token when the role has no access entry, as EKS does', async () => {
    sim.setAccessEntry(false);
    const answer = await send('GET', DEPLOYMENT);
    expect(answer).toMatchObject({
      status: 401,
      body: { kind: 'Status', reason: 'Unauthorized', code: 401 },
    });
    expect(sim.authFailures).toEqual(['the role has no access entry']);
  });

  it('answers 403 to a denied verb with the Status Kubernetes gives, naming the user', async () => {
    sim.denyAccess({ verbs: ['patch'], namespace: 'shop' });
    expect((await send('GET', DEPLOYMENT)).status).toBe(200);
    expect(await send('PATCH', DEPLOYMENT, LABEL)).toEqual({
      status: 403,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `deployments.apps "web" is forbidden: User "${USER}" cannot patch resource "deployments" in API group "apps" in the namespace "shop"`,
        reason: 'Forbidden',
        details: { name: 'web', group: 'apps', kind: 'deployments' },
        code: 403,
      },
    });
    expect(sim.getDeployment('shop', 'web')?.metadata.labels?.x).toBeUndefined();
  });

  it('words a denied list without a name, and denies only in the namespace given', async () => {
    sim.denyAccess({ namespace: 'shop' });
    const list = await send('GET', '/apis/apps/v1/namespaces/shop/replicasets?labelSelector=app%3Dweb');
    expect(list).toMatchObject({
      status: 403,
      body: {
        message: `replicasets.apps is forbidden: User "${USER}" cannot list resource "replicasets" in API group "apps" in the namespace "shop"`,
      },
    });
    sim.reset();
    sim.denyAccess({ namespace: 'payments' });
    expect((await send('GET', '/apis/apps/v1/namespaces/shop/replicasets')).status).toBe(200);
  });

  it('restores the access entry and the access policy on reset', async () => {
    sim.setAccessEntry(false);
    sim.denyAccess({});
    sim.reset();
    sim.addDeployment({ namespace: 'shop', name: 'web', revisions: [{ image: 'web:1' }] });
    expect((await send('GET', DEPLOYMENT)).status).toBe(200);
  });
});

describe('the simulated API server, on certificates', () => {
  it("presents its own, from the cluster's CA, for 127.0.0.1", async () => {
    const certificate = await presented();
    expect(certificate.issuer.CN).toBe('simulated-eks-ca');
    expect(certificate.subjectaltname).toBe('IP Address:127.0.0.1');
  });

  it("presents another CA's certificate for its address, as a TLS-intercepting proxy does", async () => {
    await sim.presentCertificate('foreign-ca');
    const certificate = await presented();
    expect(certificate.issuer.CN).toBe('tls-inspecting-proxy-ca');
    expect(certificate.subjectaltname).toBe('IP Address:127.0.0.1');
  });

  it("presents the cluster CA's certificate for another host", async () => {
    await sim.presentCertificate('wrong-host');
    const certificate = await presented();
    expect(certificate.issuer.CN).toBe('simulated-eks-ca');
    expect(certificate.subjectaltname).toBe('DNS:kube-apiserver.other-cluster.example');
  });

  it('presents its own again after reset', async () => {
    await sim.presentCertificate('foreign-ca');
    sim.reset();
    expect((await presented()).issuer.CN).toBe('simulated-eks-ca');
  });
});
