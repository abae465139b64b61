// The simulated controllers the canary's routers are verified against: the AWS Load Balancer Controller carrying
// the Ingress action's weights onto the ALB's rules, and a Gateway API implementation accepting an HTTPRoute's
// generation, each after the polls its mode says, or never. Driven as the runbook drives them: the routers' own
// patches through the thin client, the evidence read back through the client and the ELBv2 SDK.
import {
  DescribeListenersCommand,
  DescribeRulesCommand,
  DescribeTargetGroupsCommand,
  ElasticLoadBalancingV2Client,
  type Rule,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  albConfiguredWeight,
  albObservedWeight,
  albRouter,
  albWeightPatch,
  type AlbEvidence,
} from '../../lambdas/canary/routers/alb';
import {
  gatewayConfiguredWeight,
  gatewayObservedWeight,
  gatewayWeightPatch,
  routeAcceptance,
} from '../../lambdas/canary/routers/gateway-api';
import { checkApplied, type Observed } from '../../lambdas/canary/routers/router';
import type { KubernetesClient } from '../../lambdas/kubernetes/client';
import {
  SimulatedAlbController,
  SimulatedGatewayController,
  type AlbSetup,
  type ReconcileMode,
} from '../harness/canary/controllers';
import { SimulatedLoadBalancer } from '../harness/canary/simulated-load-balancer';
import { clientForSimulatedApi } from '../harness/kubernetes-test-client';
import { startKubernetesApiServer, type SimulatedKubernetesApi } from '../harness/kubernetes/server';
import { installVirtualClock, uninstallVirtualClock } from '../harness/virtual-clock';

const REGION = 'eu-west-1';
const CREDENTIALS = { accessKeyId: 'AKIDCANARYCTRL', secretAccessKey: 'canary-controllers-secret' };

const weight = (observed: Observed): number | string =>
  observed.state === 'weight' ? observed.weight : `${observed.state}: ${observed.reason}`;

let sim: SimulatedKubernetesApi;
let client: KubernetesClient;
const sdk = new ElasticLoadBalancingV2Client({ region: REGION });

beforeAll(async () => {
  sim = await startKubernetesApiServer({ clusterName: 'prod-eks', region: REGION, credentials: CREDENTIALS });
  client = clientForSimulatedApi(sim, CREDENTIALS, { region: REGION });
});
afterAll(() => sim.close());

/**
 * What the ALB router's handler gathers: the Services' target groups from their TargetGroupBindings, then their
 * load balancer, its listeners and every rule, through the SDK.
 */
async function albEvidence(namespace: string, setup: AlbSetup): Promise<AlbEvidence> {
  const bindings = await client.listTargetGroupBindings(namespace);
  const arnOf = (service: string) => {
    const binding = bindings.find((candidate) => candidate.spec.serviceRef.name === service);
    if (!binding) throw new Error(`no TargetGroupBinding for ${service}`);
    return binding.spec.targetGroupARN;
  };
  const stableTargetGroupArn = arnOf(setup.settings.stable.serviceName);
  const canaryTargetGroupArn = arnOf(setup.settings.canary.serviceName);
  const groups = await sdk.send(
    new DescribeTargetGroupsCommand({ TargetGroupArns: [stableTargetGroupArn, canaryTargetGroupArn] }),
  );
  const loadBalancers = [
    ...new Set((groups.TargetGroups ?? []).flatMap((group) => group.LoadBalancerArns ?? [])),
  ];
  const rules: Rule[] = [];
  for (const loadBalancerArn of loadBalancers) {
    const listeners = await sdk.send(new DescribeListenersCommand({ LoadBalancerArn: loadBalancerArn }));
    for (const listener of listeners.Listeners ?? []) {
      const answer = await sdk.send(new DescribeRulesCommand({ ListenerArn: listener.ListenerArn }));
      rules.push(...(answer.Rules ?? []));
    }
  }
  return { describeRules: { Rules: rules }, stableTargetGroupArn, canaryTargetGroupArn };
}

