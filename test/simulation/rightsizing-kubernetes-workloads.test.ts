import { request } from 'node:https';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEksToken } from '../../lambdas/kubernetes/token';
import { startKubernetesApiServer, type SimulatedKubernetesApi } from '../harness/kubernetes/server';

// The workloads the right-sizing report reads, as the simulated API server serves them: Deployments (listed),
// StatefulSets and DaemonSets (apps/v1), HorizontalPodAutoscalers (autoscaling/v2), with their containers'
// requests and limits, paginated with limit/continue, RBAC denials and 404s. Seen through plain HTTPS, not our
// client, so a client cannot pass against a simulator that agrees with it by accident.

const REGION = 'eu-west-1';
const CREDENTIALS = { accessKeyId: 'AKIDWORKLOADSTEST', secretAccessKey: 'workloads-test-secret' };
const USER = 'arn:aws:sts::111122223333:assumed-role/platform-runbooks-rightsizing/collect';

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
  body: Record<string, unknown>;
  text: string;
}

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
        method: 'GET',
        ca: Buffer.from(sim.caData, 'base64').toString('utf8'),
        agent: false,
        headers: { authorization: `Bearer ${token}` },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // a plain-text answer
          }
          resolve({ status: res.statusCode ?? 0, body, text });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** What the tests read of a listed workload. */
interface Listed {
  metadata: { name: string };
  spec: { replicas?: number; template: { spec: { containers: Array<{ resources: unknown }> } } };
}
const items = (answer: Answer) => answer.body.items as Listed[];
const names = (answer: Answer) => items(answer).map((item) => item.metadata.name as string);

const API = {
  deployments: '/apis/apps/v1/namespaces/shop/deployments',
  statefulsets: '/apis/apps/v1/namespaces/shop/statefulsets',
  daemonsets: '/apis/apps/v1/namespaces/shop/daemonsets',
  hpas: '/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers',
};

const WEB = {
  name: 'web',
  image: 'web:1',
  resources: { requests: { cpu: '500m', memory: '512Mi' }, limits: { memory: '1Gi' } },
};

