// The canary's `traffic` Lambda, its handler as deployed (cluster access from the environment, EKS DescribeCluster
// answered by a mock pointing at the simulated API server, tokens signed and checked), for each router: the next
// step's weight after the drift check, all traffic back to stable whatever a person wrote, promotion of the
// canary's pod template onto stable, the canary scaled to zero; each idempotent, each write guarded.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { KubernetesClient } from '../../lambdas/kubernetes/client';
import { KubernetesConflict } from '../../lambdas/kubernetes/errors';
import {
  albActionAnnotationKey,
  albConfiguredWeight,
  albForwardAction,
} from '../../lambdas/canary/routers/alb';
import { gatewayConfiguredWeight } from '../../lambdas/canary/routers/gateway-api';
import { RouterMismatch, TrafficEditedByHand } from '../../lambdas/canary/routers/router';
import { InvalidCanaryRun, type CanaryRun } from '../../lambdas/canary/run';
import {
  CanaryChangedDuringRun,
  changeTraffic,
  readTrafficRequest,
  type TrafficResult,
} from '../../lambdas/canary/traffic';
import { clusterAccessFromEnvironment } from '../../lambdas/kubernetes/lambda-cluster-access';
import type { SimulatedKubernetesApi } from '../harness/kubernetes/server';
import {
  ALB,
  ALB_SETTINGS,
  addStableAndCanary,
  failureOf,
  GATEWAY,
  RATIO,
  simulatedRun,
  startSimulatedCluster,
  type SimulatedCluster,
} from './canary-fixtures';

const GATEWAY_SETTINGS = { stable: { name: 'web-stable', port: 80 }, canary: { name: 'web-canary' } };