describe('the simulated AWS Load Balancer Controller', () => {
  let elb: SimulatedLoadBalancer;
  let controller: SimulatedAlbController;

  beforeAll(() => {
    elb = SimulatedLoadBalancer.install();
  });
  afterAll(() => elb.restore());
  beforeEach(() => {
    sim.reset();
    elb.reset();
  });
  afterEach(() => controller.dispose());

  function start(mode?: ReconcileMode): AlbSetup {
    controller = new SimulatedAlbController(sim, elb, mode ? { mode } : {});
    return controller.setup({
      namespace: 'shop',
      ingress: 'web',
      actionName: 'web-canary',
      stable: { service: 'web-stable', port: 80 },
      canary: { service: 'web-canary', port: 80 },
    });
  }

  /** A step as the runbook takes it: read the Ingress, send the router's patch. */
  async function setWeight(setup: AlbSetup, canaryWeight: number): Promise<void> {
    const ingress = await client.getIngress('shop', 'web');
    await client.patchIngress('shop', 'web', albWeightPatch(ingress, setup.settings, canaryWeight));
  }

  const observed = async (setup: AlbSetup) => weight(albObservedWeight(await albEvidence('shop', setup)));

  it('sets up the Ingress at stable 100 / canary 0, its Services, bindings, target groups and one rule', async () => {
    const setup = start();
    expect(weight(albConfiguredWeight(await client.getIngress('shop', 'web'), setup.settings))).toBe(0);
    expect(setup.settings).toEqual({
      actionName: 'web-canary',
      stable: { serviceName: 'web-stable', servicePort: 80 },
      canary: { serviceName: 'web-canary', servicePort: 80 },
    });
    const service = await client.getService('shop', 'web-canary');
    expect(service.spec.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }]);
    const bindings = await client.listTargetGroupBindings('shop');
    expect(bindings.map((binding) => [binding.spec.serviceRef, binding.spec.targetGroupARN])).toEqual([
      [{ name: 'web-canary', port: 80 }, setup.canaryTargetGroupArn],
      [{ name: 'web-stable', port: 80 }, setup.stableTargetGroupArn],
    ]);
    expect(bindings[0]?.metadata.name).toMatch(/^k8s-shop-webcanar-[0-9a-f]{10}$/);

    const evidence = await albEvidence('shop', setup);
    expect(evidence.describeRules).toMatchObject({
      Rules: [
        { RuleArn: setup.ruleArns[0], Priority: '1', Conditions: [{ Field: 'path-pattern' }] },
        { IsDefault: true },
      ],
    });
    expect(weight(albObservedWeight(evidence))).toBe(0);
    // The load balancer's DNS name is the one the Ingress status carries.
    const ingress = sim.getIngress('shop', 'web');
    expect(JSON.stringify(ingress?.status)).toContain('k8s-shop-web-0123456789.eu-west-1.elb.amazonaws.com');
  });

  it('applies a weight the router patched on the next DescribeRules by default', async () => {
    const setup = start();
    await setWeight(setup, 20);
    expect(elb.rule(setup.ruleArns[0] ?? '')?.Actions?.[0]?.ForwardConfig?.TargetGroups).toEqual([
      { TargetGroupArn: setup.stableTargetGroupArn, Weight: 100 },
      { TargetGroupArn: setup.canaryTargetGroupArn, Weight: 0 },
    ]);
    const evidence = await albEvidence('shop', setup);
    expect(checkApplied(albRouter(setup.settings), evidence, 20)).toEqual({ state: 'applied', weight: 20 });
    expect(controller.events.at(-1)?.text).toBe(
      'AWS Load Balancer Controller applied alb.ingress.kubernetes.io/actions.web-canary to 1 rule(s): ' +
        `${elb.targetGroupName(setup.stableTargetGroupArn) ?? ''} 80, ${elb.targetGroupName(setup.canaryTargetGroupArn) ?? ''} 20`,
    );
  });

  it("on EKS Auto Mode, whose load balancing replaces the controller, binds in Auto Mode's group and applies the same", async () => {
    sim.setLoadBalancerControllerInstalled(false);
    sim.setAutoModeLoadBalancing(true);
    const setup = start();
    const bindings = await client.listTargetGroupBindings('shop');
    expect(bindings.map((binding) => [binding.apiVersion, binding.spec.serviceRef.name])).toEqual([
      ['eks.amazonaws.com/v1', 'web-canary'],
      ['eks.amazonaws.com/v1', 'web-stable'],
    ]);
    await setWeight(setup, 20);
    expect(checkApplied(albRouter(setup.settings), await albEvidence('shop', setup), 20)).toEqual({
      state: 'applied',
      weight: 20,
    });
  });

  it('with lag 3, shows the old weights to two DescribeRules and the new ones from the third', async () => {
    const setup = start({ lag: 3 });
    await setWeight(setup, 5);
    const router = albRouter(setup.settings);
    expect(checkApplied(router, await albEvidence('shop', setup), 5)).toMatchObject({
      state: 'pending',
      observedWeight: 0,
    });
    expect(await observed(setup)).toBe(0);
    expect(await observed(setup)).toBe(5);
    expect(await observed(setup)).toBe(5);
  });

  it('counts from the latest change: an Ingress changed again starts over', async () => {
    const setup = start({ lag: 2 });
    await setWeight(setup, 20);
    expect(await observed(setup)).toBe(0);
    await setWeight(setup, 50);
    expect(await observed(setup)).toBe(0);
    expect(await observed(setup)).toBe(50);
  });

  it('never applies in mode never, until it is set to follow again', async () => {
    const setup = start('never');
    await setWeight(setup, 20);
    for (let poll = 0; poll < 5; poll += 1) expect(await observed(setup)).toBe(0);
    expect(controller.events.map((event) => event.text)).toEqual([
      'provisioned k8s-shop-web for Ingress shop/web',
    ]);
    controller.setMode({ lag: 1 });
    expect(await observed(setup)).toBe(20);
  });

  it('counts neither throttled DescribeRules nor continuation pages as polls', async () => {
    const setup = start({ lag: 2 });
    await setWeight(setup, 50);
    elb.injectFault({ operation: 'DescribeRules' });
    await expect(
      sdk.send(new DescribeRulesCommand({ ListenerArn: setup.listenerArn })),
    ).rejects.toMatchObject({
      name: 'Throttling',
    });
    const first = await sdk.send(new DescribeRulesCommand({ ListenerArn: setup.listenerArn, PageSize: 1 }));
    await sdk.send(new DescribeRulesCommand({ ListenerArn: setup.listenerArn, Marker: first.NextMarker }));
    expect(await observed(setup)).toBe(50);
  });

  it('leaves the rules as they are on an annotation it cannot apply, and says so once', async () => {
    const setup = start();
    await setWeight(setup, 20);
    expect(await observed(setup)).toBe(20);
    sim.editIngress('shop', 'web', (ingress) => {
      (ingress.metadata.annotations ??= {})['alb.ingress.kubernetes.io/actions.web-canary'] = JSON.stringify({
        type: 'forward',
        forwardConfig: { targetGroups: [{ serviceName: 'web-next', servicePort: '80', weight: 100 }] },
      });
    });
    expect(await observed(setup)).toBe(20);
    expect(await observed(setup)).toBe(20);
    expect(controller.events.filter((event) => event.text.includes('failed'))).toEqual([
      expect.objectContaining({
        text:
          'AWS Load Balancer Controller failed to reconcile: Ingress shop/web: annotation ' +
          'alb.ingress.kubernetes.io/actions.web-canary forwards to web-next:80, which has no target group',
      }),
    ]);
  });

  it('resolves a Service port by its name, as the controller does', async () => {
    const setup = start();
    sim.editIngress('shop', 'web', (ingress) => {
      (ingress.metadata.annotations ??= {})['alb.ingress.kubernetes.io/actions.web-canary'] = JSON.stringify({
        type: 'forward',
        forwardConfig: {
          targetGroups: [
            { serviceName: 'web-stable', servicePort: 'http', weight: 60 },
            { serviceName: 'web-canary', servicePort: 'http', weight: 40 },
          ],
        },
      });
    });
    expect(await observed(setup)).toBe(40);
  });

  it('adds its events and the calls to a rehearsal timeline', async () => {
    installVirtualClock();
    try {
      const runStartedAt = Date.now();
      const setup = start();
      await setWeight(setup, 20);
      await albEvidence('shop', setup);
      const lines = [controller.timeline, elb.timeline]
        .flatMap((source) => source(runStartedAt))
        .sort((a, b) => a.at - b.at)
        .map((entry) => `${entry.source} ${entry.text.split(':')[0] ?? ''}`);
      expect(lines).toEqual([
        'aws provisioned k8s-shop-web for Ingress shop/web',
        expect.stringMatching(
          /^aws ELBv2 DescribeTargetGroups → k8s-shop-webstabl-[0-9a-f]{10} on k8s-shop-web; /,
        ),
        'aws ELBv2 DescribeListeners → HTTP',
        'aws AWS Load Balancer Controller applied alb.ingress.kubernetes.io/actions.web-canary to 1 rule(s)',
        'aws ELBv2 DescribeRules → rule 1',
      ]);
    } finally {
      uninstallVirtualClock();
    }
  });
});

