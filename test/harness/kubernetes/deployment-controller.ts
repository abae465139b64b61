// The deployment controller (pkg/controller/deployment), run synchronously after each write: one ReplicaSet per
// pod template, named by its pod-template-hash; revisions numbered, with the revision-history of a template that
// comes back; annotations copied; rollouts that advance one step per read of the Deployment, at the pace the
// test chooses; old ReplicaSets pruned to revisionHistoryLimit.
import { createHash, randomUUID } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import {
  LAST_APPLIED_ANNOTATION,
  POD_TEMPLATE_HASH_LABEL,
  REVISION_ANNOTATION,
  type SimCondition,
  type SimDeployment,
  type SimPodTemplate,
  type SimReplicaSet,
} from './objects';
import { objectKey, type ObjectStore, type ResourceVersionClock } from './store';

/** How a rollout advances: one step per GET of the Deployment after its template changed. */
export type RolloutBehaviour =
  /** GET 1 still shows the old generation (for reads >= 2), GETs 2..n-1 show progress, GET n shows it complete. */
  | { kind: 'completes-after'; reads: number }
  /** One new pod that never becomes available; old pods stay. */
  | { kind: 'stalls' }
  /** Like `stalls`, and from GET n on the Progressing condition says ProgressDeadlineExceeded. */
  | { kind: 'deadline-exceeded'; afterReads: number };

export interface DeploymentControllerOptions {
  deployments: ObjectStore<SimDeployment>;
  replicaSets: ObjectStore<SimReplicaSet>;
  /** Advanced once per ReplicaSet the controller deletes. */
  clock: ResourceVersionClock;
  /** The time written into creationTimestamps and conditions. */
  timestamp: () => string;
}

const DEFAULT_ROLLOUT: RolloutBehaviour = { kind: 'completes-after', reads: 2 };

const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
/** The controller's skipCopyAnnotation list (pkg/controller/deployment/util). */
const NOT_COPIED_TO_REPLICA_SETS = new Set([
  LAST_APPLIED_ANNOTATION,
  REVISION_ANNOTATION,
  REVISION_HISTORY,
  DESIRED_REPLICAS,
  MAX_REPLICAS,
]);

interface Rollout {
  reads: number;
  /** Set by `paceRollout`: this rollout only. */
  behaviour?: RolloutBehaviour;
}

type Phase = 'complete' | 'progressing' | 'deadline-exceeded' | 'paused';

export class DeploymentController {
  private readonly deployments: ObjectStore<SimDeployment>;
  private readonly replicaSets: ObjectStore<SimReplicaSet>;
  private readonly clock: ResourceVersionClock;
  private readonly timestamp: () => string;
  /** Rollouts under way, by Deployment key. */
  private readonly rollouts = new Map<string, Rollout>();
  private readonly behaviours = new Map<string, RolloutBehaviour>();
  private running = true;

  constructor({ deployments, replicaSets, clock, timestamp }: DeploymentControllerOptions) {
    this.deployments = deployments;
    this.replicaSets = replicaSets;
    this.clock = clock;
    this.timestamp = timestamp;
  }

  /** Reacts to a stored write, as to a watch event: a new template starts a rollout; `previous` is absent on create. */
  written(deployment: SimDeployment, previous?: SimDeployment): void {
    if (previous && !sameTemplate(deployment.spec.template, previous.spec.template)) {
      this.rollouts.set(keyOf(deployment), { reads: 0 });
    }
    this.sync(deployment);
  }

  /** The ReplicaSets this Deployment controls, oldest revision first. */
  owned(deployment: SimDeployment): SimReplicaSet[] {
    return this.replicaSets
      .all()
      .filter(
        (replicaSet) =>
          replicaSet.metadata.namespace === deployment.metadata.namespace &&
          (replicaSet.metadata.ownerReferences ?? []).some(
            (owner) => owner.controller === true && owner.uid === deployment.metadata.uid,
          ),
      )
      .sort((a, b) => revisionOf(a) - revisionOf(b));
  }

  /** Ends any rollout at once, as if it had completed long ago (for history set up before a test). */
  settle(deployment: SimDeployment): void {
    this.rollouts.delete(keyOf(deployment));
    this.observe(deployment);
  }

  /** Paces the rollout under way, if there is one, with `behaviour` instead of the Deployment's. */
  paceRollout(deployment: SimDeployment, behaviour: RolloutBehaviour): void {
    const rollout = this.rollouts.get(keyOf(deployment));
    if (rollout) rollout.behaviour = behaviour;
  }

