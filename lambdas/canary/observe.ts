import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import * as z from 'zod/mini';
import { ROUTER_CONFIRM_MINUTES, type CanaryRouter, type CanaryService } from '../../lib/config/canary';
import {
  describeLoadBalancerRules,
  describeTargetGroupAttachments,
  type ListenerRule,
} from '../aws/load-balancer-rules';
import type { KubernetesClient } from '../kubernetes/client';
import type { Service, TargetGroupBinding } from '../kubernetes/resources';
import { evaluateRollout } from '../rollback/rollout-status';
import { hasExpired, isoTimestamp } from '../shared/deadline';
import { parseOrThrow } from '../shared/errors';
import { albRouter, describeRulesOutputSchema } from './routers/alb';
import { gatewayRouter } from './routers/gateway-api';
import { replicaRatioRouter } from './routers/replica-ratio';
import { checkApplied, checkDrift, formatWeight, type StepCheck, type TrafficRouter } from './routers/router';
import { readRun, type AlbTargetsFound, type CanaryRun } from './run';
import {
  albSettings,
  deploymentPairName,
  gatewaySettings,
  readDeploymentPair,
  replicaRatioSettings,
} from './traffic';

// The canary's reads, one question per invocation of the `observe` Lambda; the workflow waits between them:
//   - canary-ready: has the canary Deployment rolled out the new version (before any traffic shifts)?
//   - traffic: does the router really route the weight the runbook last set (`run.weight`)? First the spec,
//     which only a person changes (another weight there is a hand edit), then the evidence, which the
//     controllers update asynchronously (another weight there is "not yet", until the confirmation deadline).
//   - stable-rollout: has stable rolled out the promoted template?
// Nothing here writes.

/** How long the canary's pods may take to become ready after the run starts. */
export const CANARY_READY_MINUTES = 10;
/** How long stable may take to roll out the promoted template, from `since` (the promotion). */
export const STABLE_ROLLOUT_MINUTES = 15;

const observeInputSchema = z.discriminatedUnion('what', [
  z.object({ what: z.literal('canary-ready'), run: z.unknown() }),
  z.object({ what: z.literal('traffic'), run: z.unknown() }),
  z.object({
    what: z.literal('stable-rollout'),
    run: z.unknown(),
    /** When the promotion was made (the traffic Lambda's `at` for `promote`): the deadline counts from it. */
    since: isoTimestamp,
    /** The traffic Lambda's `generation` from the promotion: the rollout counts only once the controller saw it. */
    generation: z.optional(z.int().check(z.nonnegative())),
  }),
]);

export type ObserveRequest =
  | { what: 'canary-ready' | 'traffic'; run: CanaryRun }
  | { what: 'stable-rollout'; run: CanaryRun; since: string; generation?: number };

/** The Lambda's input; a malformed run is InvalidCanaryRun, before any request is made. */
export function readObserveRequest(input: unknown): ObserveRequest {
  const parsed = parseOrThrow(observeInputSchema, input, 'The observe input');
  const run = readRun(parsed.run);
  if (parsed.what !== 'stable-rollout') return { what: parsed.what, run };
  const { since, generation } = parsed;
  return { what: parsed.what, run, since, ...(generation === undefined ? {} : { generation }) };
}

export interface RolloutObservation {
  state: 'ready' | 'progressing' | 'failed';
  detail: string;
}

export interface TrafficObservation {
  /**
   * applied: the evidence shows the weight; pending: not yet; edited: the spec says another weight than the
   * runbook set (a hand edit); mismatch: the router's objects or evidence are in a shape the runbook does not
   * manage; expired: still pending ROUTER_CONFIRM_MINUTES after the weight was set (the workflow aborts with
   * reason traffic-not-applied).
   */
  state: 'applied' | 'pending' | 'edited' | 'mismatch' | 'expired';
  /** The canary's share the evidence shows (applied, or pending when known), or the spec's (edited). */
  weight?: number;
  detail: string;
  /** ALB router: where the weight was confirmed and the analysis reads its metrics, once found. */
  alb?: AlbTargetsFound;
  /** Applied: the first whole minute with the weight in place, where the step's analysis window starts. */
  windowStart?: string;
  /** Applied: when to analyse: the window's `intervalSeconds` over, and a minute for CloudWatch to publish the last. */
  analyseAt?: string;
}

const MINUTE_MS = 60_000;

