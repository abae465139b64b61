import type { Deployment, JsonPatchOperation, PodTemplate, ReplicaSet } from '../kubernetes/resources';

// `kubectl rollout undo` for a Deployment (kubectl pkg/polymorphichelpers/rollback.go), as a pure function.

const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

/** kubectl's annotationsToSkip: the Deployment keeps its own values of these, all others come from the ReplicaSet. */
const ANNOTATIONS_TO_SKIP = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
  'deprecated.deployment.rollback.to',
]);

export type GuardReason =
  | 'deployment-missing'
  | 'deployment-paused'
  | 'no-previous-revision'
  | 'revision-not-found'
  | 'already-at-revision';

export interface ReadyRollbackPlan {
  kind: 'ready';
  fromRevision: number;
  toRevision: number;
  fromImages: string[];
  toImages: string[];
  /** The Deployment as read; the patch's `test` op makes the PATCH fail if it changed since. */
  /** The Deployment's metadata.generation the patch is guarded by. */
  generation: number;
  patch: JsonPatchOperation[];
}

export interface GuardedRollbackPlan {
  kind: 'guarded';
  reason: GuardReason;
  detail: string;
}

export type RollbackPlan = ReadyRollbackPlan | GuardedRollbackPlan;

/**
 * Plans the undo exactly as kubectl does: among the ReplicaSets the Deployment controls, the target is
 * `toRevision` or else the second-highest revision; then a paused Deployment is refused, and a template that
 * already matches the target is left alone.
 */
export function planRollback(
  deployment: Deployment,
  replicaSets: ReplicaSet[],
  { toRevision }: { toRevision?: number } = {},
): RollbackPlan {
  const { namespace, name } = deployment.metadata;
  const label = `Deployment ${namespace}/${name}`;
  const fromRevision = revisionOf(deployment) ?? 0;
  const history = replicaSets
    .filter((replicaSet) => isControlledBy(replicaSet, deployment))
    .flatMap((replicaSet) => {
      const revision = revisionOf(replicaSet);
      return revision === undefined ? [] : [{ revision, replicaSet }];
    });

  // kubectl treats --to-revision=0 as "the previous one".
  const wanted = toRevision === 0 ? undefined : toRevision;
  let target: { revision: number; replicaSet: ReplicaSet } | undefined;
  if (wanted === undefined) {
    target = [...history].sort((a, b) => b.revision - a.revision)[1];
    if (!target) {
      const limit = deployment.spec.revisionHistoryLimit;
      return guarded(
        'no-previous-revision',
        `${label} has no revision before ${fromRevision} to roll back to` +
          (limit === 0 ? ' (revisionHistoryLimit is 0, so none are kept).' : '.'),
      );
    }
  } else {
    target = history.find((entry) => entry.revision === wanted);
    if (!target) {
      const kept = history.map((entry) => entry.revision).sort((a, b) => a - b);
      return guarded(
        'revision-not-found',
        `${label} has no revision ${wanted} (revisions kept: ${kept.length ? kept.join(', ') : 'none'}).`,
      );
    }
  }

  if (deployment.spec.paused) {
    return guarded(
      'deployment-paused',
      `${label} is paused; resume it (kubectl rollout resume deployment/${name}) before rolling back to revision ${target.revision}.`,
    );
  }
  if (sameTemplateIgnoringHash(target.replicaSet.spec.template, deployment.spec.template)) {
    return guarded(
      'already-at-revision',
      `${label} already runs the template of revision ${target.revision} (current revision ${fromRevision}); nothing to undo.`,
    );
  }

  // The Deployment's template never carries the hash label; the controller adds it to the ReplicaSet's copy.
  const templateToRestore = withoutHashLabel(target.replicaSet.spec.template);
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(deployment.metadata.annotations ?? {})) {
    if (ANNOTATIONS_TO_SKIP.has(key)) annotations[key] = value;
  }
  for (const [key, value] of Object.entries(target.replicaSet.metadata.annotations ?? {})) {
    if (!ANNOTATIONS_TO_SKIP.has(key)) annotations[key] = value;
  }

  return {
    kind: 'ready',
    fromRevision,
    toRevision: target.revision,
    fromImages: imagesOf(deployment.spec.template),
    toImages: imagesOf(templateToRestore),
    generation: deployment.metadata.generation ?? 0,
    patch: [
      // generation, not resourceVersion: the controller's status writes bump resourceVersion all through a
      // rollout and would make every undo of a progressing Deployment conflict; only spec changes bump generation.
      { op: 'test', path: '/metadata/generation', value: deployment.metadata.generation ?? 0 },
      { op: 'replace', path: '/spec/template', value: templateToRestore },
      { op: 'replace', path: '/metadata/annotations', value: annotations },
    ],
  };
}

/** `deployment.kubernetes.io/revision` as kubectl reads it: absent is 0, unreadable is no revision at all. */
export function revisionOf(object: {
  metadata: { annotations?: Record<string, string> };
}): number | undefined {
  const value = object.metadata.annotations?.[REVISION_ANNOTATION];
  if (value === undefined) return 0;
  return /^\d+$/.test(value) ? Number(value) : undefined;
}

/** The ReplicaSets a Deployment owns (its controller reference), not merely those its selector matches. */
export function isControlledBy(replicaSet: ReplicaSet, deployment: Deployment): boolean {
  return (replicaSet.metadata.ownerReferences ?? []).some(
    (owner) => owner.controller === true && owner.uid === deployment.metadata.uid,
  );
}

/** kubectl's equalIgnoreHash: the ReplicaSet's copy carries a pod-template-hash label the Deployment's lacks. */
export function sameTemplateIgnoringHash(a: PodTemplate, b: PodTemplate): boolean {
  return semanticallyEqual(withoutHashLabel(a), withoutHashLabel(b));
}

export function imagesOf(template: PodTemplate): string[] {
  return template.spec.containers.map((container) => container.image);
}

function withoutHashLabel(template: PodTemplate): PodTemplate {
  const copy = structuredClone(template);
  if (copy.metadata?.labels) {
    copy.metadata.labels = Object.fromEntries(
      Object.entries(copy.metadata.labels).filter(([key]) => key !== POD_TEMPLATE_HASH_LABEL),
    );
  }
  return copy;
}

/** apimachinery's Semantic.DeepEqual on JSON: an absent field equals null, `{}` and `[]` (Go's nil vs empty). */
function semanticallyEqual(a: unknown, b: unknown): boolean {
  if (isEmpty(a) && isEmpty(b)) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((item, index) => semanticallyEqual(item, b[index]))
    );
  }
  if (isRecord(a) && isRecord(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((key) => semanticallyEqual(a[key], b[key]));
  }
  return a === b;
}

function isEmpty(value: unknown): boolean {
  return (
    value === undefined ||
    value === null ||
    (Array.isArray(value) && value.length === 0) ||
    (isRecord(value) && Object.keys(value).length === 0)
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function guarded(reason: GuardReason, detail: string): GuardedRollbackPlan {
  return { kind: 'guarded', reason, detail };
}
