// The canary's Kubernetes calls, the thin client against the simulated API server over HTTPS: the routers' own
// patches (lambdas/canary/routers) sent as they are and read back, a hand edit between our read and our write
// refused as a conflict, and the failures the workflow routes on.
import { request } from 'node:https';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { KubernetesClient } from '../../lambdas/kubernetes/client';
import {
  KubernetesApiError,
  KubernetesConflict,
  KubernetesForbidden,
  KubernetesInvalidResponse,
  KubernetesNotFound,
} from '../../lambdas/kubernetes/errors';
import {
  albActionAnnotationKey,
  albConfiguredWeight,
  albForwardAction,
  albRouter,
  albWeightPatch,
  type AlbRouterSettings,
} from '../../lambdas/canary/routers/alb';
import {
  gatewayConfiguredWeight,
  gatewayObservedWeight,
  gatewayWeightPatch,
  routeAcceptance,
  type GatewayRouterSettings,
} from '../../lambdas/canary/routers/gateway-api';
import {
  replicaRatioChanges,
  replicaRatioConfiguredWeight,
  replicaRatioObservedWeight,
  type ReplicaRatioSettings,
} from '../../lambdas/canary/routers/replica-ratio';
import { checkDrift, type Observed } from '../../lambdas/canary/routers/router';
import { createEksToken } from '../../lambdas/kubernetes/token';
import { clientForSimulatedApi } from '../harness/kubernetes-test-client';
import { startKubernetesApiServer, type SimulatedKubernetesApi } from '../harness/kubernetes/server';

const REGION = 'eu-west-1';
const CREDENTIALS = { accessKeyId: 'AKIDCANARYTEST', secretAccessKey: 'canary-test-secret' };
const USER = 'arn:aws:sts::111122223333:assumed-role/platform-runbooks-kubernetes/runbook';
const INGRESS_PATH = '/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web';
const ROUTE_PATH = '/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/web';

const ALB: AlbRouterSettings = {
  actionName: 'web-canary',
  stable: { serviceName: 'web-stable', servicePort: 80 },
  canary: { serviceName: 'web-canary', servicePort: 80 },
};
const GATEWAY: GatewayRouterSettings = {
  stable: { name: 'web-stable', port: 80 },
  canary: { name: 'web-canary' },
};
const RATIO: ReplicaRatioSettings = {
  stableDeployment: 'web',
  canaryDeployment: 'web-canary',
  totalReplicas: 10,
};

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof Error)) throw new Error('expected the call to fail');
  return outcome;
}

const weight = (observed: Observed): number | string =>
  observed.state === 'weight' ? observed.weight : `${observed.state}: ${observed.reason}`;