/** The step's analysis window, from the moment its weight is seen applied. */
export function analysisWindow(
  intervalSeconds: number,
  appliedAt: Date,
): { windowStart: string; analyseAt: string } {
  const start = Math.ceil(appliedAt.getTime() / MINUTE_MS) * MINUTE_MS;
  return {
    windowStart: new Date(start).toISOString(),
    analyseAt: new Date(start + intervalSeconds * 1000 + MINUTE_MS).toISOString(),
  };
}

export type Observation = RolloutObservation | TrafficObservation;

export interface ObserveDeps {
  kubernetes: { clientFor(cluster: string): Promise<KubernetesClient> };
  elb: ElasticLoadBalancingV2Client;
  now: () => Date;
}

/** Answers one question about the run's service; the workflow routes on `state`. */
export async function observe(request: ObserveRequest, deps: ObserveDeps): Promise<Observation> {
  const { run } = request;
  const client = await deps.kubernetes.clientFor(run.service.cluster);
  const now = deps.now();
  switch (request.what) {
    case 'canary-ready':
      return observeRollout(client, run.service, 'canary', {
        since: run.startedAt,
        minutes: CANARY_READY_MINUTES,
        what: 'the run started',
        now,
      });
    case 'stable-rollout':
      return observeRollout(client, run.service, 'stable', {
        since: request.since,
        minutes: STABLE_ROLLOUT_MINUTES,
        what: 'the promotion',
        now,
        ...(request.generation === undefined ? {} : { generation: request.generation }),
      });
    case 'traffic': {
      const observed = await observeTraffic(client, deps.elb, run, now);
      return observed.state === 'applied'
        ? { ...observed, ...analysisWindow(run.intervalSeconds, now) }
        : observed;
    }
  }
}

/** `kubectl rollout status` of the canary or stable Deployment, failed when not done by the deadline. */
async function observeRollout(
  client: KubernetesClient,
  service: CanaryService,
  role: 'canary' | 'stable',
  deadline: { since: string; minutes: number; what: string; now: Date; generation?: number },
): Promise<RolloutObservation> {
  const name = role === 'canary' ? service.canaryDeployment : service.stableDeployment;
  const deployment = await client.getDeployment(service.namespace, name);
  const status = evaluateRollout(deployment);
  if (status.state === 'failed') return { state: 'failed', detail: status.message };
  // A read from before the promotion reached the controller still describes the previous template as complete.
  const behind = deadline.generation !== undefined && status.observedGeneration < deadline.generation;
  if (status.state === 'complete' && !behind) return { state: 'ready', detail: status.message };
  const detail = behind
    ? `Waiting for deployment "${name}" generation ${deadline.generation} (${deadline.what}) to be observed; the controller has seen ${status.observedGeneration}...`
    : status.message;
  if (hasExpired(deadline.since, deadline.minutes * 60, deadline.now)) {
    return {
      state: 'failed',
      detail: `${detail} Still not rolled out ${deadline.minutes} minutes after ${deadline.what} (${deadline.since}).`,
    };
  }
  return { state: 'progressing', detail };
}

