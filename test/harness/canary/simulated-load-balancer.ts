import { createHash } from 'node:crypto';
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
  type DescribeListenersCommandInput,
  type DescribeRulesCommandInput,
  type DescribeTargetGroupsCommandInput,
  type Listener,
  type LoadBalancer,
  type Rule,
  type RuleCondition,
  type TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import type { TimelineEntry } from '../rehearsal';
import { ACCOUNT, REGION } from '../simulated-account';
import { timelineNow } from '../virtual-clock';

// Elastic Load Balancing v2 as the canary's ALB router reads it, in-process (aws-sdk-client-mock answers every
// ElasticLoadBalancingV2Client's `send`): from a Service's target group (its TargetGroupBinding's ARN) to the load
// balancer (DescribeTargetGroups → LoadBalancerArns), its listeners (DescribeListeners) and their rules
// (DescribeRules), whose forward actions carry the weights the AWS Load Balancer Controller applied. What it keeps
// faithful:
// - ARNs as ELBv2 writes them (loadbalancer/app/<name>/<id>, listener/app/…, listener-rule/app/…,
//   targetgroup/<name>/<id>); a target group's LoadBalancerArns are the load balancers whose rules forward to it;
// - each listener's default rule (IsDefault, Priority `default`, last), other rules by priority;
// - the lookups' rules: target groups by ARNs, names or load balancer (one of them; an unknown one is
//   TargetGroupNotFoundException, wire code TargetGroupNotFound), listeners by load balancer or ARNs, rules by
//   listener or ARNs (one of the two: ValidationError otherwise); unknown ones are the modelled
//   LoadBalancerNotFoundException, ListenerNotFoundException, RuleNotFoundException;
// - pagination: PageSize 1–400 (ValidationError outside), an opaque Marker, NextMarker while more remain;
// - faults by ELBv2's codes: `Throttling` ("Rate exceeded", a 400), `InternalFailure`, `ServiceUnavailable`,
//   once or N times, as the SDK surfaces them after its own retries.
// The weights on the rules are written by a controller (test/harness/canary/controllers.ts), which reconciles when
// DescribeRules is called (`beforeDescribeRules`), so "not applied yet" is a number of polls, not of real time.

export type ElbOperation = 'DescribeTargetGroups' | 'DescribeListeners' | 'DescribeRules';

export interface ElbFault {
  operation: ElbOperation;
  /** @default 'Throttling' */
  name?: 'Throttling' | 'InternalFailure' | 'ServiceUnavailable';
  /** How many calls it answers; Infinity for every one. @default 1 */
  times?: number;
}

export interface ElbCall {
  operation: ElbOperation;
  /** `timelineNow()` when it was answered: after a controller reconciled in it, so its line follows theirs. */
  at: number;
  input: DescribeTargetGroupsCommandInput | DescribeListenersCommandInput | DescribeRulesCommandInput;
  /** The answer in a few words (the rules' weights, for DescribeRules), or the error's name. */
  outcome: string;
  error?: string;
}

export interface AddLoadBalancerOptions {
  name: string;
  /** Default `<name>-<10 digits>.<region>.elb.amazonaws.com`. */
  dnsName?: string;
  /** @default 'internet-facing' */
  scheme?: 'internet-facing' | 'internal';
}

export interface AddListenerOptions {
  loadBalancerArn: string;
  /** @default 80 */
  port?: number;
  /** @default 'HTTP' */
  protocol?: 'HTTP' | 'HTTPS';
  /** The default rule's actions. Default a fixed 404, as the AWS Load Balancer Controller sets. */
  defaultActions?: Action[];
}

export interface AddTargetGroupOptions {
  name: string;
  /** The targets' port. @default 8080 */
  port?: number;
  /** @default 'ip' */
  targetType?: 'ip' | 'instance';
}

export interface AddRuleOptions {
  listenerArn: string;
  /** 1–50000, unique on the listener. */
  priority: number;
  /** Default none (matches everything). */
  conditions?: RuleCondition[];
  actions: Action[];
}

