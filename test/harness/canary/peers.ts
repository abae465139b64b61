import { albDimension } from '../../../lambdas/canary/checks';
import type { RunbooksConfig } from '../../../lib/config/schema';
import type { SimulatedKubernetesApi } from '../kubernetes/server';
import type { Rehearsal } from '../rehearsal';
import type { SampleSource } from '../simulated-metrics';
import { appMetric, CLUSTER, NAMESPACE, SECRETS } from './config';
import {
  SimulatedAlbController,
  SimulatedGatewayController,
  type AlbSetup,
  type ReconcileMode,
} from './controllers';
import { SimulatedLoadBalancer } from './simulated-load-balancer';

// The canary rehearsal's peers beyond the kit's: a simulated ELBv2 with the AWS Load Balancer Controller
// reconciling the Ingress into its rules, a Gateway API controller writing the route's status, the services'
// Deployments, and the metrics each version publishes — which follow the traffic the canary really gets, so a
// canary that fails "from the second step" fails once the router has moved it there.

export const SIGNING_SECRET = 'rehearsal-signing-secret-8f14e45fceea167a5a36dedd4bea2543';
export const STABLE_IMAGE = (service: string) => `registry.example.com/${service}:1.0.0`;
export const CANARY_IMAGE = (service: string) => `registry.example.com/${service}:1.1.0`;

export type CanaryServiceName = 'checkout' | 'search' | 'worker' | 'payments';

/** How one version behaves at a step: its error rate (a ratio) and p99 latency (seconds); undefined: publishes nothing. */
export interface VersionBehaviour {
  errorRate?: number;
  latency?: number;
}

export interface ServiceBehaviour {
  /** The canary's behaviour once `shifts` weights were written on the router (1 at the first step). */
  canary: (shifts: number) => VersionBehaviour;
  stable: (shifts: number) => VersionBehaviour;
}

export const HEALTHY: ServiceBehaviour = {
  canary: () => ({ errorRate: 0.0035, latency: 0.19 }),
  stable: () => ({ errorRate: 0.004, latency: 0.2 }),
};

export interface ArrangeOptions {
  behaviour?: ServiceBehaviour;
  /** How fast the load balancer controller or the Gateway controller applies a change. @default { lag: 1 } */
  controller?: ReconcileMode;
}

interface PeersState {
  elb: SimulatedLoadBalancer;
  disposers: Array<() => void>;
}
const states = new WeakMap<object, PeersState>();

export interface CanaryPeers {
  elb: SimulatedLoadBalancer;
  api: SimulatedKubernetesApi;
}

/** The simulated ELBv2 (installed once per rehearsal) and the cluster's API server. */
export function canaryPeersOf(rehearsal: Rehearsal<RunbooksConfig>): CanaryPeers {
  let state = states.get(rehearsal);
  if (!state) {
    const elb = SimulatedLoadBalancer.install();
    rehearsal.onClose(() => elb.restore());
    rehearsal.addTimelineSource(elb.timeline);
    state = { elb, disposers: [] };
    states.set(rehearsal, state);
  }
  return { elb: state.elb, api: rehearsal.cluster(CLUSTER) };
}

/** Forgets the previous scenario's controllers and load balancer. */
function resetPeers(rehearsal: Rehearsal<RunbooksConfig>): CanaryPeers {
  const peers = canaryPeersOf(rehearsal);
  const state = states.get(rehearsal);
  for (const dispose of state?.disposers.splice(0) ?? []) dispose();
  peers.elb.reset();
  rehearsal.account.secrets.set(SECRETS.botToken, rehearsal.slack.api.botToken);
  rehearsal.account.secrets.set(SECRETS.signing, SIGNING_SECRET);
  return peers;
}

/** A counter of the router writes the canary made: PATCHes of the Ingress, route, or canary Deployment. */
function shiftCounter(api: SimulatedKubernetesApi, path: string, disposers: Array<() => void>): () => number {
  let shifts = 0;
  disposers.push(
    api.onRequest((request) => {
      if (request.method === 'PATCH' && request.path.split('?')[0] === path) shifts += 1;
    }),
  );
  return () => shifts;
}

export interface ArrangedService {
  service: CanaryServiceName;
  peers: CanaryPeers;
  /** The ALB's resources, for the checkout service. */
  alb?: AlbSetup;
  alb_controller?: SimulatedAlbController;
  gateway?: SimulatedGatewayController;
  /** Router writes so far. */
  shifts: () => number;
}

const apps = `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`;

/**
 * Seeds one service as it stands before a canary: stable serving (1.0.0), the canary Deployment at zero
 * replicas, the router at 100 % stable and confirmed, and both versions' metrics.
 */