/** Whether the router routes `run.weight`: the spec first (a hand edit), then the evidence. */
async function observeTraffic(
  client: KubernetesClient,
  elb: ElasticLoadBalancingV2Client,
  run: CanaryRun,
  now: Date,
): Promise<TrafficObservation> {
  const { service, weight } = run;
  const { namespace, router } = service;
  /** The evidence's verdict; `pending` turns `expired` once the router has had its time. */
  const verdict = (check: StepCheck, where: string, alb?: AlbTargetsFound): TrafficObservation => {
    const found = alb ? { alb } : {};
    if (check.state === 'applied') {
      return {
        state: 'applied',
        weight: check.weight,
        detail: `${where} gives the canary ${formatWeight(check.weight)}`,
        ...found,
      };
    }
    if (check.state === 'mismatch')
      return { state: 'mismatch', detail: `${where}: ${check.reason}`, ...found };
    const observed = check.observedWeight === undefined ? {} : { weight: check.observedWeight };
    const setAt = run.weightSetAt ?? run.startedAt;
    if (hasExpired(setAt, ROUTER_CONFIRM_MINUTES * 60, now)) {
      return {
        state: 'expired',
        detail:
          `${where} still does not route the canary's ${formatWeight(weight)} ${ROUTER_CONFIRM_MINUTES} minutes ` +
          `after it was set (${setAt}): ${check.reason}`,
        ...observed,
        ...found,
      };
    }
    return { state: 'pending', detail: `${where}: ${check.reason}`, ...observed, ...found };
  };

  switch (router.type) {
    case 'alb': {
      const alb = albRouter(albSettings(router));
      const where = `Ingress ${namespace}/${router.ingress}`;
      const ingress = await client.getIngress(namespace, router.ingress);
      const edited = editedSpec(alb, ingress, weight, where);
      if (edited) return edited;
      const targets = await findAlbTargets(client, elb, namespace, router);
      if (targets.state === 'canary-unrouted') {
        // No load balancer sends the canary anything: what weight 0 asks for; another weight is not applied yet.
        return weight === 0
          ? {
              state: 'applied',
              weight: 0,
              detail: `${where}: ${targets.reason}, so the canary gets no traffic`,
            }
          : verdict({ state: 'pending', reason: targets.reason }, where);
      }
      if (targets.state !== 'found') return verdict({ state: targets.state, reason: targets.reason }, where);
      const ruleArns = rulesForwardingTo(targets.rules, targets.alb.canaryTargetGroupArn);
      const check = checkApplied(
        alb,
        {
          describeRules: { Rules: targets.rules },
          stableTargetGroupArn: targets.alb.stableTargetGroupArn,
          canaryTargetGroupArn: targets.alb.canaryTargetGroupArn,
          ...(ruleArns.length > 0 ? { ruleArns } : {}),
        },
        weight,
      );
      return verdict(check, `load balancer ${targets.alb.loadBalancerArn}`, targets.alb);
    }
    case 'gateway-api': {
      const gateway = gatewayRouter(gatewaySettings(router));
      const where = `HTTPRoute ${namespace}/${router.httpRoute}`;
      const route = await client.getHttpRoute(namespace, router.httpRoute);
      return (
        editedSpec(gateway, route, weight, where) ?? verdict(checkApplied(gateway, route, weight), where)
      );
    }
    case 'replica-ratio': {
      const ratio = replicaRatioRouter(replicaRatioSettings(service, router));
      const where = deploymentPairName(service);
      const pair = await readDeploymentPair(client, service);
      return (
        editedSpec(ratio, pair, weight, where) ??
        verdict(checkApplied(ratio, pair, weight), `the available pods of ${where}`)
      );
    }
  }
}

/** The observation for a spec that no longer says `weight`, or undefined when it still does. */
function editedSpec<Target, Change, Evidence>(
  router: TrafficRouter<Target, Change, Evidence>,
  current: Target,
  weight: number,
  where: string,
): TrafficObservation | undefined {
  const drift = checkDrift(router, current, weight);
  if (drift.state === 'unchanged') return undefined;
  const configured = router.configured(current);
  return {
    state: 'edited',
    ...(configured.state === 'weight' ? { weight: configured.weight } : {}),
    detail: `${where}: ${drift.reason}. Someone changed the split by hand since the runbook set it.`,
  };
}

type RouterOfAlb = Extract<CanaryRouter, { type: 'alb' }>;
type Backend = RouterOfAlb['stable'];

type AlbTargetsSearch =
  | { state: 'found'; alb: AlbTargetsFound; rules: ListenerRule[] }
  | { state: 'pending' | 'mismatch'; reason: string }
  /** The canary's Service has no target group on a load balancer: the canary gets no traffic from it. */
  | { state: 'canary-unrouted'; reason: string };

/**
 * The load balancer behind the ALB router and its rules: the target groups of the stable and canary Services
 * (from the TargetGroupBindings the load balancer controller makes, the AWS Load Balancer Controller's or EKS Auto
 * Mode's, by Service name and port), the one load balancer both are attached to, and every rule of its listeners.
 * A target group not made or not attached yet is `pending`: the controller makes and attaches it when it
 * reconciles the Ingress.
 */