/** What a hook before DescribeRules is told: the call's input, before it is answered. */
export type DescribeRulesHook = (input: DescribeRulesCommandInput) => void;

const MAX_PAGE_SIZE = 400;
const VPC_ID = 'vpc-0a1b2c3d4e5f60718';

/** A 16-hex-digit id, the same for the same seed: a rehearsal's ARNs are the same run after run. */
const idOf = (seed: string): string => createHash('sha256').update(seed).digest('hex').slice(0, 16);

/** The part of an ARN after the resource type: names and ids, for short messages. */
const shortArn = (arn: string): string => arn.split(':').at(-1) ?? arn;

function validationError(message: string): Error {
  return new ElasticLoadBalancingV2ServiceException({
    name: 'ValidationError',
    $fault: 'client',
    message,
    $metadata: { httpStatusCode: 400 },
  });
}

function serviceFault(name: NonNullable<ElbFault['name']>, operation: ElbOperation): Error {
  const throttled = name === 'Throttling';
  return new ElasticLoadBalancingV2ServiceException({
    name,
    $fault: throttled ? 'client' : 'server',
    message: throttled ? 'Rate exceeded' : `${name} (simulated ${operation})`,
    $metadata: { httpStatusCode: throttled ? 400 : name === 'ServiceUnavailable' ? 503 : 500 },
  });
}

/** The target group ARNs an action forwards to, whichever way it names them. */
function forwardedTargetGroups(action: Action): string[] {
  if (action.Type !== 'forward') return [];
  const groups = (action.ForwardConfig?.TargetGroups ?? []).flatMap((group) =>
    group.TargetGroupArn ? [group.TargetGroupArn] : [],
  );
  return groups.length > 0 ? groups : action.TargetGroupArn ? [action.TargetGroupArn] : [];
}

/**
 * Entries of a rehearsal's timeline from calls stamped with `timelineNow()`: `runStartedAt` comes on the (virtual)
 * `Date` clock, as `Rehearsal.addTimelineSource` passes it.
 */
export function peerTimeline(
  runStartedAt: number,
  lines: ReadonlyArray<{ at: number; text: string }>,
  source: TimelineEntry['source'] = 'aws',
): TimelineEntry[] {
  // `Date.now()` is the real clock plus the Waits' offset, `timelineNow()` the monotonic clock plus the same offset:
  // they differ by the monotonic clock's origin, a constant, so every source converts alike (no sub-ms jitter).
  const start = runStartedAt - performance.timeOrigin;
  return lines
    .filter((line) => line.at >= start)
    .map((line) => ({ at: line.at - start, source, text: line.text }));
}

export class SimulatedLoadBalancer {
  readonly calls: ElbCall[] = [];
  private readonly faults: Array<Required<ElbFault>> = [];
  private readonly loadBalancers = new Map<string, LoadBalancer>();
  private readonly listeners = new Map<string, Listener>();
  /** Rules by ARN, each with its listener's ARN. */
  private readonly rules = new Map<string, { listenerArn: string; rule: Rule }>();
  private readonly targetGroups = new Map<string, TargetGroup>();
  private readonly hooks = new Set<DescribeRulesHook>();
  private readonly mock = mockClient(ElasticLoadBalancingV2Client);

  private constructor(readonly region: string) {
    this.mock
      .on(DescribeTargetGroupsCommand)
      .callsFake(async (input: DescribeTargetGroupsCommandInput) =>
        this.answer('DescribeTargetGroups', input, () => this.describeTargetGroups(input)),
      );
    this.mock
      .on(DescribeListenersCommand)
      .callsFake(async (input: DescribeListenersCommandInput) =>
        this.answer('DescribeListeners', input, () => this.describeListeners(input)),
      );
    this.mock
      .on(DescribeRulesCommand)
      .callsFake(async (input: DescribeRulesCommandInput) =>
        this.answer('DescribeRules', input, () => this.describeRules(input)),
      );
  }

