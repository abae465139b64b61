import { createHash } from 'node:crypto';
import type { Action } from '@aws-sdk/client-elastic-load-balancing-v2';
import * as z from 'zod/mini';
import {
  albActionAnnotationKey,
  albForwardAction,
  type AlbRouterSettings,
} from '../../../lambdas/canary/routers/alb';
import type { GatewayRouterSettings } from '../../../lambdas/canary/routers/gateway-api';
import type { TimelineEntry } from '../rehearsal';
import type { SimParentRef, SimulatedKubernetesApi } from '../kubernetes/server';
import { timelineNow } from '../virtual-clock';
import { peerTimeline, type SimulatedLoadBalancer } from './simulated-load-balancer';

// The controllers that turn the canary's writes into routing, as the runbook meets them: asynchronous. The AWS
// Load Balancer Controller reconciles an Ingress's action annotation into the ALB's listener rules; a Gateway API
// implementation writes an HTTPRoute's status once it has programmed the new generation. Both are polled: they
// catch up when the runbook looks (a DescribeRules call, a GET of the route), after as many looks as their mode
// says, so "not applied yet" and "never applied" are scenarios, not timing.

/**
 * How a controller follows a change: `{ lag: n }` shows it from the n-th poll after the change (1, the default:
 * the next poll), `'never'` stops applying changes (a controller down, or failing to reconcile).
 */
export type ReconcileMode = { lag: number } | 'never';

export interface ControllerOptions {
  /** @default { lag: 1 } */
  mode?: ReconcileMode;
}

/** A Service the traffic is split to, and its port. */
export interface BackendSpec {
  service: string;
  /** The Service port's number. */
  port: number;
}

interface ControllerEvent {
  /** `timelineNow()` when it happened. */
  at: number;
  text: string;
}

function assertMode(mode: ReconcileMode): void {
  if (mode !== 'never' && (!Number.isInteger(mode.lag) || mode.lag < 1)) {
    throw new RangeError(`a controller's lag is a whole number of polls from 1, not ${mode.lag}`);
  }
}

/** The Service a setup makes for a backend: one port `http` to the pods' 8080, selecting `app: <service>`. */
function addBackendService(api: SimulatedKubernetesApi, namespace: string, backend: BackendSpec): void {
  api.addService({
    namespace,
    name: backend.service,
    selector: { app: backend.service },
    ports: [{ name: 'http', port: backend.port, targetPort: 8080 }],
  });
}

// ---------------------------------------------------------------------------------------------------------------

export interface AlbSetupOptions {
  namespace: string;
  ingress: string;
  /** `<name>` in `alb.ingress.kubernetes.io/actions.<name>`. */
  actionName: string;
  stable: BackendSpec;
  canary: BackendSpec;
  /** The Ingress's paths (Prefix) whose backend is the action: one listener rule each. @default ['/'] */
  paths?: string[];
}

export interface AlbSetup {
  /** The ALB router's settings for this Ingress (`albRouter(settings)`). */
  settings: AlbRouterSettings;
  loadBalancerArn: string;
  listenerArn: string;
  /** The listener rules of the action's paths, in path order (the default rule not included). */
  ruleArns: string[];
  stableTargetGroupArn: string;
  canaryTargetGroupArn: string;
}

/** What the controller resolves an annotation's target group against. */
interface AlbTarget {
  namespace: string;
  ingress: string;
  actionName: string;
  listenerArn: string;
  ruleArns: string[];
  /** Target group ARN by `<service>:<port number>`. */
  targetGroups: Map<string, string>;
}

const annotationSchema = z.object({
  type: z.literal('forward'),
  forwardConfig: z.object({
    targetGroups: z.array(
      z.object({
        serviceName: z.optional(z.string()),
        servicePort: z.optional(z.union([z.string(), z.number()])),
        targetGroupARN: z.optional(z.string()),
        weight: z.optional(z.number()),
      }),
    ),
    targetGroupStickinessConfig: z.optional(
      z.object({ enabled: z.optional(z.boolean()), durationSeconds: z.optional(z.number()) }),
    ),
  }),
});

/** What the sim's Ingress status holds: the load balancer's hostname, written by the controller. */
const ingressStatusSchema = z.object({
  loadBalancer: z.object({ ingress: z.array(z.object({ hostname: z.string() })) }),
});

/** The controller's name for an Ingress backend's target group: `k8s-<namespace>-<service>-<hash>`, 8 chars each. */
function targetGroupName(namespace: string, ingress: string, backend: BackendSpec): string {
  const part = (text: string) => text.replace(/[^a-zA-Z0-9]/g, '').slice(0, 8);
  const hash = createHash('sha256')
    .update(`${namespace}/${ingress}:${backend.service}:${backend.port}`)
    .digest('hex')
    .slice(0, 10);
  return `k8s-${part(namespace)}-${part(backend.service)}-${hash}`;
}