export function arrangeService(
  rehearsal: Rehearsal<RunbooksConfig>,
  service: CanaryServiceName,
  options: ArrangeOptions = {},
): ArrangedService {
  const peers = resetPeers(rehearsal);
  const { api, elb } = peers;
  const disposers = states.get(rehearsal)?.disposers ?? [];
  const stableReplicas = service === 'worker' ? 10 : 4;
  api.addDeployment({
    namespace: NAMESPACE,
    name: service,
    revisions: [{ image: STABLE_IMAGE(service) }],
    replicas: stableReplicas,
    labels: { app: service },
  });
  api.addDeployment({
    namespace: NAMESPACE,
    name: `${service}-canary`,
    revisions: [{ image: STABLE_IMAGE(service) }],
    replicas: 0,
    labels: { app: `${service}-canary` },
  });

  const mode = options.controller ?? { lag: 1 };
  let arranged: ArrangedService;
  if (service === 'checkout') {
    const controller = new SimulatedAlbController(api, elb, { mode });
    disposers.push(() => controller.dispose());
    const alb = controller.setup({
      namespace: NAMESPACE,
      ingress: 'shop',
      actionName: 'checkout-split',
      stable: { service: 'checkout', port: 80 },
      canary: { service: 'checkout-canary', port: 80 },
    });
    const shifts = shiftCounter(
      api,
      `/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/ingresses/shop`,
      disposers,
    );
    arranged = { service, peers, alb, alb_controller: controller, shifts };
  } else if (service === 'worker') {
    api.addService({ namespace: NAMESPACE, name: 'worker', selector: { tier: 'worker' } });
    const shifts = shiftCounter(api, `${apps}/worker-canary`, disposers);
    // The start's own patch of the canary Deployment (image, replicas 0) is not a shift.
    arranged = { service, peers, shifts: () => Math.max(0, shifts() - 1) };
  } else {
    const controller = new SimulatedGatewayController(api, { mode });
    disposers.push(() => controller.dispose());
    controller.setup({
      namespace: NAMESPACE,
      route: service,
      stable: { service, port: 8080 },
      canary: { service: `${service}-canary`, port: 8080 },
    });
    const shifts = shiftCounter(
      api,
      `/apis/gateway.networking.k8s.io/v1/namespaces/${NAMESPACE}/httproutes/${service}`,
      disposers,
    );
    arranged = { service, peers, gateway: controller, shifts };
  }
  publishMetrics(rehearsal, arranged, options.behaviour ?? HEALTHY);
  return arranged;
}

/** A small deterministic wobble per minute, so the Mann-Whitney test sees values, not ties. */
const wobble = (minute: number, scale: number): number => {
  const x = Math.sin(minute / 60_000) * 10_000;
  return (x - Math.floor(x) - 0.5) * scale;
};

function publishMetrics(
  rehearsal: Rehearsal<RunbooksConfig>,
  arranged: ArrangedService,
  behaviour: ServiceBehaviour,
): void {
  const { metrics } = rehearsal.account;
  const sample =
    (
      side: 'canary' | 'stable',
      pick: (version: VersionBehaviour) => number | undefined,
      scale: number,
    ): SampleSource =>
    (minute) => {
      const value = pick(behaviour[side](arranged.shifts()));
      return value === undefined
        ? undefined
        : Math.max(0, value + wobble(minute + (side === 'canary' ? 7 : 0), value * scale));
    };
  if (arranged.alb) {
    const { loadBalancerArn, stableTargetGroupArn, canaryTargetGroupArn } = arranged.alb;
    for (const [side, targetGroup] of [
      ['canary', canaryTargetGroupArn],
      ['stable', stableTargetGroupArn],
    ] as const) {
      const dimensions = {
        TargetGroup: albDimension(targetGroup),
        LoadBalancer: albDimension(loadBalancerArn),
      };
      const requests = 1_000;
      metrics.put({ namespace: 'AWS/ApplicationELB', metricName: 'RequestCount', dimensions }, () =>
        behaviour[side](arranged.shifts()).errorRate === undefined ? undefined : requests,
      );
      const errors = sample(side, (version) => version.errorRate, 0.2);
      metrics.put(
        { namespace: 'AWS/ApplicationELB', metricName: 'HTTPCode_Target_5XX_Count', dimensions },
        (minute) => {
          const rate = errors(minute);
          return rate === undefined ? undefined : Math.round(rate * requests);
        },
      );
      metrics.put(
        { namespace: 'AWS/ApplicationELB', metricName: 'TargetResponseTime', dimensions },
        sample(side, (version) => version.latency, 0.1),
      );
    }
    return;
  }
  for (const side of ['canary', 'stable'] as const) {
    const { metric } = appMetric(arranged.service, 'ErrorRate', side);
    metrics.put(
      { namespace: metric.namespace, metricName: metric.metricName, dimensions: metric.dimensions },
      sample(side, (version) => version.errorRate, 0.2),
    );
  }
}
