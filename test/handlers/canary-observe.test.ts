// The canary's `observe` Lambda, its handler as deployed: Kubernetes through the simulated API server (EKS
// DescribeCluster mocked to point at it), Elastic Load Balancing through the simulated ELBv2. Whether the canary's
// pods are ready, whether a weight really routes (the ALB's rules, the route's status, the available pods, each
// after a check of the spec for a hand edit), and whether stable rolled out the promoted template.
import type { Action } from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CanaryRouter } from '../../lib/config/canary';
import { ElasticLoadBalancingUnavailable } from '../../lambdas/aws/load-balancer-certificates';
import { albActionAnnotationKey, albForwardAction } from '../../lambdas/canary/routers/alb';
import { analysisWindow, type Observation, type TrafficObservation } from '../../lambdas/canary/observe';
import { InvalidCanaryRun, type CanaryRun } from '../../lambdas/canary/run';
import type { KubernetesClient } from '../../lambdas/kubernetes/client';
import { KubernetesNotFound } from '../../lambdas/kubernetes/errors';
import { SimulatedLoadBalancer } from '../harness/canary/simulated-load-balancer';
import type { SimulatedKubernetesApi } from '../harness/kubernetes/server';
import {
  ALB,
  ALB_SETTINGS,
  addStableAndCanary,
  failureOf,
  GATEWAY,
  RATIO,
  REGION,
  simulatedRun,
  startSimulatedCluster,
  type SimulatedCluster,
} from './canary-fixtures';

const MINUTE_MS = 60_000;
const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * MINUTE_MS).toISOString();

/** The run as the workflow passes it at `$.run`: at its second step (20 %), set a minute ago, unless told otherwise. */
const runFor = (router: CanaryRouter, fields: Partial<CanaryRun> = {}): CanaryRun =>
  simulatedRun(router, {
    requestedAt: minutesAgo(2),
    startedAt: minutesAgo(2),
    stepIndex: 1,
    weight: 20,
    weightSetAt: minutesAgo(1),
    ...fields,
  });