  /** How this Deployment's rollouts advance from now on. */
  setBehaviour(deployment: SimDeployment, behaviour: RolloutBehaviour): void {
    this.behaviours.set(keyOf(deployment), behaviour);
  }

  /** Drops what the controller holds for a deleted Deployment. */
  forget(deployment: SimDeployment): void {
    this.rollouts.delete(keyOf(deployment));
    this.behaviours.delete(keyOf(deployment));
  }

  /** A stopped controller numbers, syncs and rolls out nothing; started again, it syncs every Deployment. */
  setRunning(running: boolean): void {
    this.running = running;
    if (running) for (const deployment of this.deployments.all()) this.sync(deployment);
  }

  reset(): void {
    this.rollouts.clear();
    this.behaviours.clear();
    this.running = true;
  }

  sync(deployment: SimDeployment): void {
    if (!this.running) return;
    const all = this.owned(deployment);
    let current = this.newReplicaSetOf(deployment);
    // A paused Deployment gets no new ReplicaSet and no new revision until it is resumed.
    if (deployment.spec.paused) {
      this.observe(deployment);
      return;
    }
    const newRevision = Math.max(0, ...all.filter((rs) => rs !== current).map(revisionOf)) + 1;
    if (current) {
      const before = canonicalJson(current.metadata);
      copyAnnotations(deployment, current);
      const oldRevision = revisionOf(current);
      // A template that comes back takes the next revision and remembers the ones it had.
      if (oldRevision < newRevision) {
        const annotations = (current.metadata.annotations ??= {});
        const history = annotations[REVISION_HISTORY];
        annotations[REVISION_HISTORY] = history ? `${history},${oldRevision}` : String(oldRevision);
        annotations[REVISION_ANNOTATION] = String(newRevision);
      }
      if (canonicalJson(current.metadata) !== before) this.replicaSets.touch(current);
    } else {
      current = this.createReplicaSet(deployment, newRevision);
    }
    const currentRevision = current.metadata.annotations?.[REVISION_ANNOTATION] ?? '0';
    const annotations = (deployment.metadata.annotations ??= {});
    if (annotations[REVISION_ANNOTATION] !== currentRevision) {
      annotations[REVISION_ANNOTATION] = currentRevision;
      this.deployments.touch(deployment);
    }
    if (!this.rollouts.has(keyOf(deployment))) this.observe(deployment);
  }

  /** One step of a rollout, driven by a GET of the Deployment. */
  advance(deployment: SimDeployment): void {
    const key = keyOf(deployment);
    const rollout = this.rollouts.get(key);
    if (!rollout || !this.running) return;
    const current = this.newReplicaSetOf(deployment);
    if (deployment.spec.paused || !current) {
      this.setStatus(deployment, 'paused', current);
      return;
    }
    rollout.reads += 1;
    const replicas = deployment.spec.replicas;
    const behaviour = rollout.behaviour ?? this.behaviours.get(key) ?? DEFAULT_ROLLOUT;
    const complete = () => {
      this.setProgress(deployment, current, { updated: replicas, availableNew: replicas, old: 0 });
      this.setStatus(deployment, 'complete', current);
      this.rollouts.delete(key);
      this.cleanUp(deployment);
    };
    if (replicas === 0) return complete();
    if (behaviour.kind === 'completes-after') {
      if (rollout.reads >= behaviour.reads) return complete();
      // The first read races the controller: it has not observed the new generation yet.
      if (rollout.reads === 1) return;
      // Never scales the new ReplicaSet down: rolling back to a ReplicaSet that still has pods keeps them.
      const share = Math.ceil((replicas * rollout.reads) / behaviour.reads);
      const updated = Math.min(replicas, Math.max(1, share, current.spec.replicas));
      const availableNew = Math.min(updated, Math.max(updated - 1, current.status.availableReplicas ?? 0));
      this.setProgress(deployment, current, {
        updated,
        availableNew,
        old: Math.max(1, replicas - availableNew),
      });
      return this.setStatus(deployment, 'progressing', current);
    }
    this.setProgress(deployment, current, {
      updated: Math.min(replicas, Math.max(1, current.spec.replicas)),
      availableNew: current.status.availableReplicas ?? 0,
      old: replicas,
    });
    const exceeded = behaviour.kind === 'deadline-exceeded' && rollout.reads >= behaviour.afterReads;
    this.setStatus(deployment, exceeded ? 'deadline-exceeded' : 'progressing', current);
  }

