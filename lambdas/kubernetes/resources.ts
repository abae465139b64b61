import { z } from 'zod';

// The subset of apps/v1 we read. Objects strip unknown fields, except the pod template, which is copied from a
// ReplicaSet into the Deployment and must round-trip whole (volumes, probes, affinity, ...).

const stringMap = z.record(z.string(), z.string());

export const labelSelectorSchema = z.object({
  matchLabels: stringMap.optional(),
  matchExpressions: z
    .array(
      z.object({
        key: z.string(),
        operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});
export type LabelSelector = z.infer<typeof labelSelectorSchema>;

export const ownerReferenceSchema = z.object({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  uid: z.string(),
  controller: z.boolean().optional(),
});

export const objectMetaSchema = z.object({
  name: z.string(),
  namespace: z.string(),
  uid: z.string(),
  resourceVersion: z.string(),
  generation: z.number().int().optional(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
  ownerReferences: z.array(ownerReferenceSchema).optional(),
});
export type ObjectMeta = z.infer<typeof objectMetaSchema>;

export const podTemplateSchema = z.looseObject({
  metadata: z.looseObject({ labels: stringMap.optional(), annotations: stringMap.optional() }).optional(),
  spec: z.looseObject({
    containers: z.array(z.looseObject({ name: z.string(), image: z.string() })).min(1),
  }),
});
export type PodTemplate = z.infer<typeof podTemplateSchema>;

export const deploymentConditionSchema = z.object({
  type: z.string(),
  status: z.string(),
  reason: z.string().optional(),
  message: z.string().optional(),
});

// Status counters are omitted by the server when zero.
const count = z.number().int().optional();

export const deploymentSchema = z.object({
  metadata: objectMetaSchema,
  spec: z.object({
    replicas: count,
    selector: labelSelectorSchema,
    template: podTemplateSchema,
    paused: z.boolean().optional(),
    revisionHistoryLimit: count,
    progressDeadlineSeconds: count,
  }),
  status: z
    .object({
      observedGeneration: count,
      replicas: count,
      updatedReplicas: count,
      readyReplicas: count,
      availableReplicas: count,
      unavailableReplicas: count,
      conditions: z.array(deploymentConditionSchema).optional(),
    })
    .optional(),
});
export type Deployment = z.infer<typeof deploymentSchema>;

export const replicaSetSchema = z.object({
  metadata: objectMetaSchema,
  spec: z.object({
    replicas: count,
    selector: labelSelectorSchema,
    template: podTemplateSchema,
  }),
  status: z
    .object({
      observedGeneration: count,
      replicas: count,
      readyReplicas: count,
      availableReplicas: count,
    })
    .optional(),
});
export type ReplicaSet = z.infer<typeof replicaSetSchema>;

export const replicaSetListSchema = z.object({
  metadata: z.object({ resourceVersion: z.string().optional(), continue: z.string().optional() }),
  items: z.array(replicaSetSchema),
});
export type ReplicaSetList = z.infer<typeof replicaSetListSchema>;

/** RFC 6902 operations, as far as we send them. */
export type JsonPatchOperation =
  { op: 'add' | 'replace' | 'test'; path: string; value: unknown } | { op: 'remove'; path: string };

/**
 * The `labelSelector` query value for a selector, as `metav1.LabelSelectorAsSelector(...).String()` writes it:
 * requirements sorted by key, set values sorted.
 */
export function labelSelectorToString(selector: LabelSelector): string {
  const requirements: Array<{ key: string; text: string }> = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    requirements.push({ key, text: `${key}=${value}` });
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const set = [...values].sort().join(',');
    const text = {
      In: `${key} in (${set})`,
      NotIn: `${key} notin (${set})`,
      Exists: key,
      DoesNotExist: `!${key}`,
    }[operator];
    requirements.push({ key, text });
  }
  return requirements
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((requirement) => requirement.text)
    .join(',');
}