/** The path patterns the controller writes for a Prefix path: `/` matches all, `/api` itself and below. */
const pathPatterns = (path: string): string[] => (path === '/' ? ['/*'] : [path, `${path}/*`]);

/**
 * The AWS Load Balancer Controller for one Ingress, on one ALB with one listener (HTTP:80) and a rule per path of
 * the Ingress whose backend is the action. When DescribeRules reads that listener (or its rules), it first catches
 * up per its mode: the rules' ForwardConfig takes the annotation's weights from the `lag`-th poll after the
 * annotation changed. An annotation it cannot apply (not JSON, not a forward action, a Service or port without a
 * target group) leaves the rules as they are and is reported once in `events`, as the controller's events say.
 * Continuation pages (a Marker) are part of the same read and do not count as polls.
 */
export class SimulatedAlbController {
  readonly events: ControllerEvent[] = [];
  private mode: ReconcileMode;
  private target: AlbTarget | undefined;
  /** The annotation whose weights are on the rules. */
  private applied: string | undefined;
  private pending: { annotation: string | undefined; polls: number } | undefined;
  private lastFailure: string | undefined;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly api: SimulatedKubernetesApi,
    private readonly loadBalancer: SimulatedLoadBalancer,
    options: ControllerOptions = {},
  ) {
    this.mode = options.mode ?? { lag: 1 };
    assertMode(this.mode);
    this.unsubscribe = loadBalancer.beforeDescribeRules((input) => {
      const target = this.target;
      if (!target || input.Marker !== undefined) return;
      const ours =
        input.ListenerArn === target.listenerArn ||
        (input.RuleArns ?? []).some((arn) => target.ruleArns.includes(arn));
      if (ours) this.poll(target);
    });
  }

  /** From the next poll on; a change pending since before keeps the polls it has had. */
  setMode(mode: ReconcileMode): void {
    assertMode(mode);
    this.mode = mode;
  }

  /** Stops following DescribeRules (the load balancer's `reset` drops it too). */
  dispose(): void {
    this.unsubscribe();
  }

  /** Its events: a `TimelineSource`, bound, for `rehearsal.addTimelineSource(controller.timeline)`. */
  readonly timeline = (runStartedAt: number): TimelineEntry[] => peerTimeline(runStartedAt, this.events);

  /**
   * The scenario's cluster and load balancer as the controller leaves them for a fresh Ingress: the two Services,
   * their target groups and TargetGroupBindings, the Ingress with the action annotation at stable 100 / canary 0
   * and a `use-annotation` backend per path, the ALB, its listener and a rule per path forwarding by those weights.
   */
  setup(options: AlbSetupOptions): AlbSetup {
    if (this.target) throw new Error('simulated load balancer controller: already set up for an Ingress');
    const { namespace, ingress, actionName, stable, canary, paths = ['/'] } = options;
    const settings: AlbRouterSettings = {
      actionName,
      stable: { serviceName: stable.service, servicePort: stable.port },
      canary: { serviceName: canary.service, servicePort: canary.port },
    };
    const targetGroups = new Map<string, string>();
    const provision = (backend: BackendSpec): string => {
      addBackendService(this.api, namespace, backend);
      const name = targetGroupName(namespace, ingress, backend);
      const arn = this.loadBalancer.addTargetGroup({ name, port: 8080, targetType: 'ip' });
      this.api.addTargetGroupBinding({
        namespace,
        name,
        targetGroupArn: arn,
        service: { name: backend.service, port: backend.port },
        ingress,
      });
      targetGroups.set(`${backend.service}:${backend.port}`, arn);
      return arn;
    };
    const stableTargetGroupArn = provision(stable);
    const canaryTargetGroupArn = provision(canary);

    const annotation = JSON.stringify(albForwardAction(settings, 0));
    const created = this.api.addIngress({
      namespace,
      name: ingress,
      annotations: {
        'alb.ingress.kubernetes.io/scheme': 'internet-facing',
        'alb.ingress.kubernetes.io/target-type': 'ip',
        [albActionAnnotationKey(actionName)]: annotation,
      },
      backends: paths.map((path) => ({ service: actionName, port: 'use-annotation', path })),
    });
    const hostname = ingressStatusSchema.parse(created.status).loadBalancer.ingress[0]?.hostname;
    const loadBalancer = this.loadBalancer.addLoadBalancer({
      name: `k8s-${namespace}-${ingress}`.slice(0, 32),
      ...(hostname && { dnsName: hostname }),
    });
    const listenerArn = this.loadBalancer.addListener({ loadBalancerArn: loadBalancer.LoadBalancerArn });
    const ruleArns = paths.map((path, index) =>
      this.loadBalancer.addRule({
        listenerArn,
        priority: index + 1,
        conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: pathPatterns(path) } }],
        actions: forwardActions([
          { TargetGroupArn: stableTargetGroupArn, Weight: 100 },
          { TargetGroupArn: canaryTargetGroupArn, Weight: 0 },
        ]),
      }),
    );
    this.target = { namespace, ingress, actionName, listenerArn, ruleArns, targetGroups };
    this.applied = annotation;
    this.record(`provisioned ${loadBalancer.LoadBalancerName} for Ingress ${namespace}/${ingress}`);
    return {
      settings,
      loadBalancerArn: loadBalancer.LoadBalancerArn,
      listenerArn,
      ruleArns,
      stableTargetGroupArn,
      canaryTargetGroupArn,
    };
  }

  private poll(target: AlbTarget): void {
    const ingress = this.api.getIngress(target.namespace, target.ingress);
    if (!ingress) {
      this.fail(`Ingress ${target.namespace}/${target.ingress} is gone: the rules are left as they are`);
      return;
    }
    const annotation = ingress.metadata.annotations?.[albActionAnnotationKey(target.actionName)];
    if (annotation === this.applied) {
      this.pending = undefined;
      return;
    }
    // A newer change starts its own count (an Ingress edited again before the controller caught up).
    if (!this.pending || this.pending.annotation !== annotation) this.pending = { annotation, polls: 0 };
    const pending = this.pending;
    pending.polls += 1;
    if (this.mode === 'never' || pending.polls < this.mode.lag) return;
    this.apply(target, annotation);
  }

  private apply(target: AlbTarget, annotation: string | undefined): void {
    const where = `Ingress ${target.namespace}/${target.ingress}`;
    const key = albActionAnnotationKey(target.actionName);
    if (annotation === undefined)
      return this.fail(`${where}: backend use-annotation has no annotation ${key}`);
    let json: unknown;
    try {
      json = JSON.parse(annotation);
    } catch {
      return this.fail(`${where}: annotation ${key} is not JSON`);
    }
    const parsed = z.safeParse(annotationSchema, json);
    if (!parsed.success) return this.fail(`${where}: annotation ${key} is not a forward action`);
    const tuples: Array<{ TargetGroupArn: string; Weight?: number }> = [];
    for (const group of parsed.data.forwardConfig.targetGroups) {
      const arn = group.targetGroupARN ?? this.resolve(target, group.serviceName, group.servicePort);
      if (arn === undefined || this.loadBalancer.targetGroupName(arn) === undefined) {
        const name =
          group.targetGroupARN ?? `${group.serviceName ?? '?'}:${String(group.servicePort ?? '?')}`;
        return this.fail(`${where}: annotation ${key} forwards to ${name}, which has no target group`);
      }
      tuples.push({ TargetGroupArn: arn, ...(group.weight !== undefined && { Weight: group.weight }) });
    }
    const stickiness = parsed.data.forwardConfig.targetGroupStickinessConfig;
    for (const ruleArn of target.ruleArns)
      this.loadBalancer.setRuleActions(ruleArn, forwardActions(tuples, stickiness));
    this.applied = annotation;
    this.pending = undefined;
    this.lastFailure = undefined;
    const weights = tuples
      .map(
        (tuple) => `${this.loadBalancer.targetGroupName(tuple.TargetGroupArn) ?? '?'} ${tuple.Weight ?? 1}`,
      )
      .join(', ');
    this.record(
      `AWS Load Balancer Controller applied ${key} to ${target.ruleArns.length} rule(s): ${weights}`,
    );
  }

  /** The target group of a Service port, by the port's number or name, as the controller resolves it. */
  private resolve(target: AlbTarget, service: string | undefined, port: string | number | undefined) {
    if (service === undefined || port === undefined) return undefined;
    const ports = this.api.getService(target.namespace, service)?.spec.ports ?? [];
    const match = ports.find(
      (candidate) => String(candidate.port) === String(port) || candidate.name === port,
    );
    return match && target.targetGroups.get(`${service}:${match.port}`);
  }

  private fail(reason: string): void {
    if (reason === this.lastFailure) return;
    this.lastFailure = reason;
    this.record(`AWS Load Balancer Controller failed to reconcile: ${reason}`);
  }

  private record(text: string): void {
    this.events.push({ at: timelineNow(), text });
  }
}

