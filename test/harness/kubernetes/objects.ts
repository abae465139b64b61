// The objects the simulated server stores: apps/v1 as zod schemas (a patched Deployment is validated before it is
// persisted, as the API server validates it), and cert-manager.io/v1 Certificates, which are only ever read.
import { z } from 'zod';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

/** RFC 3339 to the second, as the API server writes timestamps. */
export function kubernetesTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const stringMap = z.record(z.string(), z.string());

const selectorSchema = z.object({
  matchLabels: stringMap.optional(),
  matchExpressions: z
    .array(
      z.object({
        key: z.string().min(1),
        operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});
export type SimLabelSelector = z.infer<typeof selectorSchema>;

const templateSchema = z.looseObject({
  metadata: z.looseObject({ labels: stringMap.optional(), annotations: stringMap.optional() }).optional(),
  spec: z.looseObject({
    containers: z.array(z.looseObject({ name: z.string().min(1), image: z.string().min(1) })).min(1),
  }),
});
export type SimPodTemplate = z.infer<typeof templateSchema>;

const metadataSchema = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().min(1),
  uid: z.string(),
  resourceVersion: z.string(),
  generation: z.number().int(),
  creationTimestamp: z.string(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
  ownerReferences: z
    .array(
      z.object({
        apiVersion: z.string(),
        kind: z.string(),
        name: z.string(),
        uid: z.string(),
        controller: z.boolean().optional(),
        blockOwnerDeletion: z.boolean().optional(),
      }),
    )
    .optional(),
});
type SimObjectMeta = z.infer<typeof metadataSchema>;

const conditionSchema = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string(),
  message: z.string(),
  lastUpdateTime: z.string(),
  lastTransitionTime: z.string(),
});
export type SimCondition = z.infer<typeof conditionSchema>;

export const deploymentSchema = z.object({
  apiVersion: z.literal('apps/v1'),
  kind: z.literal('Deployment'),
  metadata: metadataSchema,
  spec: z.looseObject({
    replicas: z.number().int().min(0),
    selector: selectorSchema,
    template: templateSchema,
    paused: z.boolean().optional(),
    revisionHistoryLimit: z.number().int().min(0),
    progressDeadlineSeconds: z.number().int().min(1),
  }),
  status: z.looseObject({
    observedGeneration: z.number().int().optional(),
    replicas: z.number().int().optional(),
    updatedReplicas: z.number().int().optional(),
    readyReplicas: z.number().int().optional(),
    availableReplicas: z.number().int().optional(),
    unavailableReplicas: z.number().int().optional(),
    conditions: z.array(conditionSchema).optional(),
  }),
});
export type SimDeployment = z.infer<typeof deploymentSchema>;

export interface SimReplicaSet {
  apiVersion: 'apps/v1';
  kind: 'ReplicaSet';
  metadata: SimObjectMeta;
  spec: { replicas: number; selector: SimLabelSelector; template: SimPodTemplate };
  status: {
    replicas: number;
    readyReplicas?: number;
    availableReplicas?: number;
    observedGeneration: number;
  };
}

export interface SimCertificateCondition {
  type: 'Ready' | 'Issuing';
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration: number;
}

/** A cert-manager.io/v1 Certificate as cert-manager leaves it: spec as applied, status as its controllers write it. */
export interface SimCertificate {
  apiVersion: 'cert-manager.io/v1';
  kind: 'Certificate';
  metadata: SimObjectMeta;
  spec: {
    secretName: string;
    commonName?: string;
    dnsNames?: string[];
    issuerRef: { name: string; kind?: string; group?: string };
    privateKey: { algorithm: string; size: number; rotationPolicy: string };
  };
  /** Absent until cert-manager first reconciles the Certificate. */
  status?: {
    notBefore?: string;
    notAfter?: string;
    renewalTime?: string;
    revision?: number;
    failedIssuanceAttempts?: number;
    lastFailureTime?: string;
    conditions?: SimCertificateCondition[];
  };
}

/** A container's compute resources as the API server returns them: quantities as strings (`250m`, `512Mi`). */
export interface SimResourceRequirements {
  requests?: { cpu?: string; memory?: string };
  limits?: { cpu?: string; memory?: string };
}

interface SimWorkloadSpec {
  replicas?: number;
  selector: SimLabelSelector;
  template: SimPodTemplate;
  revisionHistoryLimit: number;
}

/** An apps/v1 StatefulSet as its controller leaves it once every replica is ready; only ever read. */
export interface SimStatefulSet {
  apiVersion: 'apps/v1';
  kind: 'StatefulSet';
  metadata: SimObjectMeta;
  spec: SimWorkloadSpec & {
    replicas: number;
    serviceName: string;
    podManagementPolicy: 'OrderedReady' | 'Parallel';
    updateStrategy: { type: 'RollingUpdate'; rollingUpdate: { partition: number } };
    persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain'; whenScaled: 'Retain' };
  };
  status: {
    observedGeneration: number;
    replicas: number;
    readyReplicas: number;
    currentReplicas: number;
    updatedReplicas: number;
    availableReplicas: number;
    currentRevision: string;
    updateRevision: string;
    collisionCount: number;
  };
}