describe('the canary through the Kubernetes client, against the simulated API server', () => {
  let sim: SimulatedKubernetesApi;
  let client: KubernetesClient;

  beforeAll(async () => {
    sim = await startKubernetesApiServer({
      clusterName: 'prod-eks',
      region: REGION,
      credentials: CREDENTIALS,
    });
    client = clientForSimulatedApi(sim, CREDENTIALS, { region: REGION });
  });
  afterAll(() => sim.close());
  beforeEach(() => {
    sim.reset();
    sim.addIngress({
      namespace: 'shop',
      name: 'web',
      annotations: {
        'alb.ingress.kubernetes.io/scheme': 'internet-facing',
        [albActionAnnotationKey(ALB.actionName)]: JSON.stringify(albForwardAction(ALB, 0)),
      },
      backends: [{ service: ALB.actionName, port: 'use-annotation' }],
    });
    sim.addHttpRoute({
      namespace: 'shop',
      name: 'web',
      rules: [{ backendRefs: [{ name: 'web-stable', port: 80 }] }],
    });
  });

  describe('the ALB router: the Ingress action annotation', () => {
    it('reads the Ingress, patches the weight the router asks for, and reads it back', async () => {
      const before = await client.getIngress('shop', 'web');
      expect(before.metadata).toMatchObject({ name: 'web', namespace: 'shop', generation: 1 });
      expect(weight(albConfiguredWeight(before, ALB))).toBe(0);

      const patched = await client.patchIngress('shop', 'web', albWeightPatch(before, ALB, 20));
      expect(weight(albConfiguredWeight(patched, ALB))).toBe(20);
      // An annotation is metadata: the Ingress strategy bumps the generation on spec changes only.
      expect(patched.metadata.generation).toBe(1);
      expect(Number(patched.metadata.resourceVersion)).toBeGreaterThan(
        Number(before.metadata.resourceVersion),
      );
      expect(patched.metadata.annotations?.['alb.ingress.kubernetes.io/scheme']).toBe('internet-facing');
      expect(patched.spec).toMatchObject({ ingressClassName: 'alb' });

      const again = await client.getIngress('shop', 'web');
      expect(weight(albConfiguredWeight(again, ALB))).toBe(20);
      expect(checkDrift(albRouter(ALB), again, 20)).toEqual({ state: 'unchanged' });
      expect(sim.requests.map((request) => `${request.method} ${request.status}`)).toEqual([
        'GET 200',
        'PATCH 200',
        'GET 200',
      ]);
    });

    it('adds the annotation to an Ingress that has none', async () => {
      sim.editIngress('shop', 'web', (ingress) => {
        Reflect.deleteProperty(ingress.metadata, 'annotations');
      });
      const before = await client.getIngress('shop', 'web');
      const patched = await client.patchIngress('shop', 'web', albWeightPatch(before, ALB, 5));
      expect(weight(albConfiguredWeight(patched, ALB))).toBe(5);
    });

    it('a hand edit between our read and our write is a KubernetesConflict, and the edit stays', async () => {
      const read = await client.getIngress('shop', 'web');
      const edited = JSON.stringify(albForwardAction(ALB, 50));
      sim.editIngress('shop', 'web', (ingress) => {
        (ingress.metadata.annotations ??= {})[albActionAnnotationKey(ALB.actionName)] = edited;
      });
      const error = await failureOf(client.patchIngress('shop', 'web', albWeightPatch(read, ALB, 20)));
      expect(error).toBeInstanceOf(KubernetesConflict);
      expect(error.name).toBe('KubernetesConflict');
      expect(error.message).toBe(
        `PATCH ${INGRESS_PATH}: 422 Testing value /metadata/annotations/alb.ingress.kubernetes.io~1actions.web-canary failed`,
      );
      expect(
        sim.getIngress('shop', 'web')?.metadata.annotations?.[albActionAnnotationKey(ALB.actionName)],
      ).toBe(edited);
    });

    it('an annotation removed by hand between our read and our write is a KubernetesConflict too', async () => {
      const read = await client.getIngress('shop', 'web');
      sim.editIngress('shop', 'web', (ingress) => {
        Reflect.deleteProperty(ingress.metadata.annotations ?? {}, albActionAnnotationKey(ALB.actionName));
      });
      const error = await failureOf(client.patchIngress('shop', 'web', albWeightPatch(read, ALB, 20)));
      expect(error).toBeInstanceOf(KubernetesConflict);
      expect(error.message).toMatch(/^PATCH .*: 422 test operation does not apply: is missing path: /);
    });

    it('answers the failed test as the real API server does: 422, a Status with reason Invalid', async () => {
      const read = await client.getIngress('shop', 'web');
      sim.editIngress('shop', 'web', (ingress) => {
        (ingress.metadata.annotations ??= {})[albActionAnnotationKey(ALB.actionName)] = '{}';
      });
      const answer = await rawPatch(sim, INGRESS_PATH, albWeightPatch(read, ALB, 20));
      expect(answer.status).toBe(422);
      expect(answer.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Invalid', code: 422 });
    });

    it('a missing Ingress is KubernetesNotFound', async () => {
      const error = await failureOf(client.getIngress('shop', 'api'));
      expect(error).toBeInstanceOf(KubernetesNotFound);
      expect(error.message).toBe(
        'GET /apis/networking.k8s.io/v1/namespaces/shop/ingresses/api: 404 ingresses.networking.k8s.io "api" not found',
      );
    });

    it('a PATCH the access policy does not allow is KubernetesForbidden naming AmazonEKSEditPolicy', async () => {
      sim.denyAccess({ verbs: ['patch'], resources: ['ingresses'], namespace: 'shop' });
      const read = await client.getIngress('shop', 'web');
      const error = await failureOf(client.patchIngress('shop', 'web', albWeightPatch(read, ALB, 20)));
      expect(error).toBeInstanceOf(KubernetesForbidden);
      expect(error.message).toBe(
        `PATCH ${INGRESS_PATH}: 403 ingresses.networking.k8s.io "web" is forbidden: User "${USER}" cannot patch ` +
          `resource "ingresses" in API group "networking.k8s.io" in the namespace "shop". The role (${USER}) lacks ` +
          'an EKS access entry or access policy that allows patch on ingresses.networking.k8s.io in namespace ' +
          `shop of the cluster at ${sim.endpoint}: its access entry needs AmazonEKSEditPolicy (the canary patches ` +
          'the Ingress), associated with a namespace scope that includes shop (aws eks ' +
          'list-associated-access-policies --cluster-name <cluster> --principal-arn <role ARN>).',
      );
      expect(weight(albConfiguredWeight(sim.getIngress('shop', 'web') ?? read, ALB))).toBe(0);
    });

    it('a malformed answer is KubernetesInvalidResponse naming the field', async () => {
      sim.injectFault({
        pathIncludes: '/ingresses/web',
        body: { kind: 'Ingress', metadata: { name: 'web' } },
      });
      const error = await failureOf(client.getIngress('shop', 'web'));
      expect(error).toBeInstanceOf(KubernetesInvalidResponse);
      expect(error.message).toMatch(/^GET .*ingresses\/web answer is malformed: .*metadata\.namespace/);
    });
  });

  describe('the Gateway API router: the HTTPRoute backendRefs and status', () => {
    it('patches the weights, bumps the generation, and counts only once the Gateway accepts it', async () => {
      sim.setHttpRouteStatus('shop', 'web', { accepted: true });
      const before = await client.getHttpRoute('shop', 'web');
      expect(before.metadata.generation).toBe(1);
      expect(routeAcceptance(before)).toEqual({ state: 'accepted' });
      expect(weight(gatewayObservedWeight(before, GATEWAY))).toBe(0);

      const patched = await client.patchHttpRoute('shop', 'web', gatewayWeightPatch(before, GATEWAY, 20));
      expect(patched.metadata.generation).toBe(2);
      expect(patched.spec.rules?.[0]?.backendRefs).toEqual([
        expect.objectContaining({ name: 'web-stable', port: 80, weight: 80 }),
        expect.objectContaining({ name: 'web-canary', port: 80, weight: 20 }),
      ]);
      expect(weight(gatewayConfiguredWeight(patched, GATEWAY))).toBe(20);
      // The status still describes generation 1: the controller has not caught up.
      expect(gatewayObservedWeight(patched, GATEWAY)).toMatchObject({ state: 'pending' });

      sim.setHttpRouteStatus('shop', 'web', { accepted: true });
      const accepted = await client.getHttpRoute('shop', 'web');
      expect(accepted.metadata.generation).toBe(2);
      expect(
        accepted.status?.parents?.[0]?.conditions?.map((c) => [c.type, c.status, c.observedGeneration]),
      ).toEqual([
        ['Accepted', 'True', 2],
        ['ResolvedRefs', 'True', 2],
      ]);
      expect(weight(gatewayObservedWeight(accepted, GATEWAY))).toBe(20);

      // The next step tests the weights it read (now explicit) and sets new ones.
      const next = await client.patchHttpRoute('shop', 'web', gatewayWeightPatch(accepted, GATEWAY, 50));
      expect(next.metadata.generation).toBe(3);
      expect(weight(gatewayConfiguredWeight(next, GATEWAY))).toBe(50);
    });

    it('a route the Gateway rejects reads as rejected, with its reason', async () => {
      sim.setHttpRouteStatus('shop', 'web', {
        accepted: false,
        condition: 'ResolvedRefs',
        reason: 'BackendNotFound',
        message: 'Service shop/web-canary not found',
      });
      const route = await client.getHttpRoute('shop', 'web');
      expect(routeAcceptance(route)).toEqual({
        state: 'rejected',
        reason:
          'Gateway eg (gateway.envoyproxy.io/gatewayclass-controller): ResolvedRefs is False (BackendNotFound: Service shop/web-canary not found)',
      });
    });

    it('a status change moves the resourceVersion but not the generation; a PATCH cannot write status', async () => {
      const before = await client.getHttpRoute('shop', 'web');
      sim.setHttpRouteStatus('shop', 'web', { accepted: true });
      const after = await client.getHttpRoute('shop', 'web');
      expect(after.metadata.generation).toBe(before.metadata.generation);
      expect(after.metadata.resourceVersion).not.toBe(before.metadata.resourceVersion);
      const patched = await client.patchHttpRoute('shop', 'web', [{ op: 'remove', path: '/status' }]);
      expect(patched.status?.parents).toHaveLength(1);
      expect(patched.metadata.resourceVersion).toBe(after.metadata.resourceVersion);
    });

    it('a backendRef reordered by hand between our read and our write is a KubernetesConflict', async () => {
      sim.editHttpRoute('shop', 'web', (route) => {
        route.spec.rules?.[0]?.backendRefs?.push({ name: 'web-canary', port: 80, weight: 0 });
      });
      const read = await client.getHttpRoute('shop', 'web');
      sim.editHttpRoute('shop', 'web', (route) => {
        route.spec.rules?.[0]?.backendRefs?.reverse();
      });
      const error = await failureOf(
        client.patchHttpRoute('shop', 'web', gatewayWeightPatch(read, GATEWAY, 20)),
      );
      expect(error).toBeInstanceOf(KubernetesConflict);
      expect(error.message).toBe(
        `PATCH ${ROUTE_PATH}: 422 Testing value /spec/rules/0/backendRefs/0/name failed`,
      );
      expect(sim.getHttpRoute('shop', 'web')?.spec.rules?.[0]?.backendRefs?.map((ref) => ref.weight)).toEqual(
        [0, undefined],
      );
    });

    it('a backendRef removed by hand between our read and our write is a KubernetesConflict', async () => {
      sim.editHttpRoute('shop', 'web', (route) => {
        route.spec.rules?.[0]?.backendRefs?.push({ name: 'web-canary', port: 80, weight: 0 });
      });
      const read = await client.getHttpRoute('shop', 'web');
      sim.editHttpRoute('shop', 'web', (route) => {
        route.spec.rules?.[0]?.backendRefs?.pop();
      });
      const error = await failureOf(
        client.patchHttpRoute('shop', 'web', gatewayWeightPatch(read, GATEWAY, 20)),
      );
      expect(error).toBeInstanceOf(KubernetesConflict);
    });

    it('a weight the CRD refuses is a KubernetesApiError 422, not a conflict', async () => {
      const error = await failureOf(
        client.patchHttpRoute('shop', 'web', [
          { op: 'add', path: '/spec/rules/0/backendRefs/0/weight', value: -1 },
        ]),
      );
      expect(error).toBeInstanceOf(KubernetesApiError);
      expect((error as KubernetesApiError).status).toBe(422);
      expect(error.message).toMatch(
        /HTTPRoute\.gateway\.networking\.k8s\.io "web" is invalid: spec\.rules\.0\.backendRefs\.0\.weight/,
      );
    });

    it('a missing route is KubernetesNotFound', async () => {
      const error = await failureOf(client.getHttpRoute('shop', 'api'));
      expect(error).toBeInstanceOf(KubernetesNotFound);
      expect(error.message).toBe(
        'GET /apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/api: 404 httproutes.gateway.networking.k8s.io "api" not found',
      );
    });

    it('a cluster without the Gateway API CRDs is KubernetesNotFound saying so', async () => {
      sim.setGatewayApiInstalled(false);
      const error = await failureOf(client.getHttpRoute('shop', 'web'));
      expect(error).toBeInstanceOf(KubernetesNotFound);
      expect(error.message).toBe(
        `GET ${ROUTE_PATH}: 404: the cluster at ${sim.endpoint} does not serve the Gateway API HTTPRoute resource ` +
          '(httproutes.gateway.networking.k8s.io, version v1): the Gateway API CRDs are not installed there, or ' +
          'their release does not serve v1 (1.0 and later do). Check with kubectl get crd ' +
          `httproutes.gateway.networking.k8s.io against the cluster at ${sim.endpoint}.`,
      );
    });

    it('a 403 says that Gateway API needs Kubernetes RBAC, not an access policy', async () => {
      sim.denyAccess({ verbs: ['patch'], resources: ['httproutes'] });
      const read = await client.getHttpRoute('shop', 'web');
      const error = await failureOf(
        client.patchHttpRoute('shop', 'web', gatewayWeightPatch(read, GATEWAY, 5)),
      );
      expect(error).toBeInstanceOf(KubernetesForbidden);
      expect(error.message).toContain(
        `403 httproutes.gateway.networking.k8s.io "web" is forbidden: User "${USER}" cannot patch resource "httproutes"`,
      );
      expect(error.message).toContain(
        'lacks Kubernetes RBAC that allows patch on httproutes.gateway.networking.k8s.io in namespace shop',
      );
      expect(error.message).toContain(
        'kubectl create role <name> -n shop --verb=get,patch --resource=httproutes.gateway.networking.k8s.io',
      );
    });

    it('a malformed answer is KubernetesInvalidResponse', async () => {
      sim.injectFault({
        method: 'PATCH',
        pathIncludes: '/httproutes/web',
        body: {
          kind: 'HTTPRoute',
          metadata: { name: 'web', namespace: 'shop', uid: 'u', resourceVersion: '1' },
        },
      });
      const read = await client.getHttpRoute('shop', 'web');
      const error = await failureOf(
        client.patchHttpRoute('shop', 'web', gatewayWeightPatch(read, GATEWAY, 5)),
      );
      expect(error).toBeInstanceOf(KubernetesInvalidResponse);
      expect(error.message).toMatch(/^PATCH .*httproutes\/web answer is malformed: .*spec/);
    });
  });

  describe('the replica-ratio router: Deployment replicas', () => {
    beforeEach(() => {
      sim.addDeployment({ namespace: 'shop', name: 'web', revisions: [{ image: 'web:1' }], replicas: 10 });
      sim.addDeployment({
        namespace: 'shop',
        name: 'web-canary',
        revisions: [{ image: 'web:2' }],
        replicas: 0,
      });
    });

    const pair = async () => ({
      stable: await client.getDeployment('shop', 'web'),
      canary: await client.getDeployment('shop', 'web-canary'),
    });

    it("scales both Deployments with the router's guarded patches, through patchDeployment", async () => {
      const changes = replicaRatioChanges(await pair(), RATIO, 20);
      expect(changes.map((change) => [change.name, change.replicas])).toEqual([
        ['web-canary', 2],
        ['web', 8],
      ]);
      for (const change of changes) {
        const patched = await client.patchDeployment('shop', change.name, change.patch);
        expect(patched.spec.replicas).toBe(change.replicas);
      }
      const after = await pair();
      expect(weight(replicaRatioConfiguredWeight(after, RATIO))).toBe(20);
      // Read until both controllers have settled (the simulated rollout completes after a few reads).
      let observed = replicaRatioObservedWeight(after);
      for (let read = 0; read < 5 && observed.state === 'pending'; read += 1)
        observed = replicaRatioObservedWeight(await pair());
      expect(weight(observed)).toBe(20);
    });

    it('a scale by someone else between our read and our write is a KubernetesConflict', async () => {
      const [first] = replicaRatioChanges(await pair(), RATIO, 20);
      if (!first) throw new Error('expected a change');
      await client.patchDeployment('shop', first.name, [{ op: 'replace', path: '/spec/replicas', value: 1 }]);
      const error = await failureOf(client.patchDeployment('shop', first.name, first.patch));
      expect(error).toBeInstanceOf(KubernetesConflict);
      expect(error.message).toBe(
        'PATCH /apis/apps/v1/namespaces/shop/deployments/web-canary: 422 Testing value /spec/replicas failed',
      );
    });
  });
});

/** A PATCH sent without the client, to see the server's answer as it is. */
async function rawPatch(
  sim: SimulatedKubernetesApi,
  path: string,
  ops: unknown,
): Promise<{ status: number; body: unknown }> {
  const { token } = await createEksToken({
    clusterName: 'prod-eks',
    region: REGION,
    credentials: CREDENTIALS,
  });
  const body = JSON.stringify(ops);
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, sim.endpoint),
      {
        method: 'PATCH',
        ca: Buffer.from(sim.caData, 'base64').toString('utf8'),
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json-patch+json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