  /** Answers every ElasticLoadBalancingV2Client from now until `restore()` (a later mock of the client replaces it). */
  static install(options: { region?: string } = {}): SimulatedLoadBalancer {
    return new SimulatedLoadBalancer(options.region ?? REGION);
  }

  restore(): void {
    this.mock.restore();
  }

  /** Forgets every resource, fault, call and hook. */
  reset(): void {
    this.calls.length = 0;
    this.faults.length = 0;
    this.loadBalancers.clear();
    this.listeners.clear();
    this.rules.clear();
    this.targetGroups.clear();
    this.hooks.clear();
  }

  injectFault(fault: ElbFault): void {
    this.faults.push({ name: 'Throttling', times: 1, ...fault });
  }

  /** Called before each DescribeRules is answered (not a faulted one): a controller reconciles there. */
  beforeDescribeRules(hook: DescribeRulesHook): () => void {
    this.hooks.add(hook);
    return () => this.hooks.delete(hook);
  }

  /** The calls' lines: a `TimelineSource`, bound, for `rehearsal.addTimelineSource(elb.timeline)`. */
  readonly timeline = (runStartedAt: number): TimelineEntry[] =>
    peerTimeline(
      runStartedAt,
      this.calls.map((call) => ({ at: call.at, text: `ELBv2 ${call.operation} → ${call.outcome}` })),
    );

  addLoadBalancer({ name, dnsName, scheme = 'internet-facing' }: AddLoadBalancerOptions): LoadBalancer & {
    LoadBalancerArn: string;
  } {
    const arn = `arn:aws:elasticloadbalancing:${this.region}:${ACCOUNT}:loadbalancer/app/${name}/${idOf(`lb:${name}`)}`;
    if (this.loadBalancers.has(arn)) throw new Error(`simulated ELBv2: load balancer ${name} exists`);
    const digits = BigInt(`0x${idOf(`dns:${name}`)}`) % 10_000_000_000n;
    const loadBalancer = {
      LoadBalancerArn: arn,
      LoadBalancerName: name,
      DNSName: dnsName ?? `${name}-${digits.toString().padStart(10, '0')}.${this.region}.elb.amazonaws.com`,
      Scheme: scheme,
      Type: 'application' as const,
      State: { Code: 'active' as const },
      VpcId: VPC_ID,
      IpAddressType: 'ipv4' as const,
    };
    this.loadBalancers.set(arn, loadBalancer);
    return structuredClone(loadBalancer);
  }