describe('the canary traffic handler, against the simulated API server', () => {
  let cluster: SimulatedCluster;
  let sim: SimulatedKubernetesApi;
  /** The test's own client: seeds what a person or a controller would write. */
  let kubectl: KubernetesClient;
  let handler: (event: unknown) => Promise<TrafficResult>;
  let deployedHandler: (event: unknown) => Promise<CanaryRun>;

  beforeAll(async () => {
    cluster = await startSimulatedCluster();
    ({ sim, kubectl } = cluster);
    // The domain function, whose answer carries the detail; the deployed handler answers the run alone (below).
    const kubernetes = clusterAccessFromEnvironment();
    handler = async (event) =>
      changeTraffic(readTrafficRequest(event), { kubernetes, now: () => new Date() });
    ({ handler: deployedHandler } = await import('../../lambdas/canary/handlers/traffic'));
  });
  afterAll(async () => {
    await cluster.close();
  });
  beforeEach(() => {
    sim.reset();
    addStableAndCanary(sim);
    sim.addIngress({
      namespace: 'shop',
      name: 'web',
      annotations: {
        'alb.ingress.kubernetes.io/scheme': 'internet-facing',
        [albActionAnnotationKey('web-canary')]: JSON.stringify(albForwardAction(ALB_SETTINGS, 0)),
      },
      backends: [{ service: 'web-canary', port: 'use-annotation' }],
    });
    sim.addHttpRoute({
      namespace: 'shop',
      name: 'web',
      rules: [{ backendRefs: [{ name: 'web-stable', port: 80 }] }],
    });
  });

  const requests = (method?: string) =>
    sim.requests
      .filter((request) => method === undefined || request.method === method)
      .map(
        (request) =>
          `${request.method} ${request.path.replace(/^\/apis\/[^/]+\/v1\/namespaces\/shop\//, '')} ${request.status}`,
      );
  const ingressWeight = () => {
    const ingress = sim.getIngress('shop', 'web');
    if (!ingress) throw new Error('the Ingress is gone');
    const configured = albConfiguredWeight(ingress, ALB_SETTINGS);
    return configured.state === 'weight' ? configured.weight : configured.reason;
  };
  const replicas = (name: string) => sim.getDeployment('shop', name)?.spec.replicas;

  describe('with the ALB router', () => {
    it('shifts to the next step: the annotation gets its weight, the run its step, weight and time', async () => {
      const before = Date.now();
      const result = await handler({ action: 'shift', run: simulatedRun(ALB) });

      expect(ingressWeight()).toBe(5);
      expect(result.run).toMatchObject({ stepIndex: 0, weight: 5 });
      expect(Date.parse(result.run.weightSetAt ?? '')).toBeGreaterThanOrEqual(before - 1000);
      expect(result.at).toBe(result.run.weightSetAt);
      expect(result.detail).toBe("Ingress shop/web: the canary's weight set to 5 % (step 1 of 4), from 0 %");
      expect(result.generation).toBeUndefined();
      expect(requests()).toEqual(['GET ingresses/web 200', 'PATCH ingresses/web 200']);
      // The annotation's other keys are the Ingress's own.
      expect(sim.getIngress('shop', 'web')?.metadata.annotations?.['alb.ingress.kubernetes.io/scheme']).toBe(
        'internet-facing',
      );
    });

    it('takes a retried invocation that finds the weight already set as done, without writing', async () => {
      const run = simulatedRun(ALB);
      const first = await handler({ action: 'shift', run });
      const again = await handler({ action: 'shift', run });

      expect(ingressWeight()).toBe(5);
      expect(again.run).toMatchObject({ stepIndex: 0, weight: 5 });
      expect(again.detail).toBe(
        'Ingress shop/web already gives the canary 5 % (step 1 of 4): nothing to change',
      );
      expect(first.run.weight).toBe(5);
      expect(requests('PATCH')).toEqual(['PATCH ingresses/web 200']);
    });

    it('refuses to shift over a hand edit: TrafficEditedByHand naming both weights, and the edit stays', async () => {
      sim.editIngress('shop', 'web', (ingress) => {
        (ingress.metadata.annotations ??= {})[albActionAnnotationKey('web-canary')] = JSON.stringify(
          albForwardAction(ALB_SETTINGS, 50),
        );
      });
      const error = await failureOf(
        handler({ action: 'shift', run: simulatedRun(ALB, { stepIndex: 0, weight: 5 }) }),
      );

      expect(error).toBeInstanceOf(TrafficEditedByHand);
      expect(error.name).toBe('TrafficEditedByHand');
      expect(error.message).toBe(
        'Ingress shop/web: the spec gives the canary 50 %, but the runbook last set 5 %. Someone changed the ' +
          "split by hand since the runbook set it; the run stops rather than overwrite a person's decision.",
      );
      expect(ingressWeight()).toBe(50);
      expect(requests('PATCH')).toEqual([]);
    });

    it('retries a conflicting write once, after reading again', async () => {
      sim.injectFault({ method: 'PATCH', pathIncludes: '/ingresses/web', status: 409 });
      const result = await handler({ action: 'shift', run: simulatedRun(ALB) });

      expect(ingressWeight()).toBe(5);
      expect(result.run.weight).toBe(5);
      expect(requests()).toEqual([
        'GET ingresses/web 200',
        'PATCH ingresses/web 409',
        'GET ingresses/web 200',
        'PATCH ingresses/web 200',
      ]);
    });

    it('gives up after a second conflict, with a KubernetesConflict that says so', async () => {
      sim.injectFault({ method: 'PATCH', pathIncludes: '/ingresses/web', status: 409, times: 2 });
      const error = await failureOf(handler({ action: 'shift', run: simulatedRun(ALB) }));

      expect(error).toBeInstanceOf(KubernetesConflict);
      expect(error.message).toMatch(
        /^Ingress shop\/web: the write was refused as a conflict 2 times, each after a fresh read: .*\(last: PATCH .*: 409 /,
      );
      expect(ingressWeight()).toBe(0);
      expect(requests('PATCH')).toEqual(['PATCH ingresses/web 409', 'PATCH ingresses/web 409']);
    });

    it('a hand edit racing the write fails its test op, and the read that follows names the edit', async () => {
      const stop = sim.onRequest(({ method }) => {
        if (method !== 'PATCH') return;
        stop();
        sim.editIngress('shop', 'web', (ingress) => {
          (ingress.metadata.annotations ??= {})[albActionAnnotationKey('web-canary')] = JSON.stringify(
            albForwardAction(ALB_SETTINGS, 30),
          );
        });
      });
      const error = await failureOf(handler({ action: 'shift', run: simulatedRun(ALB) }));

      expect(error).toBeInstanceOf(TrafficEditedByHand);
      expect(error.message).toMatch(
        /^Ingress shop\/web: the spec gives the canary 30 %, but the runbook last set 0 %/,
      );
      expect(ingressWeight()).toBe(30);
      expect(requests()).toEqual([
        'GET ingresses/web 200',
        'PATCH ingresses/web 422',
        'GET ingresses/web 200',
      ]);
    });

    it('routes all traffic back to stable over a hand edit, without a drift check', async () => {
      sim.editIngress('shop', 'web', (ingress) => {
        (ingress.metadata.annotations ??= {})[albActionAnnotationKey('web-canary')] = JSON.stringify(
          albForwardAction(ALB_SETTINGS, 70),
        );
      });
      const result = await handler({
        action: 'route-to-stable',
        run: simulatedRun(ALB, { stepIndex: 1, weight: 20 }),
      });

      expect(ingressWeight()).toBe(0);
      expect(result.run).toMatchObject({ stepIndex: 1, weight: 0 });
      expect(result.run.weightSetAt).toEqual(expect.any(String));
      expect(result.detail).toBe(
        "Ingress shop/web: all traffic sent back to stable (the canary's weight was 20 %)",
      );
    });

    it('routing to stable twice writes once', async () => {
      const run = simulatedRun(ALB, { stepIndex: 1, weight: 20 });
      await handler({ action: 'shift', run: simulatedRun(ALB) });
      await handler({ action: 'route-to-stable', run });
      const again = await handler({ action: 'route-to-stable', run });

      expect(again.detail).toBe('Ingress shop/web already sends all traffic to stable: nothing to change');
      expect(requests('PATCH')).toEqual(['PATCH ingresses/web 200', 'PATCH ingresses/web 200']);
    });

    it('refuses an action that forwards elsewhere too: RouterMismatch, nothing written', async () => {
      sim.editIngress('shop', 'web', (ingress) => {
        (ingress.metadata.annotations ??= {})[albActionAnnotationKey('web-canary')] = JSON.stringify({
          type: 'forward',
          forwardConfig: {
            targetGroups: [
              { serviceName: 'web-stable', servicePort: '80', weight: 50 },
              { serviceName: 'web-legacy', servicePort: '80', weight: 50 },
            ],
          },
        });
      });
      const error = await failureOf(
        handler({ action: 'route-to-stable', run: simulatedRun(ALB, { weight: 20 }) }),
      );

      expect(error).toBeInstanceOf(RouterMismatch);
      expect(error.message).toBe(
        'annotation alb.ingress.kubernetes.io/actions.web-canary forwards to web-legacy:80: not changed',
      );
      expect(requests('PATCH')).toEqual([]);
    });

    it('refuses to shift past the last step', async () => {
      const error = await failureOf(
        handler({ action: 'shift', run: simulatedRun(ALB, { stepIndex: 3, weight: 100 }) }),
      );

      expect(error).toBeInstanceOf(InvalidCanaryRun);
      expect(error.message).toBe('the run is at its last step (4 of 4): there is no next step to shift to');
      expect(requests()).toEqual([]);
    });
  });

  describe('with the Gateway API router', () => {
    const routeWeights = () =>
      sim.getHttpRoute('shop', 'web')?.spec.rules?.[0]?.backendRefs?.map((ref) => [ref.name, ref.weight]);

    it('shifts: the canary backend is added at the step weight, stable gets the rest', async () => {
      const result = await handler({ action: 'shift', run: simulatedRun(GATEWAY) });

      expect(routeWeights()).toEqual([
        ['web-stable', 95],
        ['web-canary', 5],
      ]);
      expect(result.run).toMatchObject({ stepIndex: 0, weight: 5 });
      expect(result.detail).toBe(
        "HTTPRoute shop/web: the canary's weight set to 5 % (step 1 of 4), from 0 %",
      );
    });

    it('refuses to shift over weights changed by hand', async () => {
      await handler({ action: 'shift', run: simulatedRun(GATEWAY) });
      sim.editHttpRoute('shop', 'web', (route) => {
        const refs = route.spec.rules?.[0]?.backendRefs ?? [];
        for (const ref of refs) ref.weight = ref.name === 'web-canary' ? 40 : 60;
      });
      const error = await failureOf(
        handler({ action: 'shift', run: simulatedRun(GATEWAY, { stepIndex: 0, weight: 5 }) }),
      );

      expect(error).toBeInstanceOf(TrafficEditedByHand);
      expect(error.message).toMatch(
        /^HTTPRoute shop\/web: the spec gives the canary 40 %, but the runbook last set 5 %/,
      );
      expect(routeWeights()).toEqual([
        ['web-stable', 60],
        ['web-canary', 40],
      ]);
    });

    it('routes all traffic to stable after a hand edit', async () => {
      await handler({ action: 'shift', run: simulatedRun(GATEWAY) });
      sim.editHttpRoute('shop', 'web', (route) => {
        const refs = route.spec.rules?.[0]?.backendRefs ?? [];
        for (const ref of refs) ref.weight = 50;
      });
      const result = await handler({
        action: 'route-to-stable',
        run: simulatedRun(GATEWAY, { stepIndex: 0, weight: 5 }),
      });

      expect(routeWeights()).toEqual([
        ['web-stable', 100],
        ['web-canary', 0],
      ]);
      const route = sim.getHttpRoute('shop', 'web');
      if (!route) throw new Error('the route is gone');
      expect(gatewayConfiguredWeight(route, GATEWAY_SETTINGS)).toEqual({ state: 'weight', weight: 0 });
      expect(result.run.weight).toBe(0);
    });
  });

  describe('with the replica-ratio router', () => {
    beforeEach(async () => {
      await kubectl.patchDeployment('shop', 'web-canary', [
        { op: 'replace', path: '/spec/replicas', value: 0 },
      ]);
      sim.requests.length = 0;
    });

    it('shifts by scaling: the canary grows first, stable shrinks, the total stays', async () => {
      const result = await handler({ action: 'shift', run: simulatedRun(RATIO) });

      expect([replicas('web'), replicas('web-canary')]).toEqual([9, 1]);
      expect(result.run).toMatchObject({ stepIndex: 0, weight: 5 });
      expect(result.detail).toBe(
        "Deployments shop/web and shop/web-canary: the canary's weight set to 5 % (10 % with whole pods) (step 1 of 4), from 0 %",
      );
      expect(requests('PATCH')).toEqual(['PATCH deployments/web-canary 200', 'PATCH deployments/web 200']);
    });

    it('finishes its own change when an earlier invocation stopped between the two Deployments', async () => {
      await kubectl.patchDeployment('shop', 'web-canary', [
        { op: 'replace', path: '/spec/replicas', value: 1 },
      ]);
      sim.requests.length = 0;
      const result = await handler({ action: 'shift', run: simulatedRun(RATIO) });

      expect([replicas('web'), replicas('web-canary')]).toEqual([9, 1]);
      expect(result.run.weight).toBe(5);
      expect(requests('PATCH')).toEqual(['PATCH deployments/web 200']);
    });

    it('refuses to shift when someone scaled a Deployment by hand', async () => {
      await kubectl.patchDeployment('shop', 'web', [{ op: 'replace', path: '/spec/replicas', value: 12 }]);
      const error = await failureOf(handler({ action: 'shift', run: simulatedRun(RATIO) }));

      expect(error).toBeInstanceOf(TrafficEditedByHand);
      expect(error.message).toMatch(
        /^Deployments shop\/web and shop\/web-canary: stable has 12 and canary 0 replicas, not the 10 in total/,
      );
      expect([replicas('web'), replicas('web-canary')]).toEqual([12, 0]);
    });

    it('routes to stable: stable back to the total first, then the canary to zero', async () => {
      await kubectl.patchDeployment('shop', 'web', [{ op: 'replace', path: '/spec/replicas', value: 5 }]);
      await kubectl.patchDeployment('shop', 'web-canary', [
        { op: 'replace', path: '/spec/replicas', value: 5 },
      ]);
      sim.requests.length = 0;
      const result = await handler({
        action: 'route-to-stable',
        run: simulatedRun(RATIO, { stepIndex: 2, weight: 50 }),
      });

      expect([replicas('web'), replicas('web-canary')]).toEqual([10, 0]);
      expect(result.run.weight).toBe(0);
      expect(requests('PATCH')).toEqual(['PATCH deployments/web 200', 'PATCH deployments/web-canary 200']);
    });
  });

  describe('promote', () => {
    beforeEach(async () => {
      await kubectl.patchDeployment('shop', 'web-canary', [
        { op: 'add', path: '/spec/template/metadata/annotations', value: { 'prometheus.io/scrape': 'true' } },
        {
          op: 'add',
          path: '/spec/template/spec/containers/0/env',
          value: [{ name: 'FEATURE_X', value: 'on' }],
        },
      ]);
      sim.requests.length = 0;
    });

    it("copies the canary's pod template onto stable, keeping stable's labels, and answers the generation", async () => {
      const before = sim.getDeployment('shop', 'web');
      const run = simulatedRun(ALB, { stepIndex: 3, weight: 100 });
      const started = Date.now();
      const result = await handler({ action: 'promote', run });

      const stable = sim.getDeployment('shop', 'web');
      const canary = sim.getDeployment('shop', 'web-canary');
      expect(stable?.spec.template.spec).toEqual(canary?.spec.template.spec);
      expect(stable?.spec.template.spec.containers[0]).toMatchObject({
        image: 'web:2',
        env: [{ name: 'FEATURE_X', value: 'on' }],
      });
      expect(stable?.spec.template.metadata?.annotations).toEqual({ 'prometheus.io/scrape': 'true' });
      expect(stable?.spec.template.metadata?.labels).toEqual({ app: 'web', track: 'stable' });
      expect(stable?.spec.selector).toEqual(before?.spec.selector);
      expect(result.generation).toBe((before?.metadata.generation ?? 0) + 1);
      expect(Date.parse(result.at)).toBeGreaterThanOrEqual(started - 1000);
      expect(result.generation).toBe(stable?.metadata.generation);
      expect(result.run).toEqual(run);
      expect(result.detail).toBe(
        `Deployment shop/web now runs the canary's pod template (web:2; was web:1), generation ${result.generation}`,
      );
    });

    it('the deployed handler answers the run itself, with the promotion in it (the workflow keeps it at $.run)', async () => {
      const run = simulatedRun(ALB, { stepIndex: 3, weight: 100 });
      const answer = await deployedHandler({ action: 'promote', run });
      const stable = sim.getDeployment('shop', 'web');
      expect(answer).toEqual({
        ...run,
        promotedGeneration: stable?.metadata.generation,
        promotedAt: expect.any(String),
      });
      const shifted = await deployedHandler({ action: 'route-to-stable', run: answer });
      expect(shifted).toMatchObject({ weight: 0, promotedGeneration: stable?.metadata.generation });
    });

    it('is idempotent: a retried promotion writes nothing and answers the same generation', async () => {
      const run = simulatedRun(ALB, { stepIndex: 3, weight: 100 });
      const first = await handler({ action: 'promote', run });
      const again = await handler({ action: 'promote', run });

      expect(again.generation).toBe(first.generation);
      expect(again.detail).toBe(
        "Deployment shop/web already runs the canary's pod template (web:2): nothing to change",
      );
      expect(requests('PATCH')).toEqual(['PATCH deployments/web 200']);
    });

    it('does not overwrite a change to stable made between its read and its write', async () => {
      const stop = sim.onRequest(({ method }) => {
        if (method !== 'PATCH') return;
        stop();
        sim.deploy('shop', 'web', { image: 'web:1-hotfix' });
      });
      const result = await handler({
        action: 'promote',
        run: simulatedRun(ALB, { stepIndex: 3, weight: 100 }),
      });

      // The first write failed its generation test; the second, after a fresh read, replaced the hotfix knowingly.
      expect(requests('PATCH')).toEqual(['PATCH deployments/web 422', 'PATCH deployments/web 200']);
      expect(result.detail).toMatch(/\(web:2; was web:1-hotfix\)/);
    });

    it('refuses to promote a canary that no longer runs what the run analysed', async () => {
      sim.deploy('shop', 'web-canary', { image: 'web:3' });
      const error = await failureOf(
        handler({ action: 'promote', run: simulatedRun(ALB, { stepIndex: 3, weight: 100 }) }),
      );

      expect(error).toBeInstanceOf(CanaryChangedDuringRun);
      expect(error.name).toBe('CanaryChangedDuringRun');
      expect(error.message).toMatch(
        /^Deployment shop\/web-canary runs web:3, not web:2 as the run deployed and analysed/,
      );
      expect(sim.getDeployment('shop', 'web')?.spec.template.spec.containers[0]?.image).toBe('web:1');
      expect(requests('PATCH')).toEqual([]);
    });
  });

  describe('scale-down-canary', () => {
    it('scales the canary to zero, and a second call writes nothing', async () => {
      const run = simulatedRun(ALB, { weight: 0 });
      const result = await handler({ action: 'scale-down-canary', run });
      const again = await handler({ action: 'scale-down-canary', run });

      expect(replicas('web-canary')).toBe(0);
      expect(result.detail).toBe('Deployment shop/web-canary scaled from 10 to 0 replicas');
      expect(again.detail).toBe('Deployment shop/web-canary already has 0 replicas: nothing to change');
      expect(result.run).toEqual(run);
      expect(requests('PATCH')).toEqual(['PATCH deployments/web-canary 200']);
    });
  });

  describe('a malformed input', () => {
    it('is refused as InvalidCanaryRun naming the field, before any Kubernetes request', async () => {
      const error = await failureOf(
        handler({ action: 'shift', run: { ...simulatedRun(ALB), stepIndex: 'one', weight: undefined } }),
      );

      expect(error).toBeInstanceOf(InvalidCanaryRun);
      expect(error.name).toBe('InvalidCanaryRun');
      expect(error.message).toMatch(/^the canary run \(\$\.run\) is malformed: /);
      expect(error.message).toContain('stepIndex');
      expect(error.message).toContain('weight');
      expect(sim.requests).toEqual([]);
    });

    it('an unknown action is refused as InvalidInput', async () => {
      const error = await failureOf(handler({ action: 'undo', run: simulatedRun(ALB) }));

      expect(error.name).toBe('InvalidInput');
      expect(error.message).toMatch(/^The traffic input is malformed: action: /);
      expect(sim.requests).toEqual([]);
    });
  });
});