/** A weighted forward action as the controller writes one. */
function forwardActions(
  targetGroups: Array<{ TargetGroupArn: string; Weight?: number }>,
  stickiness?: { enabled?: boolean; durationSeconds?: number },
): Action[] {
  return [
    {
      Type: 'forward',
      Order: 1,
      ForwardConfig: {
        TargetGroups: targetGroups.map((group) => ({ ...group })),
        TargetGroupStickinessConfig: {
          Enabled: stickiness?.enabled ?? false,
          ...(stickiness?.durationSeconds !== undefined && { DurationSeconds: stickiness.durationSeconds }),
        },
      },
    },
  ];
}

// ---------------------------------------------------------------------------------------------------------------

export interface GatewaySetupOptions {
  namespace: string;
  route: string;
  stable: BackendSpec;
  canary: BackendSpec;
  /** @default one Gateway `eg` in the route's namespace */
  parentRefs?: SimParentRef[];
}

export interface GatewaySetup {
  /** The Gateway API router's settings for this route (`gatewayRouter(settings)`). */
  settings: GatewayRouterSettings;
}

/**
 * A Gateway API implementation for one HTTPRoute. When the route is read (a GET through the API) after its
 * generation changed, it writes `status.parents[]` Accepted and ResolvedRefs True for that generation from the
 * `lag`-th such read (the read that sees it included), or never; a hand edit of the spec is a change like any.
 */