describe('the simulated Gateway API controller', () => {
  let controller: SimulatedGatewayController;

  beforeEach(() => sim.reset());
  afterEach(() => controller.dispose());

  function start(mode?: ReconcileMode) {
    controller = new SimulatedGatewayController(sim, mode ? { mode } : {});
    return controller.setup({
      namespace: 'shop',
      route: 'web',
      stable: { service: 'web-stable', port: 80 },
      canary: { service: 'web-canary', port: 80 },
    });
  }

  async function setWeight(settings: ReturnType<typeof start>['settings'], canaryWeight: number) {
    const route = await client.getHttpRoute('shop', 'web');
    return client.patchHttpRoute('shop', 'web', gatewayWeightPatch(route, settings, canaryWeight));
  }

  const conditions = async () =>
    (await client.getHttpRoute('shop', 'web')).status?.parents?.[0]?.conditions?.map((condition) => [
      condition.type,
      condition.status,
      condition.observedGeneration,
    ]);

  it('sets up the route at stable 100 / canary 0, accepted at generation 1, and its Services', async () => {
    const { settings } = start();
    const route = await client.getHttpRoute('shop', 'web');
    expect(routeAcceptance(route)).toEqual({ state: 'accepted' });
    expect(weight(gatewayObservedWeight(route, settings))).toBe(0);
    expect(route.spec.rules?.[0]?.backendRefs).toEqual([
      expect.objectContaining({ name: 'web-stable', port: 80, weight: 100 }),
      expect.objectContaining({ name: 'web-canary', port: 80, weight: 0 }),
    ]);
    expect((await client.getService('shop', 'web-stable')).spec.selector).toEqual({ app: 'web-stable' });
  });

  it('accepts the new generation in the answer to the next GET by default', async () => {
    const { settings } = start();
    const runStartedAt = Date.now();
    const patched = await setWeight(settings, 20);
    expect(patched.metadata.generation).toBe(2);
    expect(gatewayObservedWeight(patched, settings)).toMatchObject({ state: 'pending' });
    const route = await client.getHttpRoute('shop', 'web');
    expect(
      route.status?.parents?.[0]?.conditions?.map((condition) => [
        condition.type,
        condition.status,
        condition.observedGeneration,
      ]),
    ).toEqual([
      ['Accepted', 'True', 2],
      ['ResolvedRefs', 'True', 2],
    ]);
    expect(weight(gatewayObservedWeight(route, settings))).toBe(20);
    expect(controller.timeline(runStartedAt)).toEqual([
      {
        at: expect.any(Number),
        source: 'kubernetes',
        text: 'Gateway controller accepted HTTPRoute shop/web generation 2',
      },
    ]);
  });

  it('with lag 2, the first GET still shows generation 1, the second the new one', async () => {
    const { settings } = start({ lag: 2 });
    await setWeight(settings, 50);
    expect(await conditions()).toEqual([
      ['Accepted', 'True', 1],
      ['ResolvedRefs', 'True', 1],
    ]);
    const route = await client.getHttpRoute('shop', 'web');
    expect(routeAcceptance(route)).toEqual({ state: 'accepted' });
    expect(weight(gatewayConfiguredWeight(route, settings))).toBe(50);
  });

  it('never accepts in mode never: the route stays pending at the old generation', async () => {
    const { settings } = start('never');
    await setWeight(settings, 20);
    for (let read = 0; read < 4; read += 1) {
      const route = await client.getHttpRoute('shop', 'web');
      expect(gatewayObservedWeight(route, settings)).toEqual({
        state: 'pending',
        reason:
          'Gateway eg (gateway.envoyproxy.io/gatewayclass-controller): Accepted describes generation 1, the route is at 2',
      });
    }
    expect(controller.events).toEqual([]);
  });

  it('follows a hand edit of the spec like any change, and stops following once disposed', async () => {
    start();
    sim.editHttpRoute('shop', 'web', (route) => {
      const ref = route.spec.rules?.[0]?.backendRefs?.[1];
      if (ref) ref.weight = 30;
    });
    expect(await conditions()).toEqual([
      ['Accepted', 'True', 2],
      ['ResolvedRefs', 'True', 2],
    ]);
    controller.dispose();
    sim.editHttpRoute('shop', 'web', (route) => {
      const ref = route.spec.rules?.[0]?.backendRefs?.[1];
      if (ref) ref.weight = 40;
    });
    expect(await conditions()).toEqual([
      ['Accepted', 'True', 2],
      ['ResolvedRefs', 'True', 2],
    ]);
  });

  it('refuses a lag that is not a whole number of polls from 1', () => {
    expect(() => new SimulatedGatewayController(sim, { mode: { lag: 0 } })).toThrow(RangeError);
    controller = new SimulatedGatewayController(sim);
  });
});