async function findAlbTargets(
  client: KubernetesClient,
  elb: ElasticLoadBalancingV2Client,
  namespace: string,
  router: RouterOfAlb,
): Promise<AlbTargetsSearch> {
  const bindings = await client.listTargetGroupBindings(namespace);
  const services = new Map<string, Promise<Service>>();
  const serviceNamed = (name: string): Promise<Service> => {
    let service = services.get(name);
    if (!service) {
      service = client.getService(namespace, name);
      services.set(name, service);
    }
    return service;
  };
  const boundTo = async (backend: Backend): Promise<string[]> => {
    const arns = new Set<string>();
    for (const binding of bindings) {
      if (await bindsBackend(binding, backend, serviceNamed)) arns.add(binding.spec.targetGroupARN);
    }
    return [...arns];
  };
  const unbound = (role: string, backend: Backend) =>
    `no TargetGroupBinding in namespace ${namespace} binds the ${role} Service ${backend.service} port ${backend.port} yet: the load balancer controller (the AWS Load Balancer Controller, or EKS Auto Mode's) makes one, with its target group, when it reconciles the Ingress`;
  const stableArns = await boundTo(router.stable);
  if (stableArns.length === 0) return { state: 'pending', reason: unbound('stable', router.stable) };
  const canaryArns = await boundTo(router.canary);
  if (canaryArns.length === 0) return { state: 'canary-unrouted', reason: unbound('canary', router.canary) };

  const attachments = await describeTargetGroupAttachments(elb, [...stableArns, ...canaryArns]);
  const loadBalancersOf = (arn: string) =>
    attachments.find((attachment) => attachment.targetGroupArn === arn)?.loadBalancerArns ?? [];
  const pairs = stableArns.flatMap((stableTargetGroupArn) =>
    canaryArns.flatMap((canaryTargetGroupArn) =>
      loadBalancersOf(stableTargetGroupArn)
        .filter((loadBalancerArn) => loadBalancersOf(canaryTargetGroupArn).includes(loadBalancerArn))
        .map((loadBalancerArn) => ({ loadBalancerArn, stableTargetGroupArn, canaryTargetGroupArn })),
    ),
  );
  const [pair, ...others] = pairs;
  if (!pair && canaryArns.every((arn) => loadBalancersOf(arn).length === 0)) {
    return {
      state: 'canary-unrouted',
      reason: `the canary's target group (${canaryArns.join(', ')}) is attached to no load balancer yet`,
    };
  }
  if (!pair) {
    return {
      state: 'pending',
      reason: `the stable (${stableArns.join(', ')}) and canary (${canaryArns.join(', ')}) target groups are not attached to one load balancer yet`,
    };
  }
  if (others.length > 0) {
    return {
      state: 'mismatch',
      reason: `the stable and canary Services have target groups on several load balancers (${[...new Set(pairs.map((found) => found.loadBalancerArn))].join(', ')}): the runbook cannot tell which one the Ingress uses`,
    };
  }
  const listeners = await describeLoadBalancerRules(elb, pair.loadBalancerArn);
  return {
    state: 'found',
    alb: { ...pair, listenerArns: listeners.map((listener) => listener.listenerArn) },
    rules: listeners.flatMap((listener) => listener.rules),
  };
}

/**
 * The rules whose forward action lists the canary's target group: the ones the action annotation made (the
 * runbook always writes the canary into it, at weight 0 between runs). Another rule of the same IngressGroup
 * sending to the stable Service directly never takes the canary's weight, and would keep the step pending. None
 * yet (an action that forwarded to stable alone before the first run): every rule counts.
 */
function rulesForwardingTo(rules: ListenerRule[], targetGroupArn: string): string[] {
  const parsed = z.safeParse(describeRulesOutputSchema, { Rules: rules });
  // A malformed answer goes to the router whole, which names what is wrong with it.
  if (!parsed.success) return [];
  return (parsed.data.Rules ?? []).flatMap((rule) =>
    rule.RuleArn !== undefined &&
    (rule.Actions ?? []).some(
      (action) =>
        action.Type === 'forward' &&
        (action.TargetGroupArn === targetGroupArn ||
          (action.ForwardConfig?.TargetGroups ?? []).some(
            (group) => group.TargetGroupArn === targetGroupArn,
          )),
    )
      ? [rule.RuleArn]
      : [],
  );
}

/**
 * Whether a TargetGroupBinding registers the Service port the router names. Both name the port by number or by
 * name; when one says a number and the other a name, the Service's ports say whether they are the same port.
 */
async function bindsBackend(
  binding: TargetGroupBinding,
  backend: Backend,
  serviceNamed: (name: string) => Promise<Service>,
): Promise<boolean> {
  const { name, port } = binding.spec.serviceRef;
  if (name !== backend.service) return false;
  if (String(port) === String(backend.port)) return true;
  if (typeof port === typeof backend.port) return false;
  const portName = typeof port === 'string' ? port : backend.port;
  const portNumber = typeof port === 'number' ? port : backend.port;
  const service = await serviceNamed(name);
  return (service.spec.ports ?? []).some((entry) => entry.name === portName && entry.port === portNumber);
}