/** An apps/v1 DaemonSet as its controller leaves it with a pod on each of its nodes; only ever read. */
export interface SimDaemonSet {
  apiVersion: 'apps/v1';
  kind: 'DaemonSet';
  metadata: SimObjectMeta;
  spec: SimWorkloadSpec & {
    updateStrategy: {
      type: 'RollingUpdate';
      rollingUpdate: { maxUnavailable: number | string; maxSurge: number };
    };
  };
  status: {
    currentNumberScheduled: number;
    numberMisscheduled: number;
    desiredNumberScheduled: number;
    numberReady: number;
    observedGeneration: number;
    updatedNumberScheduled: number;
    numberAvailable: number;
  };
}

/** One of an autoscaling/v2 HPA's metrics, as `kubectl autoscale` or a manifest writes it. */
export interface SimHpaMetric {
  type: 'Resource';
  resource: {
    name: 'cpu' | 'memory';
    target:
      { type: 'Utilization'; averageUtilization: number } | { type: 'AverageValue'; averageValue: string };
  };
}

/** An autoscaling/v2 HorizontalPodAutoscaler, spec as applied and status as the controller writes it. */
export interface SimHorizontalPodAutoscaler {
  apiVersion: 'autoscaling/v2';
  kind: 'HorizontalPodAutoscaler';
  metadata: SimObjectMeta;
  spec: {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    /** Absent means 1, as the API server defaults it. */
    minReplicas: number;
    maxReplicas: number;
    metrics?: SimHpaMetric[];
  };
  status: {
    currentReplicas: number;
    desiredReplicas: number;
    lastScaleTime?: string;
    currentMetrics?: unknown[];
    conditions: Array<{
      type: string;
      status: 'True' | 'False';
      reason: string;
      message: string;
      lastTransitionTime: string;
    }>;
  };
}

// networking.k8s.io/v1 Ingresses and gateway.networking.k8s.io/v1 HTTPRoutes, the canary's traffic objects: a
// patched one is validated before it is persisted, as the API server (or the CRD's OpenAPI schema) validates it.

const ingressBackendSchema = z.looseObject({
  service: z
    .object({
      name: z.string().min(1),
      port: z.union([z.object({ number: z.number().int().min(1) }), z.object({ name: z.string().min(1) })]),
    })
    .optional(),
});

export const ingressSchema = z.object({
  apiVersion: z.literal('networking.k8s.io/v1'),
  kind: z.literal('Ingress'),
  metadata: metadataSchema,
  spec: z.looseObject({
    ingressClassName: z.string().optional(),
    defaultBackend: ingressBackendSchema.optional(),
    rules: z
      .array(
        z.looseObject({
          host: z.string().optional(),
          http: z.object({
            paths: z.array(
              z.object({
                path: z.string(),
                pathType: z.enum(['Exact', 'Prefix', 'ImplementationSpecific']),
                backend: ingressBackendSchema,
              }),
            ),
          }),
        }),
      )
      .optional(),
  }),
  status: z.looseObject({}),
});
export type SimIngress = z.infer<typeof ingressSchema>;

const parentRefSchema = z.object({
  group: z.string().optional(),
  kind: z.string().optional(),
  name: z.string().min(1),
  namespace: z.string().optional(),
  sectionName: z.string().optional(),
  port: z.number().int().optional(),
});
export type SimParentRef = z.infer<typeof parentRefSchema>;

const httpBackendRefSchema = z.looseObject({
  group: z.string().optional(),
  kind: z.string().optional(),
  name: z.string().min(1),
  namespace: z.string().optional(),
  port: z.number().int().min(1).max(65535).optional(),
  // The CRD's bounds (gateway-api apis/v1 BackendRef.Weight).
  weight: z.number().int().min(0).max(1_000_000).optional(),
});
export type SimBackendRef = z.infer<typeof httpBackendRefSchema>;

export interface SimRouteCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration: number;
  lastTransitionTime: string;
}

export const httpRouteSchema = z.object({
  apiVersion: z.literal('gateway.networking.k8s.io/v1'),
  kind: z.literal('HTTPRoute'),
  metadata: metadataSchema,
  spec: z.looseObject({
    parentRefs: z.array(parentRefSchema).max(32).optional(),
    hostnames: z.array(z.string()).optional(),
    rules: z
      .array(
        z.looseObject({
          matches: z.array(z.looseObject({})).optional(),
          backendRefs: z.array(httpBackendRefSchema).max(16).optional(),
        }),
      )
      .max(16)
      .optional(),
  }),
  status: z
    .object({
      parents: z.array(
        z.object({
          parentRef: parentRefSchema,
          controllerName: z.string(),
          conditions: z.array(
            z.object({
              type: z.string(),
              status: z.enum(['True', 'False', 'Unknown']),
              reason: z.string(),
              message: z.string(),
              observedGeneration: z.number().int(),
              lastTransitionTime: z.string(),
            }),
          ),
        }),
      ),
    })
    .optional(),
});
export type SimHttpRoute = z.infer<typeof httpRouteSchema>;