  private newReplicaSetOf(deployment: SimDeployment): SimReplicaSet | undefined {
    return this.owned(deployment).find((replicaSet) =>
      sameTemplate(replicaSet.spec.template, deployment.spec.template),
    );
  }

  private createReplicaSet(deployment: SimDeployment, revision: number): SimReplicaSet {
    const { namespace, name, uid } = deployment.metadata;
    const hash = templateHash(deployment.spec.template);
    const template = structuredClone(deployment.spec.template);
    template.metadata = {
      ...template.metadata,
      labels: { ...template.metadata?.labels, [POD_TEMPLATE_HASH_LABEL]: hash },
    };
    const replicaSet: SimReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${name}-${hash}`,
        namespace,
        uid: randomUUID(),
        resourceVersion: '',
        generation: 1,
        creationTimestamp: this.timestamp(),
        labels: { ...template.metadata.labels },
        annotations: {
          [DESIRED_REPLICAS]: String(deployment.spec.replicas),
          [MAX_REPLICAS]: String(deployment.spec.replicas + Math.ceil(deployment.spec.replicas / 4)),
          [REVISION_ANNOTATION]: String(revision),
        },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name,
            uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        replicas: 0,
        selector: {
          ...deployment.spec.selector,
          matchLabels: { ...deployment.spec.selector.matchLabels, [POD_TEMPLATE_HASH_LABEL]: hash },
        },
        template,
      },
      status: { replicas: 0, observedGeneration: 1 },
    };
    copyAnnotations(deployment, replicaSet);
    this.replicaSets.put(replicaSet);
    return replicaSet;
  }

  /** Status for a Deployment with no rollout under way: the controller has seen it and all is settled. */
  private observe(deployment: SimDeployment): void {
    const current = this.newReplicaSetOf(deployment);
    if (current && !deployment.spec.paused) {
      this.setProgress(deployment, current, {
        updated: deployment.spec.replicas,
        availableNew: deployment.spec.replicas,
        old: 0,
      });
      this.setStatus(deployment, 'complete', current);
      this.cleanUp(deployment);
    } else {
      this.setStatus(deployment, 'paused', current);
    }
  }

  /** Scales the new ReplicaSet to `updated` and the old ones down to `old` pods in all (never up). */
  private setProgress(
    deployment: SimDeployment,
    current: SimReplicaSet,
    { updated, availableNew, old }: { updated: number; availableNew: number; old: number },
  ): void {
    this.scale(current, updated, availableNew);
    let left = old;
    const others = this.owned(deployment)
      .filter((replicaSet) => replicaSet !== current)
      .sort((a, b) => b.spec.replicas - a.spec.replicas);
    for (const replicaSet of others) {
      const replicas = Math.min(replicaSet.spec.replicas, left);
      left -= replicas;
      this.scale(replicaSet, replicas, replicas);
    }
  }

  private scale(replicaSet: SimReplicaSet, replicas: number, available: number): void {
    const { status } = replicaSet;
    if (
      replicaSet.spec.replicas === replicas &&
      status.replicas === replicas &&
      (status.availableReplicas ?? 0) === available
    ) {
      return;
    }
    replicaSet.spec.replicas = replicas;
    replicaSet.status = {
      replicas,
      ...(available > 0 ? { readyReplicas: available, availableReplicas: available } : {}),
      observedGeneration: replicaSet.metadata.generation,
    };
    this.replicaSets.touch(replicaSet);
  }

  private setStatus(deployment: SimDeployment, phase: Phase, current: SimReplicaSet | undefined): void {
    const before = canonicalJson(deployment.status);
    const all = this.owned(deployment);
    const total = sum(all.map((replicaSet) => replicaSet.spec.replicas));
    const available = sum(all.map((replicaSet) => replicaSet.status.availableReplicas ?? 0));
    const updated = current?.spec.replicas ?? 0;
    const desired = deployment.spec.replicas;
    const rsName = current?.metadata.name ?? deployment.metadata.name;
    const previous = deployment.status.conditions ?? [];
    const conditions: SimCondition[] = [
      this.condition(
        previous,
        'Available',
        // maxUnavailable 25%, rounded down as the controller rounds it.
        available >= desired - Math.floor(desired / 4)
          ? ['True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.']
          : ['False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.'],
      ),
      this.condition(
        previous,
        'Progressing',
        phase === 'deadline-exceeded'
          ? ['False', 'ProgressDeadlineExceeded', `ReplicaSet "${rsName}" has timed out progressing.`]
          : phase === 'paused'
            ? ['Unknown', 'DeploymentPaused', 'Deployment is paused']
            : phase === 'complete'
              ? ['True', 'NewReplicaSetAvailable', `ReplicaSet "${rsName}" has successfully progressed.`]
              : ['True', 'ReplicaSetUpdated', `ReplicaSet "${rsName}" is progressing.`],
      ),
    ];
    deployment.status = {
      observedGeneration: deployment.metadata.generation,
      ...(total ? { replicas: total } : {}),
      ...(updated ? { updatedReplicas: updated } : {}),
      ...(available ? { readyReplicas: available, availableReplicas: available } : {}),
      ...(total > available ? { unavailableReplicas: total - available } : {}),
      conditions,
    };
    if (canonicalJson(deployment.status) !== before) this.deployments.touch(deployment);
  }

  /** The condition as it now stands, keeping the old one (and its times) when nothing about it changed. */
  private condition(
    previous: SimCondition[],
    type: string,
    [status, reason, message]: [SimCondition['status'], string, string],
  ): SimCondition {
    const old = previous.find((candidate) => candidate.type === type);
    if (old && old.status === status && old.reason === reason && old.message === message) return old;
    const at = this.timestamp();
    return {
      type,
      status,
      reason,
      message,
      lastUpdateTime: at,
      lastTransitionTime: old && old.status === status ? old.lastTransitionTime : at,
    };
  }

  /** Old ReplicaSets scaled to zero beyond revisionHistoryLimit go, oldest first. */
  private cleanUp(deployment: SimDeployment): void {
    const current = this.newReplicaSetOf(deployment);
    const cleanable = this.owned(deployment).filter(
      (rs) => rs !== current && rs.spec.replicas === 0 && rs.status.replicas === 0,
    );
    const excess = cleanable.length - deployment.spec.revisionHistoryLimit;
    for (const replicaSet of cleanable.slice(0, Math.max(0, excess))) {
      this.replicaSets.delete(replicaSet.metadata.namespace, replicaSet.metadata.name);
      this.clock.tick();
    }
  }
}

export function revisionOf(replicaSet: SimReplicaSet): number {
  return Number(replicaSet.metadata.annotations?.[REVISION_ANNOTATION] ?? 0);
}

/** Equal as Go's Semantic.DeepEqual sees it, ignoring pod-template-hash: null, {} and [] are the same as absent. */
function sameTemplate(a: SimPodTemplate, b: SimPodTemplate): boolean {
  return templateKey(a) === templateKey(b);
}

/** A stable pod-template-hash: the controller hashes the template; any stable hash in its alphabet will do. */
function templateHash(template: SimPodTemplate): string {
  const digest = createHash('sha256').update(templateKey(template)).digest();
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...digest.subarray(0, 10)].map((byte) => alphabet[byte % alphabet.length]).join('');
}

function keyOf(deployment: SimDeployment): string {
  return objectKey(deployment.metadata.namespace, deployment.metadata.name);
}

function copyAnnotations(deployment: SimDeployment, replicaSet: SimReplicaSet): void {
  const annotations = (replicaSet.metadata.annotations ??= {});
  for (const [key, value] of Object.entries(deployment.metadata.annotations ?? {})) {
    if (!NOT_COPIED_TO_REPLICA_SETS.has(key)) annotations[key] = value;
  }
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

// Stored templates are never changed in place (writes replace objects), so their keys can be cached: the
// controller compares the template with every ReplicaSet's on every sync, and histories can be long.
const templateKeys = new WeakMap<SimPodTemplate, string>();

function templateKey(template: SimPodTemplate): string {
  let key = templateKeys.get(template);
  if (key === undefined) {
    key = canonicalJson(withoutEmpties(withoutHashLabel(template)));
    templateKeys.set(template, key);
  }
  return key;
}

function withoutHashLabel(template: SimPodTemplate): SimPodTemplate {
  const copy = structuredClone(template);
  if (copy.metadata?.labels) {
    copy.metadata.labels = Object.fromEntries(
      Object.entries(copy.metadata.labels).filter(([key]) => key !== POD_TEMPLATE_HASH_LABEL),
    );
  }
  return copy;
}

function withoutEmpties(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutEmpties);
  if (typeof value !== 'object' || value === null) return value;
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const cleaned = withoutEmpties(item);
    const empty =
      cleaned === null ||
      cleaned === undefined ||
      (Array.isArray(cleaned) && cleaned.length === 0) ||
      (typeof cleaned === 'object' && !Array.isArray(cleaned) && Object.keys(cleaned).length === 0);
    if (!empty) result[key] = cleaned;
  }
  return result;
}
