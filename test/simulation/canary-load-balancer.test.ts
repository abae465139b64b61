// The simulated ELBv2 the canary's ALB router is verified against, through the SDK client as the handlers call it:
// the lookup from a target group to its load balancer, listeners and rules, pagination, the errors ELBv2 answers,
// injected faults, and the lines it adds to a rehearsal's timeline.
import {
  DescribeListenersCommand,
  DescribeRulesCommand,
  DescribeTargetGroupsCommand,
  ElasticLoadBalancingV2Client,
  ElasticLoadBalancingV2ServiceException,
  ListenerNotFoundException,
  LoadBalancerNotFoundException,
  RuleNotFoundException,
  TargetGroupNotFoundException,
  type Action,
  type Rule,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedLoadBalancer } from '../harness/canary/simulated-load-balancer';
import { advanceVirtualClock, installVirtualClock, uninstallVirtualClock } from '../harness/virtual-clock';

const REGION = 'eu-west-1';

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof Error)) throw new Error('expected the call to fail');
  return outcome;
}

const forward = (...groups: Array<[string, number]>): Action[] => [
  {
    Type: 'forward',
    Order: 1,
    ForwardConfig: { TargetGroups: groups.map(([TargetGroupArn, Weight]) => ({ TargetGroupArn, Weight })) },
  },
];

const weights = (rules: Rule[] | undefined) =>
  (rules ?? []).map((rule) => [
    rule.Priority,
    rule.Actions?.[0]?.ForwardConfig?.TargetGroups?.map((group) => group.Weight) ?? rule.Actions?.[0]?.Type,
  ]);