describe('the canary observe handler', () => {
  let cluster: SimulatedCluster;
  let sim: SimulatedKubernetesApi;
  /** The test's own client: seeds what a person or a controller would write. */
  let kubectl: KubernetesClient;
  let elb: SimulatedLoadBalancer;
  let handler: (event: unknown) => Promise<Observation>;

  /** The traffic question, typed as its answer. */
  const traffic = async (run: CanaryRun) => (await handler({ what: 'traffic', run })) as TrafficObservation;
  const elbOperations = () => elb.calls.map((call) => call.operation);

  beforeAll(async () => {
    cluster = await startSimulatedCluster();
    ({ sim, kubectl } = cluster);
    elb = SimulatedLoadBalancer.install({ region: REGION });
    ({ handler } = await import('../../lambdas/canary/handlers/observe'));
  });
  afterAll(async () => {
    elb.restore();
    await cluster.close();
  });
  beforeEach(() => {
    sim.reset();
    elb.reset();
    addStableAndCanary(sim);
  });

  describe('canary-ready', () => {
    it('is progressing while the canary rolls out, then ready', async () => {
      sim.deploy(
        'shop',
        'web-canary',
        { image: 'web:2.1' },
        { rollout: { kind: 'completes-after', reads: 3 } },
      );
      const run = runFor(ALB, { stepIndex: -1, weight: 0 });
      const states = [];
      for (let read = 0; read < 3; read += 1) states.push(await handler({ what: 'canary-ready', run }));

      expect(states).toEqual([
        { state: 'progressing', detail: 'Waiting for deployment "web-canary" spec update to be observed...' },
        {
          state: 'progressing',
          detail: expect.stringMatching(/^Waiting for deployment "web-canary" rollout to finish: /),
        },
        { state: 'ready', detail: 'deployment "web-canary" successfully rolled out' },
      ]);
    });

    it('fails when the canary is not ready 10 minutes after the run started, and says so', async () => {
      sim.deploy('shop', 'web-canary', { image: 'web:2.1' }, { rollout: { kind: 'stalls' } });
      const startedAt = minutesAgo(11);
      const run = runFor(ALB, { stepIndex: -1, weight: 0, startedAt });

      expect(await handler({ what: 'canary-ready', run })).toEqual({
        state: 'failed',
        detail:
          'Waiting for deployment "web-canary" rollout to finish: 1 out of 10 new replicas have been updated... ' +
          `Still not rolled out 10 minutes after the run started (${startedAt}).`,
      });
    });

    it('fails at once when the rollout exceeded its progress deadline', async () => {
      sim.deploy(
        'shop',
        'web-canary',
        { image: 'web:2.1' },
        { rollout: { kind: 'deadline-exceeded', afterReads: 1 } },
      );
      const run = runFor(ALB, { stepIndex: -1, weight: 0 });

      expect(await handler({ what: 'canary-ready', run })).toEqual({
        state: 'failed',
        detail: 'deployment "web-canary" exceeded its progress deadline',
      });
    });
  });

  describe('stable-rollout', () => {
    /** The promotion as the traffic Lambda writes it: a new template on stable. */
    const promote = async () => {
      const canary = sim.getDeployment('shop', 'web-canary');
      const patched = await kubectl.patchDeployment('shop', 'web', [
        { op: 'replace', path: '/spec/template/spec', value: canary?.spec.template.spec },
      ]);
      return patched.metadata.generation ?? 0;
    };

    it('is progressing until stable has rolled out the promoted generation, then ready', async () => {
      const generation = await promote();
      const since = new Date().toISOString();
      const states = [];
      for (let read = 0; read < 2; read += 1) {
        states.push(await handler({ what: 'stable-rollout', run: runFor(ALB), since, generation }));
      }

      expect(states.map((observation) => observation.state)).toEqual(['progressing', 'ready']);
      expect(states[1]?.detail).toBe('deployment "web" successfully rolled out');
    });

    it('does not take a read from before the promotion for a finished rollout', async () => {
      const before = sim.getDeployment('shop', 'web');
      const generation = await promote();
      // A read served from before the write (a lagging cache): complete, but for the previous generation.
      sim.injectFault({ method: 'GET', pathIncludes: '/deployments/web', body: before });

      expect(
        await handler({
          what: 'stable-rollout',
          run: runFor(ALB),
          since: new Date().toISOString(),
          generation,
        }),
      ).toEqual({
        state: 'progressing',
        detail: `Waiting for deployment "web" generation ${generation} (the promotion) to be observed; the controller has seen ${generation - 1}...`,
      });
    });

    it('fails 15 minutes after the promotion, and says so', async () => {
      sim.setRollout('shop', 'web', { kind: 'stalls' });
      const generation = await promote();
      await kubectl.getDeployment('shop', 'web');
      const since = minutesAgo(16);
      const observation = await handler({ what: 'stable-rollout', run: runFor(ALB), since, generation });

      expect(observation.state).toBe('failed');
      expect(observation.detail).toMatch(/^Waiting for deployment "web" rollout to finish: /);
      expect(observation.detail).toMatch(
        new RegExp(
          `Still not rolled out 15 minutes after the promotion \\(${since.replace(/\./g, '\\.')}\\)\\.$`,
        ),
      );
    });

    it('needs `since`: without it the input is refused', async () => {
      const error = await failureOf(handler({ what: 'stable-rollout', run: runFor(ALB), generation: 2 }));

      expect(error.name).toBe('InvalidInput');
      expect(error.message).toMatch(/^The observe input is malformed: since: /);
      expect(sim.requests).toEqual([]);
    });
  });

  describe('traffic, with the ALB router', () => {
    let listenerArn: string;
    let ruleArn: string;
    let stableGroup: string;
    let canaryGroup: string;
    let loadBalancerArn: string;

    /** The rule as the AWS Load Balancer Controller writes it from the annotation: weights per target group. */
    const forward = (stable: number, canary: number): Action[] => [
      {
        Type: 'forward',
        Order: 1,
        ForwardConfig: {
          TargetGroups: [
            { TargetGroupArn: stableGroup, Weight: stable },
            { TargetGroupArn: canaryGroup, Weight: canary },
          ],
        },
      },
    ];
    const setIngressWeight = (weight: number) =>
      sim.editIngress('shop', 'web', (ingress) => {
        (ingress.metadata.annotations ??= {})[albActionAnnotationKey('web-canary')] = JSON.stringify(
          albForwardAction(ALB_SETTINGS, weight),
        );
      });

    beforeEach(() => {
      sim.addIngress({
        namespace: 'shop',
        name: 'web',
        annotations: {
          [albActionAnnotationKey('web-canary')]: JSON.stringify(albForwardAction(ALB_SETTINGS, 20)),
        },
        backends: [{ service: 'web-canary', port: 'use-annotation' }],
      });
      sim.addService({ namespace: 'shop', name: 'web-stable', selector: { app: 'web', track: 'stable' } });
      sim.addService({ namespace: 'shop', name: 'web-canary', selector: { app: 'web', track: 'canary' } });
      loadBalancerArn = elb.addLoadBalancer({ name: 'k8s-shop-web' }).LoadBalancerArn;
      listenerArn = elb.addListener({ loadBalancerArn, port: 80 });
      stableGroup = elb.addTargetGroup({ name: 'k8s-shop-webstabl-0a1b2c3d4e' });
      canaryGroup = elb.addTargetGroup({ name: 'k8s-shop-webcanar-5f6a7b8c9d' });
      // The rule still at the previous step's weights: the controller has not reconciled the annotation yet.
      ruleArn = elb.addRule({ listenerArn, priority: 1000, actions: forward(95, 5) });
      sim.addTargetGroupBinding({
        namespace: 'shop',
        name: 'k8s-shop-webstabl-0a1b2c3d4e',
        targetGroupArn: stableGroup,
        service: { name: 'web-stable', port: 80 },
        ingress: 'web',
      });
      sim.addTargetGroupBinding({
        namespace: 'shop',
        name: 'k8s-shop-webcanar-5f6a7b8c9d',
        targetGroupArn: canaryGroup,
        service: { name: 'web-canary', port: 80 },
        ingress: 'web',
      });
    });

    it('is pending while the rules show the previous weight, then applied, with where it was confirmed', async () => {
      const run = runFor(ALB);
      const pending = await traffic(run);

      expect(pending).toEqual({
        state: 'pending',
        weight: 5,
        detail: `load balancer ${loadBalancerArn}: the canary gets 5 %, not yet the 20 % of this step`,
        alb: {
          loadBalancerArn,
          listenerArns: [listenerArn],
          stableTargetGroupArn: stableGroup,
          canaryTargetGroupArn: canaryGroup,
        },
      });
      expect(elbOperations()).toEqual(['DescribeTargetGroups', 'DescribeListeners', 'DescribeRules']);

      elb.setRuleActions(ruleArn, forward(80, 20));
      expect(await traffic(run)).toEqual({
        state: 'applied',
        weight: 20,
        detail: `load balancer ${loadBalancerArn} gives the canary 20 %`,
        alb: pending.alb,
        windowStart: expect.any(String),
        analyseAt: expect.any(String),
      });
    });

    it('expires when the rules still show another weight 5 minutes after the weight was set', async () => {
      const weightSetAt = minutesAgo(6);
      const observation = await traffic(runFor(ALB, { weightSetAt }));

      expect(observation).toMatchObject({ state: 'expired', weight: 5 });
      expect(observation.detail).toBe(
        `load balancer ${loadBalancerArn} still does not route the canary's 20 % 5 minutes after it was set ` +
          `(${weightSetAt}): the canary gets 5 %, not yet the 20 % of this step`,
      );
    });

    it('reports a hand edit of the annotation as edited, without asking the load balancer', async () => {
      setIngressWeight(50);
      const observation = await traffic(runFor(ALB));

      expect(observation).toEqual({
        state: 'edited',
        weight: 50,
        detail:
          'Ingress shop/web: the spec gives the canary 50 %, but the runbook last set 20 %. Someone changed the ' +
          'split by hand since the runbook set it.',
      });
      expect(elb.calls).toEqual([]);
      expect(sim.requests.map((request) => request.path)).toEqual([
        '/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web',
      ]);
    });

    it('matches a TargetGroupBinding that names the port by name through the Service', async () => {
      sim.reset();
      sim.addIngress({
        namespace: 'shop',
        name: 'web',
        annotations: {
          [albActionAnnotationKey('web-canary')]: JSON.stringify(albForwardAction(ALB_SETTINGS, 20)),
        },
      });
      sim.addService({ namespace: 'shop', name: 'web-stable', ports: [{ name: 'http', port: 80 }] });
      sim.addService({ namespace: 'shop', name: 'web-canary', ports: [{ name: 'http', port: 80 }] });
      sim.addTargetGroupBinding({
        namespace: 'shop',
        name: 'stable',
        targetGroupArn: stableGroup,
        service: { name: 'web-stable', port: 'http' },
      });
      sim.addTargetGroupBinding({
        namespace: 'shop',
        name: 'canary',
        targetGroupArn: canaryGroup,
        service: { name: 'web-canary', port: 80 },
      });
      elb.setRuleActions(ruleArn, forward(80, 20));

      expect(await traffic(runFor(ALB))).toMatchObject({
        state: 'applied',
        weight: 20,
        alb: { stableTargetGroupArn: stableGroup, canaryTargetGroupArn: canaryGroup },
      });
      expect(sim.requests.map((request) => request.path)).toContain(
        '/api/v1/namespaces/shop/services/web-stable',
      );
    });

    it('is pending, naming it, while the canary Service has no target group yet', async () => {
      sim.reset();
      sim.addIngress({
        namespace: 'shop',
        name: 'web',
        annotations: {
          [albActionAnnotationKey('web-canary')]: JSON.stringify(albForwardAction(ALB_SETTINGS, 20)),
        },
      });
      sim.addTargetGroupBinding({
        namespace: 'shop',
        name: 'stable',
        targetGroupArn: stableGroup,
        service: { name: 'web-stable', port: 80 },
      });

      expect(await traffic(runFor(ALB))).toEqual({
        state: 'pending',
        detail:
          'Ingress shop/web: no TargetGroupBinding in namespace shop binds the canary Service web-canary port 80 ' +
          "yet: the load balancer controller (the AWS Load Balancer Controller, or EKS Auto Mode's) makes one, with its target group, when it reconciles the Ingress",
      });
      expect(elb.calls).toEqual([]);
    });

    it('takes a canary Service without a target group on the load balancer as all traffic on stable, at weight 0', async () => {
      setIngressWeight(0);
      // The rule forwards to stable alone: the canary's target group is attached nowhere.
      elb.setRuleActions(ruleArn, [{ Type: 'forward', Order: 1, TargetGroupArn: stableGroup }]);

      expect(await traffic(runFor(ALB, { weight: 0 }))).toEqual({
        state: 'applied',
        weight: 0,
        detail: `Ingress shop/web: the canary's target group (${canaryGroup}) is attached to no load balancer yet, so the canary gets no traffic`,
        windowStart: expect.any(String),
        analyseAt: expect.any(String),
      });
      expect(await traffic(runFor(ALB, { weight: 20 }))).toMatchObject({ state: 'edited', weight: 0 });
      setIngressWeight(20);
      expect(await traffic(runFor(ALB, { weight: 20 }))).toMatchObject({
        state: 'pending',
        detail: expect.stringContaining('is attached to no load balancer yet'),
      });
    });

    it('reads every page of rules on every listener: a listener not reconciled yet keeps it pending', async () => {
      for (let priority = 1; priority <= 450; priority += 1) {
        elb.addRule({
          listenerArn,
          priority,
          conditions: [{ Field: 'path-pattern', Values: [`/static/${priority}/*`] }],
          actions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } }],
        });
      }
      elb.setRuleActions(ruleArn, forward(80, 20));
      const https = elb.addListener({ loadBalancerArn, port: 443, protocol: 'HTTPS' });
      const httpsRule = elb.addRule({ listenerArn: https, priority: 1000, actions: forward(95, 5) });
      const run = runFor(ALB);

      const pending = await traffic(run);
      expect(pending).toMatchObject({ state: 'pending', alb: { listenerArns: [listenerArn, https] } });
      expect(pending.detail).toMatch(/rules disagree: .* gives the canary 20 %, .* 5 %$/);
      expect(elbOperations()).toEqual([
        'DescribeTargetGroups',
        'DescribeListeners',
        'DescribeRules',
        'DescribeRules',
        'DescribeRules',
      ]);

      elb.setRuleActions(httpsRule, forward(80, 20));
      expect(await traffic(run)).toMatchObject({ state: 'applied', weight: 20 });
    });

    it("ignores another rule of the Ingress's group that sends to the stable Service directly", async () => {
      elb.addRule({
        listenerArn,
        priority: 10,
        conditions: [{ Field: 'path-pattern', Values: ['/healthz'] }],
        actions: [{ Type: 'forward', Order: 1, TargetGroupArn: stableGroup }],
      });
      elb.setRuleActions(ruleArn, forward(80, 20));

      expect(await traffic(runFor(ALB))).toMatchObject({ state: 'applied', weight: 20 });
    });

    it('refuses to guess between two load balancers that both forward to the target groups', async () => {
      const other = elb.addLoadBalancer({ name: 'k8s-shop-other' }).LoadBalancerArn;
      elb.addRule({
        listenerArn: elb.addListener({ loadBalancerArn: other }),
        priority: 1,
        actions: forward(80, 20),
      });

      expect(await traffic(runFor(ALB))).toEqual({
        state: 'mismatch',
        detail:
          `Ingress shop/web: the stable and canary Services have target groups on several load balancers ` +
          `(${loadBalancerArn}, ${other}): the runbook cannot tell which one the Ingress uses`,
      });
    });

    it('names ELBv2 throttling ElasticLoadBalancingUnavailable, which the workflow retries', async () => {
      elb.injectFault({ operation: 'DescribeRules', name: 'Throttling' });
      const error = await failureOf(traffic(runFor(ALB)));

      expect(error).toBeInstanceOf(ElasticLoadBalancingUnavailable);
      expect(error.name).toBe('ElasticLoadBalancingUnavailable');
      expect(error.message).toBe('DescribeRules failed: Throttling');
    });

    it('surfaces a cluster without the load balancer controller as KubernetesNotFound', async () => {
      sim.setLoadBalancerControllerInstalled(false);
      const error = await failureOf(traffic(runFor(ALB)));

      expect(error).toBeInstanceOf(KubernetesNotFound);
      expect(error.message).toContain('does not serve the AWS Load Balancer Controller');
    });

    it("names EKS Auto Mode's group too when the cluster serves neither", async () => {
      sim.setLoadBalancerControllerInstalled(false);
      const error = await failureOf(traffic(runFor(ALB)));

      expect(error).toBeInstanceOf(KubernetesNotFound);
      expect(error.message).toContain(
        "nor EKS Auto Mode's (targetgroupbindings.eks.amazonaws.com, version v1)",
      );
      expect(elb.calls).toEqual([]);
    });

    /** Auto Mode's load balancing on, with its own bindings for the two Services (same names, its group). */
    const bindOnAutoMode = () => {
      sim.setAutoModeLoadBalancing(true);
      for (const [name, targetGroupArn, service] of [
        ['k8s-shop-webstabl-0a1b2c3d4e', stableGroup, 'web-stable'],
        ['k8s-shop-webcanar-5f6a7b8c9d', canaryGroup, 'web-canary'],
      ] as const) {
        sim.addTargetGroupBinding({
          namespace: 'shop',
          name,
          targetGroupArn,
          service: { name: service, port: 80 },
          apiGroup: 'eks.amazonaws.com',
          ingress: 'web',
        });
      }
    };

    it("on EKS Auto Mode, without the controller, confirms the step from Auto Mode's TargetGroupBindings", async () => {
      sim.setLoadBalancerControllerInstalled(false);
      bindOnAutoMode();
      elb.setRuleActions(ruleArn, forward(80, 20));

      expect(await traffic(runFor(ALB))).toMatchObject({
        state: 'applied',
        weight: 20,
        alb: { loadBalancerArn, stableTargetGroupArn: stableGroup, canaryTargetGroupArn: canaryGroup },
      });
      expect(sim.requests.map((request) => `${request.path} ${request.status}`)).toEqual([
        '/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web 200',
        '/apis/elbv2.k8s.aws/v1beta1/namespaces/shop/targetgroupbindings?limit=500 404',
        '/apis/eks.amazonaws.com/v1/namespaces/shop/targetgroupbindings?limit=500 200',
      ]);
    });

    it('with the controller installed on an Auto Mode cluster, finds an Auto Mode Ingress’s bindings', async () => {
      // The controller serves its group, with a binding of another Ingress only (reinstalled: this Ingress's
      // bindings gone from it); Auto Mode reconciles this one.
      sim.setLoadBalancerControllerInstalled(false);
      sim.setLoadBalancerControllerInstalled(true);
      sim.addTargetGroupBinding({
        namespace: 'shop',
        name: 'k8s-shop-api-7e8f9a0b1c',
        targetGroupArn: elb.addTargetGroup({ name: 'k8s-shop-api-7e8f9a0b1c' }),
        service: { name: 'api', port: 80 },
        ingress: 'api',
      });
      bindOnAutoMode();
      elb.setRuleActions(ruleArn, forward(80, 20));

      expect(await traffic(runFor(ALB))).toMatchObject({
        state: 'applied',
        weight: 20,
        alb: { stableTargetGroupArn: stableGroup, canaryTargetGroupArn: canaryGroup },
      });
    });
  });

  describe('traffic, with the Gateway API router', () => {
    beforeEach(() => {
      sim.addHttpRoute({
        namespace: 'shop',
        name: 'web',
        rules: [
          {
            backendRefs: [
              { name: 'web-stable', port: 80, weight: 80 },
              { name: 'web-canary', port: 80, weight: 20 },
            ],
          },
        ],
      });
    });

    it('is pending until the Gateway accepts the current generation, then applied', async () => {
      const run = runFor(GATEWAY);
      const none = await traffic(run);
      expect(none).toEqual({
        state: 'pending',
        detail: 'HTTPRoute shop/web: no status from Gateway eg yet',
      });

      sim.setHttpRouteStatus('shop', 'web', { accepted: true, observedGeneration: 0 });
      expect(await traffic(run)).toEqual({
        state: 'pending',
        detail:
          'HTTPRoute shop/web: Gateway eg (gateway.envoyproxy.io/gatewayclass-controller): Accepted describes ' +
          'generation 0, the route is at 1',
      });

      sim.setHttpRouteStatus('shop', 'web', { accepted: true });
      expect(await traffic(run)).toEqual({
        state: 'applied',
        weight: 20,
        detail: 'HTTPRoute shop/web gives the canary 20 %',
        windowStart: expect.any(String),
        analyseAt: expect.any(String),
      });
    });

    it('is a mismatch when the Gateway refuses the route', async () => {
      sim.setHttpRouteStatus('shop', 'web', {
        accepted: false,
        condition: 'ResolvedRefs',
        reason: 'BackendNotFound',
        message: 'Service shop/web-canary not found',
      });

      expect(await traffic(runFor(GATEWAY))).toEqual({
        state: 'mismatch',
        detail:
          'HTTPRoute shop/web: Gateway eg (gateway.envoyproxy.io/gatewayclass-controller): ResolvedRefs is False ' +
          '(BackendNotFound: Service shop/web-canary not found)',
      });
    });

    it('is edited when the weights were changed by hand', async () => {
      sim.editHttpRoute('shop', 'web', (route) => {
        for (const ref of route.spec.rules?.[0]?.backendRefs ?? []) ref.weight = 50;
      });
      sim.setHttpRouteStatus('shop', 'web', { accepted: true });

      expect(await traffic(runFor(GATEWAY))).toMatchObject({ state: 'edited', weight: 50 });
    });
  });

  describe('traffic, with the replica-ratio router', () => {
    beforeEach(async () => {
      await kubectl.patchDeployment('shop', 'web', [{ op: 'replace', path: '/spec/replicas', value: 8 }]);
      await kubectl.patchDeployment('shop', 'web-canary', [
        { op: 'replace', path: '/spec/replicas', value: 2 },
      ]);
    });

    it("is pending while the canary's pods are not all available, then applied", async () => {
      const canary = structuredClone(sim.getDeployment('shop', 'web-canary'));
      if (!canary) throw new Error('no canary');
      canary.status = { ...canary.status, readyReplicas: 1, availableReplicas: 1, unavailableReplicas: 1 };
      sim.injectFault({ method: 'GET', pathIncludes: '/deployments/web-canary', body: canary });
      const run = runFor(RATIO);

      expect(await traffic(run)).toEqual({
        state: 'pending',
        detail:
          'the available pods of Deployments shop/web and shop/web-canary: the canary Deployment has 1 available ' +
          'of 2 replicas (2 pods)',
      });
      expect(await traffic(run)).toEqual({
        state: 'applied',
        weight: 20,
        detail: 'the available pods of Deployments shop/web and shop/web-canary gives the canary 20 %',
        windowStart: expect.any(String),
        analyseAt: expect.any(String),
      });
    });

    it('is pending while a controller has not caught up with the new replica counts', async () => {
      sim.setControllerRunning(false);
      await kubectl.patchDeployment('shop', 'web', [{ op: 'replace', path: '/spec/replicas', value: 5 }]);
      await kubectl.patchDeployment('shop', 'web-canary', [
        { op: 'replace', path: '/spec/replicas', value: 5 },
      ]);

      expect(await traffic(runFor(RATIO, { stepIndex: 2, weight: 50 }))).toMatchObject({
        state: 'pending',
        detail: expect.stringMatching(
          /the stable Deployment's controller has not observed generation \d+ yet$/,
        ),
      });
    });

    it('is edited when someone scaled a Deployment by hand', async () => {
      await kubectl.patchDeployment('shop', 'web', [{ op: 'replace', path: '/spec/replicas', value: 12 }]);

      expect(await traffic(runFor(RATIO))).toMatchObject({
        state: 'edited',
        detail: expect.stringMatching(/stable has 12 and canary 2 replicas, not the 10 in total/),
      });
    });
  });

  describe('a malformed input', () => {
    it('is refused as InvalidCanaryRun before any Kubernetes or ELBv2 request', async () => {
      const error = await failureOf(
        handler({ what: 'traffic', run: { ...runFor(ALB), service: { name: 'web' } } }),
      );

      expect(error).toBeInstanceOf(InvalidCanaryRun);
      expect(error.message).toMatch(/^the canary run \(\$\.run\) is malformed: service\./);
      expect(sim.requests).toEqual([]);
      expect(elb.calls).toEqual([]);
    });
  });
});

describe('the analysis window of an applied step', () => {
  it('starts at the first whole minute with the weight applied and ends one interval later, plus a minute for CloudWatch', () => {
    expect(analysisWindow(300, new Date('2026-12-05T10:07:12.500Z'))).toEqual({
      windowStart: '2026-12-05T10:08:00.000Z',
      analyseAt: '2026-12-05T10:14:00.000Z',
    });
    // Applied on a whole minute: that minute is whole.
    expect(analysisWindow(60, new Date('2026-12-05T10:07:00.000Z'))).toEqual({
      windowStart: '2026-12-05T10:07:00.000Z',
      analyseAt: '2026-12-05T10:09:00.000Z',
    });
  });
});
