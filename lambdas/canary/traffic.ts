import { isDeepStrictEqual } from 'node:util';
import * as z from 'zod/mini';
import type { CanaryRouter, CanaryService } from '../../lib/config/canary';
import type { KubernetesClient } from '../kubernetes/client';
import { KubernetesConflict } from '../kubernetes/errors';
import type { Deployment, JsonPatchOperation } from '../kubernetes/resources';
import { parseOrThrow, RunbookError } from '../shared/errors';
import { albRouter, type AlbRouterSettings } from './routers/alb';
import { gatewayRouter, type GatewayRouterSettings } from './routers/gateway-api';
import {
  replicaRatioRouter,
  replicaSplit,
  type DeploymentPair,
  type ReplicaRatioSettings,
} from './routers/replica-ratio';
import { checkDrift, formatWeight, TrafficEditedByHand, type TrafficRouter } from './routers/router';
import { InvalidCanaryRun, readRun, stepWeight, type CanaryRun } from './run';

// The canary's writes in the cluster, one action per invocation of the `traffic` Lambda: the next step's weight
// on the router, all traffic back to stable, the canary's pod template promoted onto stable, the canary scaled to
// zero. Every write is a JSON Patch guarded by a `test` of what was just read, so a person's edit in between is
// never overwritten: the API server refuses the patch (KubernetesConflict), and the action reads and judges again,
// once. Every action is idempotent: a retried invocation that finds its change already made succeeds.

/** The canary Deployment no longer runs the images the run deployed and analysed: it is not promoted. */
export class CanaryChangedDuringRun extends RunbookError {
  override name = 'CanaryChangedDuringRun';
}

export const trafficActions = ['shift', 'route-to-stable', 'promote', 'scale-down-canary'] as const;
export type TrafficAction = (typeof trafficActions)[number];

const trafficInputSchema = z.object({ action: z.enum(trafficActions), run: z.unknown() });

export interface TrafficRequest {
  action: TrafficAction;
  run: CanaryRun;
}

/** The Lambda's input: `{ action, run }`; a malformed run is InvalidCanaryRun, before any request is made. */
export function readTrafficRequest(input: unknown): TrafficRequest {
  const { action, run } = parseOrThrow(trafficInputSchema, input, 'The traffic input');
  return { action, run: readRun(run) };
}

export interface TrafficResult {
  /** The run with what the action changed (`shift`: step, weight and time set; `route-to-stable`: weight 0). */
  run: CanaryRun;
  /** What was done, for the timeline and Slack. */
  detail: string;
  /** When the change was made, or found made (ISO 8601): a promotion's rollout deadline counts from it. */
  at: string;
  /** `promote` only: stable's metadata.generation after the patch; its rollout is observed once it reaches it. */
  generation?: number;
}

export interface TrafficDeps {
  kubernetes: { clientFor(cluster: string): Promise<KubernetesClient> };
  now: () => Date;
}