export class SimulatedGatewayController {
  readonly events: ControllerEvent[] = [];
  private mode: ReconcileMode;
  private target: { namespace: string; route: string; path: string } | undefined;
  /** The generation its status describes. */
  private reconciled: number | undefined;
  private pending: { generation: number; reads: number } | undefined;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly api: SimulatedKubernetesApi,
    options: ControllerOptions = {},
  ) {
    this.mode = options.mode ?? { lag: 1 };
    assertMode(this.mode);
    // Called as a request arrives, before it is handled: the status written here is in this GET's answer.
    this.unsubscribe = api.onRequest(({ method, path }) => {
      const target = this.target;
      if (target && method === 'GET' && path.split('?')[0] === target.path) this.poll(target);
    });
  }

  setMode(mode: ReconcileMode): void {
    assertMode(mode);
    this.mode = mode;
  }

  /** Stops following the API server's requests (its `reset` does not: dispose of a scenario's controller). */
  dispose(): void {
    this.unsubscribe();
  }

  /** Its events: a `TimelineSource`, bound, for `rehearsal.addTimelineSource(controller.timeline)`. */
  readonly timeline = (runStartedAt: number): TimelineEntry[] =>
    peerTimeline(runStartedAt, this.events, 'kubernetes');

  /**
   * The two Services and the HTTPRoute sending all to stable (weight 100) and nothing to the canary (weight 0),
   * accepted by every parent at generation 1.
   */
  setup(options: GatewaySetupOptions): GatewaySetup {
    if (this.target) throw new Error('simulated Gateway controller: already set up for a route');
    const { namespace, route, stable, canary, parentRefs } = options;
    addBackendService(this.api, namespace, stable);
    addBackendService(this.api, namespace, canary);
    const created = this.api.addHttpRoute({
      namespace,
      name: route,
      ...(parentRefs && { parentRefs }),
      rules: [
        {
          backendRefs: [
            { name: stable.service, port: stable.port, weight: 100 },
            { name: canary.service, port: canary.port, weight: 0 },
          ],
        },
      ],
    });
    this.api.setHttpRouteStatus(namespace, route, { accepted: true });
    this.reconciled = created.metadata.generation;
    this.target = {
      namespace,
      route,
      path: `/apis/gateway.networking.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/httproutes/${encodeURIComponent(route)}`,
    };
    return {
      settings: {
        stable: { name: stable.service, port: stable.port },
        canary: { name: canary.service, port: canary.port },
      },
    };
  }

  private poll(target: { namespace: string; route: string }): void {
    const route = this.api.getHttpRoute(target.namespace, target.route);
    if (!route) return;
    const { generation } = route.metadata;
    if (generation === this.reconciled) {
      this.pending = undefined;
      return;
    }
    if (!this.pending || this.pending.generation !== generation) this.pending = { generation, reads: 0 };
    const pending = this.pending;
    pending.reads += 1;
    if (this.mode === 'never' || pending.reads < this.mode.lag) return;
    this.api.setHttpRouteStatus(target.namespace, target.route, { accepted: true });
    this.reconciled = generation;
    this.pending = undefined;
    this.events.push({
      at: timelineNow(),
      text: `Gateway controller accepted HTTPRoute ${target.namespace}/${target.route} generation ${generation}`,
    });
  }
}