  /** A listener with its default rule. Answers the listener's ARN. */
  addListener({ loadBalancerArn, port = 80, protocol = 'HTTP', defaultActions }: AddListenerOptions): string {
    const loadBalancer = this.loadBalancers.get(loadBalancerArn);
    if (!loadBalancer) throw new Error(`simulated ELBv2: no load balancer ${loadBalancerArn}`);
    const path = shortArn(loadBalancerArn).replace(/^loadbalancer\//, '');
    const arn = `arn:aws:elasticloadbalancing:${this.region}:${ACCOUNT}:listener/${path}/${idOf(`listener:${path}:${port}`)}`;
    if (this.listeners.has(arn))
      throw new Error(`simulated ELBv2: ${loadBalancer.LoadBalancerName} listens on ${port}`);
    const actions = defaultActions ?? [
      {
        Type: 'fixed-response' as const,
        Order: 1,
        FixedResponseConfig: { StatusCode: '404', ContentType: 'text/plain', MessageBody: '' },
      },
    ];
    this.listeners.set(arn, {
      ListenerArn: arn,
      LoadBalancerArn: loadBalancerArn,
      Port: port,
      Protocol: protocol,
      DefaultActions: structuredClone(actions),
    });
    const ruleArn = `${arn.replace(':listener/', ':listener-rule/')}/${idOf(`default:${arn}`)}`;
    this.rules.set(ruleArn, {
      listenerArn: arn,
      rule: {
        RuleArn: ruleArn,
        Priority: 'default',
        IsDefault: true,
        Conditions: [],
        Actions: structuredClone(actions),
      },
    });
    return arn;
  }

  /** Answers the target group's ARN. */
  addTargetGroup({ name, port = 8080, targetType = 'ip' }: AddTargetGroupOptions): string {
    const arn = `arn:aws:elasticloadbalancing:${this.region}:${ACCOUNT}:targetgroup/${name}/${idOf(`tg:${name}`)}`;
    if (this.targetGroups.has(arn)) throw new Error(`simulated ELBv2: target group ${name} exists`);
    this.targetGroups.set(arn, {
      TargetGroupArn: arn,
      TargetGroupName: name,
      Protocol: 'HTTP',
      ProtocolVersion: 'HTTP1',
      Port: port,
      VpcId: VPC_ID,
      TargetType: targetType,
      IpAddressType: 'ipv4',
      HealthCheckProtocol: 'HTTP',
      HealthCheckPort: 'traffic-port',
      HealthCheckPath: '/',
      HealthCheckEnabled: true,
      HealthCheckIntervalSeconds: 15,
      HealthCheckTimeoutSeconds: 5,
      HealthyThresholdCount: 2,
      UnhealthyThresholdCount: 2,
      Matcher: { HttpCode: '200' },
    });
    return arn;
  }

  /** Answers the rule's ARN. */
  addRule({ listenerArn, priority, conditions = [], actions }: AddRuleOptions): string {
    if (!this.listeners.has(listenerArn)) throw new Error(`simulated ELBv2: no listener ${listenerArn}`);
    if (this.rulesOf(listenerArn).some((rule) => rule.Priority === String(priority))) {
      throw new Error(`simulated ELBv2: priority ${priority} is in use on ${shortArn(listenerArn)}`);
    }
    this.assertTargetGroups(actions);
    const arn = `${listenerArn.replace(':listener/', ':listener-rule/')}/${idOf(`rule:${listenerArn}:${priority}`)}`;
    this.rules.set(arn, {
      listenerArn,
      rule: {
        RuleArn: arn,
        Priority: String(priority),
        IsDefault: false,
        Conditions: structuredClone(conditions),
        Actions: structuredClone(actions),
      },
    });
    return arn;
  }

  /** What ModifyRule does to a rule's actions: how a controller applies weights. */
  setRuleActions(ruleArn: string, actions: Action[]): void {
    const stored = this.rules.get(ruleArn);
    if (!stored) throw new Error(`simulated ELBv2: no rule ${ruleArn}`);
    this.assertTargetGroups(actions);
    stored.rule.Actions = structuredClone(actions);
  }

  rule(ruleArn: string): Rule | undefined {
    const stored = this.rules.get(ruleArn);
    return stored && structuredClone(stored.rule);
  }

  targetGroupName(arn: string): string | undefined {
    return this.targetGroups.get(arn)?.TargetGroupName;
  }

  private assertTargetGroups(actions: Action[]): void {
    for (const arn of actions.flatMap(forwardedTargetGroups)) {
      if (!this.targetGroups.has(arn)) throw new Error(`simulated ELBv2: no target group ${arn}`);
    }
  }

  private rulesOf(listenerArn: string): Rule[] {
    const priority = (rule: Rule) => (rule.IsDefault ? Number.POSITIVE_INFINITY : Number(rule.Priority));
    return [...this.rules.values()]
      .filter((stored) => stored.listenerArn === listenerArn)
      .map((stored) => stored.rule)
      .sort((a, b) => priority(a) - priority(b));
  }

  /** Records the call; answers the injected fault if one is due, else `produce()`'s answer. */
  private answer<T extends { outcome: string }>(
    operation: ElbOperation,
    input: ElbCall['input'],
    produce: () => T,
  ): Omit<T, 'outcome'> {
    const call: ElbCall = { operation, at: timelineNow(), input: structuredClone(input), outcome: '' };
    this.calls.push(call);
    try {
      const fault = this.faults.find((candidate) => candidate.operation === operation && candidate.times > 0);
      if (fault) {
        fault.times -= 1;
        throw serviceFault(fault.name, operation);
      }
      const { outcome, ...output } = produce();
      call.outcome = outcome;
      call.at = timelineNow();
      return output;
    } catch (error) {
      call.error = error instanceof Error ? error.name : String(error);
      call.outcome = call.error;
      throw error;
    }
  }

  /** One page of `items` from the call's Marker, of its PageSize. */
  private page<T>(
    operation: ElbOperation,
    items: T[],
    marker: string | undefined,
    pageSize: number | undefined,
  ): { page: T[]; NextMarker?: string } {
    if (pageSize !== undefined && (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE)) {
      throw validationError(
        `1 validation error detected: Value '${pageSize}' at 'pageSize' failed to satisfy constraint: Member must have value ${pageSize < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_PAGE_SIZE}`}`,
      );
    }
    let offset = 0;
    if (marker !== undefined) {
      const decoded = /^(\w+):(\d+)$/.exec(Buffer.from(marker, 'base64url').toString('utf8'));
      if (!decoded || decoded[1] !== operation) throw validationError('The marker is not valid');
      offset = Number(decoded[2]);
    }
    const size = pageSize ?? MAX_PAGE_SIZE;
    const page = items.slice(offset, offset + size);
    return offset + size < items.length
      ? { page, NextMarker: Buffer.from(`${operation}:${offset + size}`).toString('base64url') }
      : { page };
  }

  private describeTargetGroups(input: DescribeTargetGroupsCommandInput) {
    const { TargetGroupArns: arns, Names: names, LoadBalancerArn: loadBalancerArn } = input;
    const given = [arns?.length, names?.length, loadBalancerArn].filter(Boolean).length;
    if (given > 1) {
      throw validationError(
        'Target group ARNs, target group names and a load balancer ARN cannot be combined',
      );
    }
    let listed: TargetGroup[];
    if (arns?.length) {
      listed = arns.map((arn) => this.targetGroups.get(arn) ?? this.targetGroupNotFound());
    } else if (names?.length) {
      listed = names.map(
        (name) =>
          [...this.targetGroups.values()].find((group) => group.TargetGroupName === name) ??
          this.targetGroupNotFound(),
      );
    } else if (loadBalancerArn) {
      if (!this.loadBalancers.has(loadBalancerArn)) this.loadBalancerNotFound(loadBalancerArn);
      listed = [...this.targetGroups.values()].filter((group) =>
        this.loadBalancersOf(group.TargetGroupArn ?? '').includes(loadBalancerArn),
      );
    } else {
      listed = [...this.targetGroups.values()];
    }
    const { page, NextMarker } = this.page('DescribeTargetGroups', listed, input.Marker, input.PageSize);
    const TargetGroups = page.map((group) => ({
      ...structuredClone(group),
      LoadBalancerArns: this.loadBalancersOf(group.TargetGroupArn ?? ''),
    }));
    return {
      TargetGroups,
      ...(NextMarker && { NextMarker }),
      outcome: TargetGroups.map(
        (group) =>
          `${group.TargetGroupName} on ${group.LoadBalancerArns.map((arn) => this.loadBalancers.get(arn)?.LoadBalancerName).join(', ') || 'no load balancer'}`,
      ).join('; '),
    };
  }

  private describeListeners(input: DescribeListenersCommandInput) {
    const { LoadBalancerArn: loadBalancerArn, ListenerArns: arns } = input;
    if (loadBalancerArn && arns?.length) {
      throw validationError('A load balancer ARN and listener ARNs cannot be specified at the same time');
    }
    if (!loadBalancerArn && !arns?.length) {
      throw validationError('A load balancer ARN or listener ARNs must be specified');
    }
    let listed: Listener[];
    if (loadBalancerArn) {
      if (!this.loadBalancers.has(loadBalancerArn)) this.loadBalancerNotFound(loadBalancerArn);
      listed = [...this.listeners.values()].filter(
        (listener) => listener.LoadBalancerArn === loadBalancerArn,
      );
    } else {
      listed = (arns ?? []).map((arn) => {
        const listener = this.listeners.get(arn);
        if (!listener) {
          throw new ListenerNotFoundException({
            message: `One or more listeners not found`,
            $metadata: { httpStatusCode: 400 },
          });
        }
        return listener;
      });
    }
    const { page, NextMarker } = this.page('DescribeListeners', listed, input.Marker, input.PageSize);
    return {
      Listeners: structuredClone(page),
      ...(NextMarker && { NextMarker }),
      outcome:
        page.map((listener) => `${listener.Protocol ?? ''}:${listener.Port ?? ''}`).join(', ') || 'none',
    };
  }

  private describeRules(input: DescribeRulesCommandInput) {
    const { ListenerArn: listenerArn, RuleArns: arns } = input;
    if (listenerArn && arns?.length) {
      throw validationError('A listener ARN and rule ARNs cannot be specified at the same time');
    }
    if (!listenerArn && !arns?.length) throw validationError('A listener ARN or rule ARNs must be specified');
    if (listenerArn && !this.listeners.has(listenerArn)) {
      throw new ListenerNotFoundException({
        message: `Listener '${listenerArn}' not found`,
        $metadata: { httpStatusCode: 400 },
      });
    }
    for (const arn of arns ?? []) {
      if (!this.rules.has(arn)) {
        throw new RuleNotFoundException({
          message: `One or more rules not found`,
          $metadata: { httpStatusCode: 400 },
        });
      }
    }
    for (const hook of this.hooks) hook(structuredClone(input));
    const listed = listenerArn
      ? this.rulesOf(listenerArn)
      : (arns ?? []).flatMap((arn) => this.rules.get(arn)?.rule ?? []);
    const { page, NextMarker } = this.page('DescribeRules', listed, input.Marker, input.PageSize);
    return {
      Rules: structuredClone(page),
      ...(NextMarker && { NextMarker }),
      outcome: page.map((rule) => this.describeRule(rule)).join('; '),
    };
  }

  /** A rule in a few words: its priority and where it forwards, with weights. */
  private describeRule(rule: Rule): string {
    const forwards = (rule.Actions ?? []).filter((action) => action.Type === 'forward');
    const to = forwards.flatMap((action) =>
      action.ForwardConfig?.TargetGroups?.length
        ? action.ForwardConfig.TargetGroups.map(
            (group) =>
              `${this.targetGroupName(group.TargetGroupArn ?? '') ?? group.TargetGroupArn ?? '?'} ${group.Weight ?? 1}`,
          )
        : [this.targetGroupName(action.TargetGroupArn ?? '') ?? action.TargetGroupArn ?? '?'],
    );
    const what = to.length > 0 ? to.join(', ') : (rule.Actions?.[0]?.Type ?? 'no action');
    return `${rule.IsDefault ? 'default' : `rule ${rule.Priority ?? '?'}`}: ${what}`;
  }

  /** The load balancers whose listeners' rules forward to the target group, as ELBv2 lists them. */
  private loadBalancersOf(targetGroupArn: string): string[] {
    const arns = new Set<string>();
    for (const { listenerArn, rule } of this.rules.values()) {
      if ((rule.Actions ?? []).some((action) => forwardedTargetGroups(action).includes(targetGroupArn))) {
        const loadBalancerArn = this.listeners.get(listenerArn)?.LoadBalancerArn;
        if (loadBalancerArn) arns.add(loadBalancerArn);
      }
    }
    return [...arns];
  }

  private targetGroupNotFound(): never {
    throw new TargetGroupNotFoundException({
      message: 'One or more target groups not found',
      $metadata: { httpStatusCode: 400 },
    });
  }

  private loadBalancerNotFound(arn: string): never {
    throw new LoadBalancerNotFoundException({
      message: `Load balancers '[${arn}]' not found`,
      $metadata: { httpStatusCode: 400 },
    });
  }
}