describe('the simulated load balancer', () => {
  let elb: SimulatedLoadBalancer;
  const client = new ElasticLoadBalancingV2Client({ region: REGION });
  let stable: string;
  let canary: string;
  let other: string;
  let loadBalancerArn: string;
  let listenerArn: string;
  let ruleArns: string[];

  beforeAll(() => {
    elb = SimulatedLoadBalancer.install();
  });
  afterAll(() => elb.restore());
  beforeEach(() => {
    elb.reset();
    stable = elb.addTargetGroup({ name: 'k8s-shop-webstabl-0a1b2c3d4e' });
    canary = elb.addTargetGroup({ name: 'k8s-shop-webcanar-5f6a7b8c9d' });
    other = elb.addTargetGroup({ name: 'unattached' });
    loadBalancerArn = elb.addLoadBalancer({ name: 'k8s-shop-web' }).LoadBalancerArn;
    listenerArn = elb.addListener({ loadBalancerArn });
    ruleArns = [
      elb.addRule({ listenerArn, priority: 2, actions: forward([stable, 90], [canary, 10]) }),
      elb.addRule({ listenerArn, priority: 1, actions: forward([stable, 100], [canary, 0]) }),
    ];
  });

  describe('from a target group to the rules that weigh it', () => {
    it('finds the load balancer of the target groups, its listeners, and their rules by priority, default last', async () => {
      const groups = await client.send(
        new DescribeTargetGroupsCommand({ TargetGroupArns: [stable, canary] }),
      );
      expect(groups.TargetGroups?.map((group) => [group.TargetGroupName, group.LoadBalancerArns])).toEqual([
        ['k8s-shop-webstabl-0a1b2c3d4e', [loadBalancerArn]],
        ['k8s-shop-webcanar-5f6a7b8c9d', [loadBalancerArn]],
      ]);
      expect(groups.NextMarker).toBeUndefined();

      const listeners = await client.send(new DescribeListenersCommand({ LoadBalancerArn: loadBalancerArn }));
      expect(
        listeners.Listeners?.map((listener) => [listener.ListenerArn, listener.Protocol, listener.Port]),
      ).toEqual([[listenerArn, 'HTTP', 80]]);

      const rules = await client.send(new DescribeRulesCommand({ ListenerArn: listenerArn }));
      expect(weights(rules.Rules)).toEqual([
        ['1', [100, 0]],
        ['2', [90, 10]],
        ['default', 'fixed-response'],
      ]);
      expect(rules.Rules?.at(-1)).toMatchObject({ IsDefault: true, Conditions: [] });
    });

    it('writes ARNs as ELBv2 does', () => {
      expect(loadBalancerArn).toMatch(
        /^arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer\/app\/k8s-shop-web\/[0-9a-f]{16}$/,
      );
      expect(listenerArn).toMatch(/:listener\/app\/k8s-shop-web\/[0-9a-f]{16}\/[0-9a-f]{16}$/);
      expect(ruleArns[0]).toMatch(
        /:listener-rule\/app\/k8s-shop-web\/[0-9a-f]{16}\/[0-9a-f]{16}\/[0-9a-f]{16}$/,
      );
      expect(stable).toMatch(/:targetgroup\/k8s-shop-webstabl-0a1b2c3d4e\/[0-9a-f]{16}$/);
    });

    it('lists a target group no rule forwards to without load balancers, and by name', async () => {
      const answer = await client.send(new DescribeTargetGroupsCommand({ Names: ['unattached'] }));
      expect(answer.TargetGroups?.map((group) => [group.TargetGroupArn, group.LoadBalancerArns])).toEqual([
        [other, []],
      ]);
    });

    it("lists a load balancer's target groups", async () => {
      const answer = await client.send(new DescribeTargetGroupsCommand({ LoadBalancerArn: loadBalancerArn }));
      expect(answer.TargetGroups?.map((group) => group.TargetGroupArn)).toEqual([stable, canary]);
    });

    it('reads rules by ARN, and shows the actions a controller set', async () => {
      const [first = ''] = ruleArns;
      elb.setRuleActions(first, forward([stable, 30], [canary, 70]));
      const answer = await client.send(new DescribeRulesCommand({ RuleArns: [first] }));
      expect(weights(answer.Rules)).toEqual([['2', [30, 70]]]);
      const stored = elb.rule(first);
      expect(weights(stored && [stored])).toEqual([['2', [30, 70]]]);
    });

    it('answers copies: changing an answer changes nothing stored', async () => {
      const answer = await client.send(new DescribeRulesCommand({ ListenerArn: listenerArn }));
      const group = answer.Rules?.[0]?.Actions?.[0]?.ForwardConfig?.TargetGroups?.[0];
      if (group) group.Weight = 7;
      const again = await client.send(new DescribeRulesCommand({ ListenerArn: listenerArn }));
      expect(weights(again.Rules)[0]).toEqual(['1', [100, 0]]);
    });
  });

  describe('answers what ELBv2 answers for what it does not have', () => {
    it('an unknown target group ARN: TargetGroupNotFoundException (code TargetGroupNotFound)', async () => {
      const error = await failureOf(
        client.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [stable, `${stable}0`] })),
      );
      expect(error).toBeInstanceOf(TargetGroupNotFoundException);
      expect(error.name).toBe('TargetGroupNotFoundException');
      expect(error.message).toBe('One or more target groups not found');
    });

    it('an unknown load balancer: LoadBalancerNotFoundException, for listeners and target groups', async () => {
      const arn = `${loadBalancerArn.slice(0, -1)}0`;
      const listeners = await failureOf(client.send(new DescribeListenersCommand({ LoadBalancerArn: arn })));
      expect(listeners).toBeInstanceOf(LoadBalancerNotFoundException);
      const groups = await failureOf(client.send(new DescribeTargetGroupsCommand({ LoadBalancerArn: arn })));
      expect(groups).toBeInstanceOf(LoadBalancerNotFoundException);
    });

    it('an unknown listener or rule: ListenerNotFoundException, RuleNotFoundException', async () => {
      const listener = await failureOf(
        client.send(new DescribeRulesCommand({ ListenerArn: `${listenerArn.slice(0, -1)}0` })),
      );
      expect(listener).toBeInstanceOf(ListenerNotFoundException);
      const rule = await failureOf(
        client.send(new DescribeRulesCommand({ RuleArns: [`${ruleArns[0] ?? ''}x`] })),
      );
      expect(rule).toBeInstanceOf(RuleNotFoundException);
    });

    it('a DescribeRules without a listener or rules, or with both: ValidationError', async () => {
      for (const input of [{}, { ListenerArn: listenerArn, RuleArns: ruleArns }]) {
        const error = await failureOf(client.send(new DescribeRulesCommand(input)));
        expect(error).toBeInstanceOf(ElasticLoadBalancingV2ServiceException);
        expect(error.name).toBe('ValidationError');
      }
    });

    it('a page size over 400 or under 1: ValidationError', async () => {
      const over = await failureOf(
        client.send(new DescribeRulesCommand({ ListenerArn: listenerArn, PageSize: 401 })),
      );
      expect(over.name).toBe('ValidationError');
      expect(over.message).toContain('less than or equal to 400');
      const under = await failureOf(
        client.send(new DescribeListenersCommand({ LoadBalancerArn: loadBalancerArn, PageSize: 0 })),
      );
      expect(under.name).toBe('ValidationError');
    });
  });

  describe('pages', () => {
    it('DescribeRules follows Marker to the last page, which has no NextMarker', async () => {
      const seen: Array<string | undefined> = [];
      let marker: string | undefined;
      let pages = 0;
      do {
        const page = await client.send(
          new DescribeRulesCommand({
            ListenerArn: listenerArn,
            PageSize: 2,
            ...(marker && { Marker: marker }),
          }),
        );
        seen.push(...(page.Rules ?? []).map((rule) => rule.Priority));
        marker = page.NextMarker;
        pages += 1;
      } while (marker);
      expect(pages).toBe(2);
      expect(seen).toEqual(['1', '2', 'default']);
    });

    it('DescribeListeners and DescribeTargetGroups page too', async () => {
      elb.addListener({ loadBalancerArn, port: 443, protocol: 'HTTPS' });
      const first = await client.send(
        new DescribeListenersCommand({ LoadBalancerArn: loadBalancerArn, PageSize: 1 }),
      );
      expect(first.Listeners?.map((listener) => listener.Port)).toEqual([80]);
      const second = await client.send(
        new DescribeListenersCommand({
          LoadBalancerArn: loadBalancerArn,
          PageSize: 1,
          Marker: first.NextMarker,
        }),
      );
      expect(second.Listeners?.map((listener) => listener.Port)).toEqual([443]);
      expect(second.NextMarker).toBeUndefined();

      const groups = await client.send(new DescribeTargetGroupsCommand({ PageSize: 2 }));
      expect(groups.TargetGroups).toHaveLength(2);
      expect(groups.NextMarker).toBeDefined();
    });

    it("refuses another operation's marker", async () => {
      const first = await client.send(new DescribeRulesCommand({ ListenerArn: listenerArn, PageSize: 1 }));
      const error = await failureOf(
        client.send(
          new DescribeListenersCommand({ LoadBalancerArn: loadBalancerArn, Marker: first.NextMarker }),
        ),
      );
      expect(error.name).toBe('ValidationError');
    });
  });

  describe('faults', () => {
    it('throttles once by default, as the SDK surfaces it after its retries, then answers', async () => {
      elb.injectFault({ operation: 'DescribeRules' });
      const error = await failureOf(client.send(new DescribeRulesCommand({ ListenerArn: listenerArn })));
      expect(error).toBeInstanceOf(ElasticLoadBalancingV2ServiceException);
      expect(error).toMatchObject({ name: 'Throttling', message: 'Rate exceeded', $fault: 'client' });
      expect((error as ElasticLoadBalancingV2ServiceException).$metadata.httpStatusCode).toBe(400);
      const answer = await client.send(new DescribeRulesCommand({ ListenerArn: listenerArn }));
      expect(answer.Rules).toHaveLength(3);
      expect(elb.calls.map((call) => [call.operation, call.error])).toEqual([
        ['DescribeRules', 'Throttling'],
        ['DescribeRules', undefined],
      ]);
    });

    it('faults N times, only the operation named', async () => {
      elb.injectFault({ operation: 'DescribeTargetGroups', name: 'InternalFailure', times: 2 });
      await client.send(new DescribeRulesCommand({ ListenerArn: listenerArn }));
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const error = await failureOf(
          client.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [stable] })),
        );
        expect(error).toMatchObject({ name: 'InternalFailure', $fault: 'server' });
      }
      const answer = await client.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [stable] }));
      expect(answer.TargetGroups).toHaveLength(1);
    });

    it('a faulted DescribeRules does not reach the hooks a controller reconciles in', async () => {
      const polls: Array<string | undefined> = [];
      elb.beforeDescribeRules((input) => polls.push(input.ListenerArn));
      elb.injectFault({ operation: 'DescribeRules', times: Infinity });
      await failureOf(client.send(new DescribeRulesCommand({ ListenerArn: listenerArn })));
      expect(polls).toEqual([]);
      elb.reset();
      listenerArn = elb.addListener({
        loadBalancerArn: elb.addLoadBalancer({ name: 'again' }).LoadBalancerArn,
      });
      await client.send(new DescribeRulesCommand({ ListenerArn: listenerArn }));
      // reset forgets the hook with the faults.
      expect(polls).toEqual([]);
    });
  });

  describe('on a rehearsal timeline', () => {
    beforeAll(() => installVirtualClock());
    afterAll(() => uninstallVirtualClock());

    it('gives each call since the run started, with the weights DescribeRules showed', async () => {
      await client.send(new DescribeListenersCommand({ LoadBalancerArn: loadBalancerArn }));
      advanceVirtualClock(60);
      const runStartedAt = Date.now();
      advanceVirtualClock(30);
      await client.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [stable] }));
      elb.injectFault({ operation: 'DescribeRules' });
      await failureOf(client.send(new DescribeRulesCommand({ ListenerArn: listenerArn })));
      await client.send(new DescribeRulesCommand({ ListenerArn: listenerArn }));

      const timeline = elb.timeline(runStartedAt);
      expect(timeline.map((entry) => [entry.source, entry.text])).toEqual([
        ['aws', 'ELBv2 DescribeTargetGroups → k8s-shop-webstabl-0a1b2c3d4e on k8s-shop-web'],
        ['aws', 'ELBv2 DescribeRules → Throttling'],
        [
          'aws',
          'ELBv2 DescribeRules → rule 1: k8s-shop-webstabl-0a1b2c3d4e 100, k8s-shop-webcanar-5f6a7b8c9d 0; ' +
            'rule 2: k8s-shop-webstabl-0a1b2c3d4e 90, k8s-shop-webcanar-5f6a7b8c9d 10; default: fixed-response',
        ],
      ]);
      // Thirty virtual seconds after the start, plus the real milliseconds the calls took.
      expect(timeline[0]?.at).toBeGreaterThan(29_990);
      expect(timeline[0]?.at).toBeLessThan(35_000);
    });
  });
});

describe('restoring the simulated load balancer', () => {
  it('leaves the client to the network again', async () => {
    const elb = SimulatedLoadBalancer.install();
    const client = new ElasticLoadBalancingV2Client({ region: REGION, maxAttempts: 1 });
    await expect(client.send(new DescribeListenersCommand({}))).rejects.toMatchObject({
      name: 'ValidationError',
    });
    elb.restore();
    // Tests point the SDK at a closed loopback port: what answers now is no simulated ELBv2.
    const error = await failureOf(client.send(new DescribeListenersCommand({})));
    expect(error).not.toBeInstanceOf(ElasticLoadBalancingV2ServiceException);
  });
});
