import type { KubernetesClient } from '../kubernetes/client';
import { KubernetesConflict, KubernetesNotFound } from '../kubernetes/errors';
import { labelSelectorToString, type Deployment, type ReplicaSet } from '../kubernetes/resources';
import { RunbookError } from '../shared/errors';
import {
  imagesOf,
  isControlledBy,
  planRollback,
  revisionOf,
  sameTemplateIgnoringHash,
  type GuardReason,
  type RollbackPlan,
} from './plan';

/** The PATCH conflicted twice; the Deployment was left as it was. */
export class RollbackConflict extends RunbookError {
  override name = 'RollbackConflict';
}

export interface DeploymentRef {
  namespace: string;
  deployment: string;
}

export type UndoResult =
  | {
      performed: true;
      fromRevision: number;
      toRevision: number;
      fromImages: string[];
      toImages: string[];
      /** metadata.generation after the patch: the rollout is observed once status.observedGeneration reaches it. */
      generation: number;
      /** 0 when a retried invocation found its own earlier patch already applied. */
      attempts: number;
    }
  | { performed: false; reason: GuardReason | 'deployment-changed'; detail: string };

const MAX_ATTEMPTS = 2;

/** Reads the Deployment and its ReplicaSets and plans the undo; changes nothing. */
export async function readRollbackPlan(
  client: KubernetesClient,
  { namespace, deployment, toRevision }: DeploymentRef & { toRevision?: number },
): Promise<RollbackPlan> {
  const state = await readState(client, { namespace, deployment });
  if (!state)
    return {
      kind: 'guarded',
      reason: 'deployment-missing',
      detail: missingDetail({ namespace, deployment }),
    };
  return planRollback(state.deployment, state.replicaSets, toRevision === undefined ? {} : { toRevision });
}

/**
 * Performs the undo Prepare planned, if the Deployment is still where it was then: re-reads, re-plans for the
 * same target revision and sends the patch guarded by resourceVersion. A conflict means someone wrote in
 * between, so it starts over once; a deploy made meanwhile is never overwritten.
 */
export async function undoRollout(
  client: KubernetesClient,
  ref: DeploymentRef,
  expected: { fromRevision: number; toRevision: number },
): Promise<UndoResult> {
  for (let attempt = 1; ; attempt += 1) {
    const state = await readState(client, ref);
    if (!state) return { performed: false, reason: 'deployment-missing', detail: missingDetail(ref) };
    const applied = alreadyApplied(state.deployment, state.replicaSets, expected);
    if (applied) return applied;
    const changed = changedSincePlan(state.deployment, state.replicaSets, expected.fromRevision);
    if (changed) return { performed: false, reason: 'deployment-changed', detail: changed };

    const plan = planRollback(state.deployment, state.replicaSets, { toRevision: expected.toRevision });
    if (plan.kind === 'guarded') return { performed: false, reason: plan.reason, detail: plan.detail };

    try {
      const patched = await client.patchDeployment(ref.namespace, ref.deployment, plan.patch);
      return {
        performed: true,
        fromRevision: plan.fromRevision,
        toRevision: plan.toRevision,
        fromImages: plan.fromImages,
        toImages: plan.toImages,
        generation: patched.metadata.generation ?? 0,
        attempts: attempt,
      };
    } catch (error) {
      if (!(error instanceof KubernetesConflict)) throw error;
      if (attempt >= MAX_ATTEMPTS) {
        throw new RollbackConflict(
          `Rollback of Deployment ${ref.namespace}/${ref.deployment} gave up after ${MAX_ATTEMPTS} attempts, each ` +
            `refused as a conflict; the rollback changed nothing (last: ${error.message})`,
          { cause: error },
        );
      }
    }
  }
}

async function readState(
  client: KubernetesClient,
  { namespace, deployment: name }: DeploymentRef,
): Promise<{ deployment: Deployment; replicaSets: ReplicaSet[] } | undefined> {
  let deployment: Deployment;
  try {
    deployment = await client.getDeployment(namespace, name);
  } catch (error) {
    if (error instanceof KubernetesNotFound) return undefined;
    throw error;
  }
  const replicaSets = await client.listReplicaSets(
    namespace,
    labelSelectorToString(deployment.spec.selector),
  );
  return { deployment, replicaSets };
}

/**
 * Why the Deployment is no longer the one the plan was made for, if it is not: a new revision, or (before the
 * controller has numbered it) a template that is not the planned revision's.
 */
function changedSincePlan(
  deployment: Deployment,
  replicaSets: ReplicaSet[],
  fromRevision: number,
): string | undefined {
  const label = `Deployment ${deployment.metadata.namespace}/${deployment.metadata.name}`;
  const revision = revisionOf(deployment);
  if (revision !== fromRevision) {
    return `${label} is at revision ${revision ?? 'unknown'}, not ${fromRevision} as planned: it was deployed since; not overwriting that.`;
  }
  const planned = replicaSets.find(
    (replicaSet) => isControlledBy(replicaSet, deployment) && revisionOf(replicaSet) === fromRevision,
  );
  if (!planned || !sameTemplateIgnoringHash(planned.spec.template, deployment.spec.template)) {
    return `${label} has a template that is not revision ${fromRevision}'s: a deploy is in flight; not overwriting it.`;
  }
  return undefined;
}

/**
 * The Deployment already runs the target revision's template, numbered or not yet numbered by the controller:
 * the answer to an earlier PATCH of this same undo was lost (a timeout, a retried invocation). Reporting that as
 * "deployment changed" would hide a rollback that happened.
 */
function alreadyApplied(
  deployment: Deployment,
  replicaSets: ReplicaSet[],
  expected: { fromRevision: number; toRevision: number },
): UndoResult | undefined {
  const owned = replicaSets.filter((replicaSet) => isControlledBy(replicaSet, deployment));
  const from = owned.find((replicaSet) => revisionOf(replicaSet) === expected.fromRevision);
  const restored = owned.find((replicaSet) => {
    const history =
      replicaSet.metadata.annotations?.['deployment.kubernetes.io/revision-history']?.split(',') ?? [];
    const wasTarget =
      revisionOf(replicaSet) === expected.toRevision || history.includes(String(expected.toRevision));
    return wasTarget && sameTemplateIgnoringHash(replicaSet.spec.template, deployment.spec.template);
  });
  if (!from || !restored || sameTemplateIgnoringHash(from.spec.template, deployment.spec.template))
    return undefined;
  return {
    performed: true,
    fromRevision: expected.fromRevision,
    toRevision: expected.toRevision,
    fromImages: imagesOf(from.spec.template),
    toImages: imagesOf(restored.spec.template),
    generation: deployment.metadata.generation ?? 0,
    attempts: 0,
  };
}

function missingDetail({ namespace, deployment }: DeploymentRef): string {
  return `Deployment ${namespace}/${deployment} does not exist.`;
}