describe('the simulated API server, on the workloads right-sizing reads', () => {
  it('lists Deployments with their containers’ requests and limits as the API returns them', async () => {
    sim.addDeployment({ namespace: 'shop', name: 'web', revisions: [{ containers: [WEB] }], replicas: 4 });
    sim.addDeployment({ namespace: 'shop', name: 'bare', revisions: [{ image: 'bare:1' }] });
    sim.addDeployment({ namespace: 'other', name: 'elsewhere', revisions: [{ image: 'x:1' }] });
    const answer = await get(API.deployments);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ kind: 'DeploymentList', apiVersion: 'apps/v1' });
    expect(names(answer)).toEqual(['bare', 'web']);
    const web = items(answer)[1];
    expect(web?.spec.replicas).toBe(4);
    expect(web?.spec.template.spec.containers).toEqual([
      expect.objectContaining({
        name: 'web',
        image: 'web:1',
        resources: { requests: { cpu: '500m', memory: '512Mi' }, limits: { memory: '1Gi' } },
      }),
    ]);
    // A container without requests has an empty resources object, as a manifest without any leaves it.
    expect(items(answer)[0]?.spec.template.spec.containers[0]?.resources).toEqual({});
  });

  it('serves StatefulSets and DaemonSets, listed and by name, with their status', async () => {
    sim.addStatefulSet({ namespace: 'shop', name: 'db', containers: [WEB], replicas: 3 });
    sim.addDaemonSet({
      namespace: 'shop',
      name: 'agent',
      containers: [{ name: 'agent', image: 'a:1' }],
      nodes: 5,
    });
    const statefulSets = await get(API.statefulsets);
    expect(statefulSets.body).toMatchObject({ kind: 'StatefulSetList', apiVersion: 'apps/v1' });
    expect(items(statefulSets)[0]).toMatchObject({
      kind: 'StatefulSet',
      metadata: { name: 'db', namespace: 'shop' },
      spec: { replicas: 3, serviceName: 'db', selector: { matchLabels: { app: 'db' } } },
      status: { replicas: 3, readyReplicas: 3 },
    });
    expect(items(statefulSets)[0]?.spec.template.spec.containers[0]?.resources).toEqual(WEB.resources);
    const daemonSet = await get(`${API.daemonsets}/agent`);
    expect(daemonSet.body).toMatchObject({
      kind: 'DaemonSet',
      status: { desiredNumberScheduled: 5, numberReady: 5 },
    });
    expect(daemonSet.body.spec).not.toHaveProperty('replicas');
  });

  it('serves autoscaling/v2 HorizontalPodAutoscalers, and not autoscaling/v1', async () => {
    sim.addHorizontalPodAutoscaler({
      namespace: 'shop',
      name: 'web',
      target: { kind: 'Deployment', name: 'web' },
      minReplicas: 2,
      maxReplicas: 10,
      cpuUtilization: 70,
    });
    const answer = await get(API.hpas);
    expect(answer.body).toMatchObject({ kind: 'HorizontalPodAutoscalerList', apiVersion: 'autoscaling/v2' });
    expect(items(answer)[0]).toMatchObject({
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
        minReplicas: 2,
        maxReplicas: 10,
        metrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
          },
        ],
      },
      status: { currentReplicas: 2, desiredReplicas: 2 },
    });
    const v1 = await get('/apis/autoscaling/v1/namespaces/shop/horizontalpodautoscalers');
    expect(v1.status).toBe(404);
    expect(v1.body).toMatchObject({ kind: 'Status', reason: 'NotFound' });
  });

  it('paginates each list with limit and continue from one snapshot, as the API server does', async () => {
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      sim.addStatefulSet({ namespace: 'shop', name, containers: [WEB] });
      sim.addDeployment({ namespace: 'shop', name, revisions: [{ containers: [WEB] }] });
    }
    for (const path of [API.statefulsets, API.deployments]) {
      const first = await get(`${path}?limit=2`);
      expect(names(first)).toEqual(['a', 'b']);
      const metadata = first.body.metadata as { continue: string; remainingItemCount: number };
      expect(metadata.remainingItemCount).toBe(3);
      // A workload added between pages is not in this list: the pages read the first page's snapshot.
      sim.addStatefulSet({ namespace: 'shop', name: `bb-${path.length}`, containers: [WEB] });
      const second = await get(`${path}?limit=2&continue=${encodeURIComponent(metadata.continue)}`);
      expect(names(second)).toEqual(['c', 'd']);
      const rest = await get(
        `${path}?limit=2&continue=${encodeURIComponent((second.body.metadata as { continue: string }).continue)}`,
      );
      expect(names(rest)).toEqual(['e']);
      expect(rest.body.metadata).not.toHaveProperty('continue');
    }
    expect((await get(`${API.hpas}?continue=garbage`)).status).toBe(400);
  });

  it('refuses a denied list with the RBAC message, in the denied namespace only', async () => {
    sim.addDaemonSet({ namespace: 'shop', name: 'agent', containers: [WEB] });
    sim.denyAccess({ resources: ['horizontalpodautoscalers', 'daemonsets'], namespace: 'shop' });
    expect(await get(API.hpas)).toMatchObject({
      status: 403,
      body: {
        reason: 'Forbidden',
        message: `horizontalpodautoscalers.autoscaling is forbidden: User "${USER}" cannot list resource "horizontalpodautoscalers" in API group "autoscaling" in the namespace "shop"`,
      },
    });
    expect((await get(`${API.daemonsets}/agent`)).body).toMatchObject({
      code: 403,
      message: expect.stringContaining('cannot get resource "daemonsets" in API group "apps"'),
    });
    expect((await get(API.statefulsets)).status).toBe(200);
    expect((await get('/apis/autoscaling/v2/namespaces/payments/horizontalpodautoscalers')).status).toBe(200);
  });

  it('answers 404 for a workload that is not there, naming its group', async () => {
    expect(await get(`${API.statefulsets}/missing`)).toMatchObject({
      status: 404,
      body: {
        reason: 'NotFound',
        message: 'statefulsets.apps "missing" not found',
        details: { name: 'missing', group: 'apps', kind: 'statefulsets' },
      },
    });
    expect((await get(`${API.hpas}/missing`)).body).toMatchObject({
      message: 'horizontalpodautoscalers.autoscaling "missing" not found',
    });
  });

  it('forgets StatefulSets, DaemonSets and HPAs on reset', async () => {
    sim.addStatefulSet({ namespace: 'shop', name: 'db', containers: [WEB] });
    sim.reset();
    expect(items(await get(API.statefulsets))).toEqual([]);
  });
});