/** Performs one action of the canary workflow on the service's cluster. */
export async function changeTraffic(
  { action, run }: TrafficRequest,
  deps: TrafficDeps,
): Promise<TrafficResult> {
  const { service } = run;
  const next = run.stepIndex + 1;
  if (action === 'shift' && next >= run.steps.length) {
    throw new InvalidCanaryRun(
      `the run is at its last step (${run.stepIndex + 1} of ${run.steps.length}): there is no next step to shift to`,
    );
  }
  const client = await deps.kubernetes.clientFor(service.cluster);
  switch (action) {
    case 'shift': {
      const weight = stepWeight({ steps: run.steps, stepIndex: next });
      const set = await withRouter(service, client, (handle) => setWeight(handle, weight, run.weight));
      const at = deps.now().toISOString();
      const step = `step ${next + 1} of ${run.steps.length}`;
      return {
        run: { ...run, stepIndex: next, weight, weightSetAt: at },
        detail: set.changed
          ? `${set.object}: the canary's weight set to ${describeWeight(weight, set.effective)} (${step}), from ${formatWeight(run.weight)}`
          : `${set.object} already gives the canary ${describeWeight(weight, set.effective)} (${step}): nothing to change`,
        at,
      };
    }
    case 'route-to-stable': {
      // No drift check: an abort, and the end of a promotion, send all traffic to stable whatever the spec says.
      const set = await withRouter(service, client, (handle) => setWeight(handle, 0));
      const at = deps.now().toISOString();
      return {
        run: { ...run, weight: 0, weightSetAt: at },
        detail: set.changed
          ? `${set.object}: all traffic sent back to stable (the canary's weight was ${formatWeight(run.weight)})`
          : `${set.object} already sends all traffic to stable: nothing to change`,
        at,
      };
    }
    case 'promote': {
      const { detail, generation } = await promote(client, service, run.canaryImages);
      return { run, detail, at: deps.now().toISOString(), generation };
    }
    case 'scale-down-canary': {
      const detail = await scaleDownCanary(client, service);
      return { run, detail, at: deps.now().toISOString() };
    }
  }
}

const describeWeight = (weight: number, effective: number): string =>
  effective === weight
    ? formatWeight(weight)
    : `${formatWeight(weight)} (${formatWeight(effective)} with whole pods)`;

// ---------------------------------------------------------------------------------------------------------------
// The routers, bound to a service's objects. Also what `observe.ts` reads the spec with.

type RouterOf<T extends CanaryRouter['type']> = Extract<CanaryRouter, { type: T }>;

export const albSettings = (router: RouterOf<'alb'>): AlbRouterSettings => ({
  actionName: router.actionName,
  stable: { serviceName: router.stable.service, servicePort: router.stable.port },
  canary: { serviceName: router.canary.service, servicePort: router.canary.port },
});

export const gatewaySettings = (router: RouterOf<'gateway-api'>): GatewayRouterSettings => ({
  stable: { name: router.stable.service, port: router.stable.port },
  canary: { name: router.canary.service, port: router.canary.port },
});

export const replicaRatioSettings = (
  service: CanaryService,
  router: RouterOf<'replica-ratio'>,
): ReplicaRatioSettings => ({
  stableDeployment: service.stableDeployment,
  canaryDeployment: service.canaryDeployment,
  totalReplicas: router.totalReplicas,
});

/** The stable and canary Deployments, read one after the other. */
export async function readDeploymentPair(
  client: KubernetesClient,
  service: Pick<CanaryService, 'namespace' | 'stableDeployment' | 'canaryDeployment'>,
): Promise<DeploymentPair> {
  const stable = await client.getDeployment(service.namespace, service.stableDeployment);
  const canary = await client.getDeployment(service.namespace, service.canaryDeployment);
  return { stable, canary };
}

/** What the replica ratio reads and patches, named in messages. */
export const deploymentPairName = (
  service: Pick<CanaryService, 'namespace' | 'stableDeployment' | 'canaryDeployment'>,
): string =>
  `Deployments ${service.namespace}/${service.stableDeployment} and ${service.namespace}/${service.canaryDeployment}`;

/** A router bound to one service's objects: how its target is read and a change sent. */
export interface RouterHandle<Target, Change, Evidence> {
  router: TrafficRouter<Target, Change, Evidence>;
  /** What is read and patched, in messages: `Ingress shop/web`. */
  object: string;
  read(): Promise<Target>;
  apply(change: Change): Promise<void>;
  /**
   * Whether `current` is partway through the runbook's own change from one weight to the next: the replica
   * ratio writes two Deployments, and an invocation may have stopped between them.
   */
  partway?(current: Target, from: number, to: number): boolean;
}

