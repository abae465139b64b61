import type { Deployment, JsonPatchOperation } from '../../kubernetes/resources';
import { InvalidStepPlan } from '../weights';
import { assertWeight, type Observed, type TrafficRouter } from './router';

// The replica-ratio router, for clusters with neither an ALB Ingress nor a Gateway: stable and canary
// Deployments whose pods the same Service selects. kube-proxy spreads connections evenly over the Service's
// ready endpoints, so the canary's share of traffic is about its share of ready pods. Coarse: it moves in
// steps of 100 ÷ total replicas, it counts connections rather than requests (keep-alive skews it), and the
// first step needs a whole pod (1 pod in 10 is 10 %, not 5 %). The total stays constant, so capacity does too.
// An HPA on either Deployment would fight these replica counts: the configuration must not pair them.

export interface ReplicaSplit {
  /** The step weight asked for. */
  weight: number;
  stableReplicas: number;
  canaryReplicas: number;
  /** The canary's share of pods, in percent: what the Service really gives it. */
  achievedWeight: number;
  /** achievedWeight − weight, in percentage points. */
  error: number;
}

/**
 * The replicas for stable and canary that come closest to `weight` with `totalReplicas` pods (rounding half
 * up), keeping at least one pod on each side for any weight strictly between 0 and 100: a step must send the
 * canary some traffic to be analysed, and must not yet take stable away.
 */
export function replicaSplit(weight: number, totalReplicas: number): ReplicaSplit {
  assertWeight(weight);
  if (!Number.isInteger(totalReplicas) || totalReplicas < 1) {
    throw new InvalidStepPlan(
      `the replica ratio needs a whole number of replicas, at least 1, not ${totalReplicas}`,
    );
  }
  let canaryReplicas: number;
  if (weight === 0) canaryReplicas = 0;
  else if (weight === 100) canaryReplicas = totalReplicas;
  else {
    if (totalReplicas < 2) {
      throw new InvalidStepPlan(
        `the replica ratio cannot give the canary ${weight} % with ${totalReplicas} replica: it needs at least 2`,
      );
    }
    // Integer arithmetic: round half up without float error (10 × 5 % is exactly half a pod).
    const nearest = Math.floor((totalReplicas * weight + 50) / 100);
    canaryReplicas = Math.min(Math.max(nearest, 1), totalReplicas - 1);
  }
  const achievedWeight = (canaryReplicas / totalReplicas) * 100;
  return {
    weight,
    stableReplicas: totalReplicas - canaryReplicas,
    canaryReplicas,
    achievedWeight,
    error: achievedWeight - weight,
  };
}

export interface ReplicaRatioRow extends ReplicaSplit {
  totalReplicas: number;
}

/** How close the replica ratio gets at each step for each total: the table the README quotes. */
export function replicaRatioTable(weights: readonly number[], totals: readonly number[]): ReplicaRatioRow[] {
  return totals.flatMap((totalReplicas) =>
    weights.map((weight) => ({ totalReplicas, ...replicaSplit(weight, totalReplicas) })),
  );
}

export interface ReplicaRatioSettings {
  stableDeployment: string;
  canaryDeployment: string;
  /** stable + canary replicas, constant through the run: stable's replica count before the canary. */
  totalReplicas: number;
}

export interface DeploymentPair {
  stable: Deployment;
  canary: Deployment;
}

/** One Deployment's scale change; the list is in the order to send it. */
export interface ScaleChange {
  role: 'stable' | 'canary';
  name: string;
  replicas: number;
  patch: JsonPatchOperation[];
}

const replicasOf = (deployment: Deployment): number => deployment.spec.replicas ?? 1;

/**
 * The scale changes for a step, each a JSON Patch guarded by a `test` of the replica count read (a scale by
 * someone else in between fails the patch, HTTP 422). The side that grows goes first, so the Service never has
 * fewer pods than the total while pods start: the canary when its weight rises, stable when it falls (abort).
 */
export function replicaRatioChanges(
  pair: DeploymentPair,
  settings: ReplicaRatioSettings,
  weight: number,
): ScaleChange[] {
  const split = replicaSplit(weight, settings.totalReplicas);
  const change = (role: 'stable' | 'canary', replicas: number): ScaleChange => ({
    role,
    name: role === 'stable' ? settings.stableDeployment : settings.canaryDeployment,
    replicas,
    patch: [
      { op: 'test', path: '/spec/replicas', value: replicasOf(pair[role]) },
      { op: 'replace', path: '/spec/replicas', value: replicas },
    ],
  });
  const stable = change('stable', split.stableReplicas);
  const canary = change('canary', split.canaryReplicas);
  const changes = split.canaryReplicas >= replicasOf(pair.canary) ? [canary, stable] : [stable, canary];
  // A Deployment already at its count needs no patch.
  return changes.filter((entry) => entry.replicas !== replicasOf(pair[entry.role]));
}

/** The canary's share of the replicas the two specs ask for; another total means someone scaled by hand. */
export function replicaRatioConfiguredWeight(pair: DeploymentPair, settings: ReplicaRatioSettings): Observed {
  const stable = replicasOf(pair.stable);
  const canary = replicasOf(pair.canary);
  if (stable + canary !== settings.totalReplicas) {
    return {
      state: 'mismatch',
      reason: `stable has ${stable} and canary ${canary} replicas, not the ${settings.totalReplicas} in total the runbook keeps (scaled by hand, or by an autoscaler)`,
    };
  }
  return { state: 'weight', weight: (canary / settings.totalReplicas) * 100 };
}

/** Why a Deployment's pods are not yet what its spec asks for, or null when they are. */
function rolloutLag(role: string, deployment: Deployment): string | null {
  const wanted = replicasOf(deployment);
  const status = deployment.status ?? {};
  const generation = deployment.metadata.generation ?? 0;
  if ((status.observedGeneration ?? 0) < generation) {
    return `the ${role} Deployment's controller has not observed generation ${generation} yet`;
  }
  const available = status.availableReplicas ?? 0;
  if (available !== wanted || (status.replicas ?? 0) !== wanted) {
    return `the ${role} Deployment has ${available} available of ${wanted} replicas (${status.replicas ?? 0} pods)`;
  }
  return null;
}

/**
 * The canary's share of available pods, once both Deployments have settled on their specs: until then the
 * Service's endpoints are still changing (`pending`).
 */
export function replicaRatioObservedWeight(pair: DeploymentPair): Observed {
  for (const role of ['stable', 'canary'] as const) {
    const lag = rolloutLag(role, pair[role]);
    if (lag) return { state: 'pending', reason: lag };
  }
  const stable = pair.stable.status?.availableReplicas ?? 0;
  const canary = pair.canary.status?.availableReplicas ?? 0;
  if (stable + canary === 0) return { state: 'mismatch', reason: 'neither Deployment has an available pod' };
  return { state: 'weight', weight: (canary / (stable + canary)) * 100 };
}

/** The replica-ratio router: scales the two Deployments, verifies on their available pods. */
export function replicaRatioRouter(
  settings: ReplicaRatioSettings,
): TrafficRouter<DeploymentPair, ScaleChange[], DeploymentPair> {
  return {
    kind: 'replica-ratio',
    effectiveWeight: (weight) => replicaSplit(weight, settings.totalReplicas).achievedWeight,
    desired: (weight, current) => replicaRatioChanges(current, settings, weight),
    configured: (current) => replicaRatioConfiguredWeight(current, settings),
    observed: (pair) => replicaRatioObservedWeight(pair),
  };
}