/** Calls `use` with the service's router bound to its objects in `client`'s cluster. */
export function withRouter<R>(
  service: CanaryService,
  client: KubernetesClient,
  use: <Target, Change, Evidence>(handle: RouterHandle<Target, Change, Evidence>) => Promise<R>,
): Promise<R> {
  const { namespace, router } = service;
  switch (router.type) {
    case 'alb':
      return use({
        router: albRouter(albSettings(router)),
        object: `Ingress ${namespace}/${router.ingress}`,
        read: () => client.getIngress(namespace, router.ingress),
        apply: async (ops) => {
          await client.patchIngress(namespace, router.ingress, ops);
        },
      });
    case 'gateway-api':
      return use({
        router: gatewayRouter(gatewaySettings(router)),
        object: `HTTPRoute ${namespace}/${router.httpRoute}`,
        read: () => client.getHttpRoute(namespace, router.httpRoute),
        apply: async (ops) => {
          await client.patchHttpRoute(namespace, router.httpRoute, ops);
        },
      });
    case 'replica-ratio': {
      const settings = replicaRatioSettings(service, router);
      return use({
        router: replicaRatioRouter(settings),
        object: deploymentPairName(service),
        read: () => readDeploymentPair(client, service),
        apply: async (changes) => {
          // In the router's order: the side that grows first, so the Service never has fewer pods than the total.
          for (const change of changes) await client.patchDeployment(namespace, change.name, change.patch);
        },
        partway: (pair, from, to) => {
          const before = replicaSplit(from, settings.totalReplicas);
          const after = replicaSplit(to, settings.totalReplicas);
          const stable = pair.stable.spec.replicas ?? 1;
          const canary = pair.canary.spec.replicas ?? 1;
          return (
            (stable === before.stableReplicas || stable === after.stableReplicas) &&
            (canary === before.canaryReplicas || canary === after.canaryReplicas)
          );
        },
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The writes.

const MAX_ATTEMPTS = 2;

/**
 * Runs `attempt` (which reads, judges and writes) again once when its write is refused as a conflict: the
 * object was written between the read and the write, and the second read judges what is there now.
 */
async function onceMoreOnConflict<R>(object: string, attempt: () => Promise<R>): Promise<R> {
  for (let count = 1; ; count += 1) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof KubernetesConflict)) throw error;
      if (count >= MAX_ATTEMPTS) {
        throw new KubernetesConflict(
          `${object}: the write was refused as a conflict ${MAX_ATTEMPTS} times, each after a fresh read: the ` +
            `object keeps changing under the runbook (last: ${error.message})`,
          { cause: error },
        );
      }
    }
  }
}

/**
 * Sets the canary's weight `to` on the router. With `from`, the spec must still say `from` (or be partway from
 * it to `to`: the runbook's own change, interrupted); anything else is a hand edit, refused with
 * TrafficEditedByHand. A spec already at `to` is left alone: that is a retried invocation.
 */
function setWeight<Target, Change, Evidence>(
  handle: RouterHandle<Target, Change, Evidence>,
  to: number,
  from?: number,
): Promise<{ changed: boolean; object: string; effective: number }> {
  const effective = handle.router.effectiveWeight(to);
  return onceMoreOnConflict(handle.object, async () => {
    const current = await handle.read();
    if (checkDrift(handle.router, current, to).state === 'unchanged') {
      return { changed: false, object: handle.object, effective };
    }
    if (from !== undefined) {
      const drift = checkDrift(handle.router, current, from);
      if (drift.state === 'edited' && !handle.partway?.(current, from, to)) {
        throw new TrafficEditedByHand(
          `${handle.object}: ${drift.reason}. Someone changed the split by hand since the runbook set it; the ` +
            "run stops rather than overwrite a person's decision.",
        );
      }
    }
    // RouterMismatch from here: an object in a shape the router cannot change safely.
    await handle.apply(handle.router.desired(to, current));
    return { changed: true, object: handle.object, effective };
  });
}

const imagesOf = (deployment: Deployment): string[] =>
  deployment.spec.template.spec.containers.map((container) => container.image);

/** Whether stable already runs the canary's pod template: its spec and annotations (labels are stable's own). */
const runsTemplateOf = (stable: Deployment, canary: Deployment): boolean =>
  isDeepStrictEqual(stable.spec.template.spec, canary.spec.template.spec) &&
  isDeepStrictEqual(
    stable.spec.template.metadata?.annotations ?? {},
    canary.spec.template.metadata?.annotations ?? {},
  );

/**
 * The JSON Patch that makes stable run the canary's pod template: its spec (containers, images, env, volumes…)
 * and its annotations replaced; stable's template labels kept, since its selector and the Services select on them.
 * Guarded by a `test` of stable's generation, not its resourceVersion: the controller's status writes move the
 * resourceVersion all through a rollout, while only a write to the spec (a deploy, a scale) moves the generation.
 */
export function promotionPatch(stable: Deployment, canary: Deployment): JsonPatchOperation[] {
  const annotations = canary.spec.template.metadata?.annotations;
  const stableHasAnnotations = stable.spec.template.metadata?.annotations !== undefined;
  return [
    { op: 'test', path: '/metadata/generation', value: stable.metadata.generation ?? 0 },
    { op: 'replace', path: '/spec/template/spec', value: canary.spec.template.spec },
    ...(annotations !== undefined
      ? [{ op: 'add' as const, path: '/spec/template/metadata/annotations', value: annotations }]
      : stableHasAnnotations
        ? [{ op: 'remove' as const, path: '/spec/template/metadata/annotations' }]
        : []),
  ];
}

/** Copies the canary's pod template onto stable, if the canary still runs what the run analysed. */
async function promote(
  client: KubernetesClient,
  service: CanaryService,
  canaryImages: readonly string[],
): Promise<{ generation: number; detail: string }> {
  const { namespace } = service;
  const label = `Deployment ${namespace}/${service.stableDeployment}`;
  return onceMoreOnConflict(label, async () => {
    const canary = await client.getDeployment(namespace, service.canaryDeployment);
    const stable = await client.getDeployment(namespace, service.stableDeployment);
    const images = imagesOf(canary);
    if (!isDeepStrictEqual(images, canaryImages)) {
      throw new CanaryChangedDuringRun(
        `Deployment ${namespace}/${service.canaryDeployment} runs ${images.join(', ')}, not ${canaryImages.join(', ')} ` +
          'as the run deployed and analysed: someone changed it mid-run; promoting it would ship what nobody ' +
          'judged, so stable was left as it was.',
      );
    }
    if (runsTemplateOf(stable, canary)) {
      return {
        generation: stable.metadata.generation ?? 0,
        detail: `${label} already runs the canary's pod template (${images.join(', ')}): nothing to change`,
      };
    }
    const patched = await client.patchDeployment(
      namespace,
      service.stableDeployment,
      promotionPatch(stable, canary),
    );
    const generation = patched.metadata.generation ?? 0;
    return {
      generation,
      detail: `${label} now runs the canary's pod template (${images.join(', ')}; was ${imagesOf(stable).join(', ')}), generation ${generation}`,
    };
  });
}

/** Scales the canary Deployment to zero replicas, guarded by a `test` of the count read. */
function scaleDownCanary(client: KubernetesClient, service: CanaryService): Promise<string> {
  const { namespace, canaryDeployment } = service;
  const label = `Deployment ${namespace}/${canaryDeployment}`;
  return onceMoreOnConflict(label, async () => {
    const canary = await client.getDeployment(namespace, canaryDeployment);
    const replicas = canary.spec.replicas ?? 1;
    if (replicas === 0) return `${label} already has 0 replicas: nothing to change`;
    await client.patchDeployment(namespace, canaryDeployment, [
      { op: 'test', path: '/spec/replicas', value: replicas },
      { op: 'replace', path: '/spec/replicas', value: 0 },
    ]);
    return `${label} scaled from ${replicas} to 0 replicas`;
  });
}
