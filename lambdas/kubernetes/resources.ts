import * as z from 'zod/mini';

// The subset of apps/v1 we read. Objects strip unknown fields, except the pod template, which is copied from a
// ReplicaSet into the Deployment and must round-trip whole (volumes, probes, affinity, ...).

const stringMap = z.record(z.string(), z.string());
const optionalMap = z.optional(stringMap);

export const labelSelectorSchema = z.object({
  matchLabels: optionalMap,
  matchExpressions: z.optional(
    z.array(
      z.object({
        key: z.string(),
        operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: z.optional(z.array(z.string())),
      }),
    ),
  ),
});
export type LabelSelector = z.output<typeof labelSelectorSchema>;

export const ownerReferenceSchema = z.object({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  uid: z.string(),
  controller: z.optional(z.boolean()),
});

export const objectMetaSchema = z.object({
  name: z.string(),
  namespace: z.string(),
  uid: z.string(),
  resourceVersion: z.string(),
  generation: z.optional(z.int()),
  labels: optionalMap,
  annotations: optionalMap,
  ownerReferences: z.optional(z.array(ownerReferenceSchema)),
});
export type ObjectMeta = z.output<typeof objectMetaSchema>;

export const podTemplateSchema = z.looseObject({
  metadata: z.optional(z.looseObject({ labels: optionalMap, annotations: optionalMap })),
  spec: z.looseObject({
    containers: z.array(z.looseObject({ name: z.string(), image: z.string() })).check(z.minLength(1)),
  }),
});
export type PodTemplate = z.output<typeof podTemplateSchema>;

export const deploymentConditionSchema = z.object({
  type: z.string(),
  status: z.string(),
  reason: z.optional(z.string()),
  message: z.optional(z.string()),
});

// Status counters are omitted by the server when zero.
const count = z.optional(z.int());

export const deploymentSchema = z.object({
  metadata: objectMetaSchema,
  spec: z.object({
    replicas: count,
    selector: labelSelectorSchema,
    template: podTemplateSchema,
    paused: z.optional(z.boolean()),
    revisionHistoryLimit: count,
    progressDeadlineSeconds: count,
  }),
  status: z.optional(
    z.object({
      observedGeneration: count,
      replicas: count,
      updatedReplicas: count,
      readyReplicas: count,
      availableReplicas: count,
      unavailableReplicas: count,
      conditions: z.optional(z.array(deploymentConditionSchema)),
    }),
  ),
});
export type Deployment = z.output<typeof deploymentSchema>;

export const replicaSetSchema = z.object({
  metadata: objectMetaSchema,
  spec: z.object({
    replicas: count,
    selector: labelSelectorSchema,
    template: podTemplateSchema,
  }),
  status: z.optional(
    z.object({
      observedGeneration: count,
      replicas: count,
      readyReplicas: count,
      availableReplicas: count,
    }),
  ),
});
export type ReplicaSet = z.output<typeof replicaSetSchema>;

export const replicaSetListSchema = z.object({
  metadata: z.object({ resourceVersion: z.optional(z.string()), continue: z.optional(z.string()) }),
  items: z.array(replicaSetSchema),
});
export type ReplicaSetList = z.output<typeof replicaSetListSchema>;

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

// cert-manager.io/v1 Certificates, as far as the certificate check reads them. cert-manager adds status fields
// release by release (and spec fields we do not read): unknown fields are dropped, never refused.

/** An RFC 3339 time as cert-manager writes it; refused here when unparseable, so the report never holds NaN. */
const timestamp = z
  .string()
  .check(z.refine((value) => !Number.isNaN(Date.parse(value)), 'must be a timestamp'));

export const certificateConditionSchema = z.object({
  type: z.string(),
  status: z.string(),
  reason: z.optional(z.string()),
  message: z.optional(z.string()),
});
export type CertificateCondition = z.output<typeof certificateConditionSchema>;

export const certificateSchema = z.object({
  metadata: z.object({ name: z.string(), namespace: z.string() }),
  spec: z.object({
    secretName: z.string(),
    commonName: z.optional(z.string()),
    dnsNames: z.optional(z.array(z.string())),
    issuerRef: z.object({ name: z.string(), kind: z.optional(z.string()) }),
  }),
  // Absent until cert-manager first reconciles the Certificate.
  status: z.optional(
    z.object({
      notAfter: z.optional(timestamp),
      notBefore: z.optional(timestamp),
      renewalTime: z.optional(timestamp),
      failedIssuanceAttempts: z.optional(z.int()),
      lastFailureTime: z.optional(timestamp),
      conditions: z.optional(z.array(certificateConditionSchema)),
    }),
  ),
});
export type Certificate = z.output<typeof certificateSchema>;

export const certificateListSchema = z.object({
  metadata: z.object({ resourceVersion: z.optional(z.string()), continue: z.optional(z.string()) }),
  items: z.array(certificateSchema),
});

// Workloads and autoscalers, as the right-sizing report reads them: their containers' resources only.

/** A Kubernetes resource quantity as written (`250m`, `1.5`, `512Mi`, `1G`); parsed by `quantity.ts`. */
const quantityText = z.union([z.string(), z.number()]);
const resourceListSchema = z.optional(
  z.looseObject({ cpu: z.optional(quantityText), memory: z.optional(quantityText) }),
);
export const workloadContainerSchema = z.object({
  name: z.string(),
  resources: z.optional(z.object({ requests: resourceListSchema, limits: resourceListSchema })),
});

export const workloadSchema = z.object({
  metadata: z.object({ name: z.string(), namespace: z.string() }),
  spec: z.object({
    // Absent on a DaemonSet; defaulted to 1 by the API server on the others.
    replicas: z.optional(z.int()),
    template: z.object({ spec: z.object({ containers: z.array(workloadContainerSchema) }) }),
  }),
  status: z.optional(z.looseObject({ desiredNumberScheduled: z.optional(z.int()) })),
});
export type Workload = z.output<typeof workloadSchema>;

export const workloadListSchema = z.object({
  metadata: z.object({ continue: z.optional(z.string()) }),
  items: z.array(workloadSchema),
});

export const horizontalPodAutoscalerSchema = z.object({
  metadata: z.object({ name: z.string(), namespace: z.string() }),
  spec: z.object({
    scaleTargetRef: z.object({ kind: z.string(), name: z.string(), apiVersion: z.optional(z.string()) }),
    minReplicas: z.optional(z.int()),
    maxReplicas: z.int(),
    metrics: z.optional(
      z.array(
        z.looseObject({
          type: z.string(),
          resource: z.optional(
            z.looseObject({
              name: z.string(),
              target: z.looseObject({ type: z.string(), averageUtilization: z.optional(z.int()) }),
            }),
          ),
        }),
      ),
    ),
  }),
});
export type HorizontalPodAutoscaler = z.output<typeof horizontalPodAutoscalerSchema>;

export const horizontalPodAutoscalerListSchema = z.object({
  metadata: z.object({ continue: z.optional(z.string()) }),
  items: z.array(horizontalPodAutoscalerSchema),
});

// The canary's traffic objects. Loose where another controller owns fields we neither read nor write (the Ingress
// spec, a route's filters and matches): they are patched by JSON Patch, never replaced, so nothing is lost, and a
// caller that logs the object sees it whole.

/** The metadata of an object the canary patches: its `test` ops guard on what was read, not on a resourceVersion. */
const trafficObjectMetaSchema = z.looseObject({
  name: z.string(),
  namespace: z.string(),
  uid: z.string(),
  resourceVersion: z.string(),
  generation: z.optional(z.int()),
  labels: optionalMap,
  annotations: optionalMap,
});

/** networking.k8s.io/v1 Ingress: the ALB router reads and patches its `alb.ingress.kubernetes.io/actions.*` annotation. */
export const ingressSchema = z.looseObject({
  metadata: trafficObjectMetaSchema,
  spec: z.optional(z.looseObject({ ingressClassName: z.optional(z.string()) })),
});
export type Ingress = z.output<typeof ingressSchema>;

/** A route's parent: a Gateway (or one of its listeners) the route attaches to. */
const gatewayParentRefSchema = z.looseObject({
  group: z.optional(z.string()),
  kind: z.optional(z.string()),
  name: z.string(),
  namespace: z.optional(z.string()),
  sectionName: z.optional(z.string()),
  port: z.optional(z.int()),
});

export type GatewayParentRef = z.output<typeof gatewayParentRefSchema>;

/** One backend of a route rule: a Service (group and kind empty or Service), its port and weight. */
const gatewayBackendRefSchema = z.looseObject({
  group: z.optional(z.string()),
  kind: z.optional(z.string()),
  name: z.string(),
  namespace: z.optional(z.string()),
  port: z.optional(z.int()),
  weight: z.optional(z.int()),
});
export type GatewayBackendRef = z.output<typeof gatewayBackendRefSchema>;

/** A metav1.Condition, as Gateway API controllers write them on a route's parents. */
const gatewayConditionSchema = z.looseObject({
  type: z.string(),
  status: z.string(),
  reason: z.optional(z.string()),
  message: z.optional(z.string()),
  observedGeneration: z.optional(z.int()),
  lastTransitionTime: z.optional(z.string()),
});

/**
 * gateway.networking.k8s.io/v1 HTTPRoute: the Gateway API router patches `spec.rules[].backendRefs[].weight` and
 * reads acceptance from `status.parents[].conditions` against `metadata.generation`.
 */
export const httpRouteSchema = z.looseObject({
  metadata: trafficObjectMetaSchema,
  spec: z.looseObject({
    parentRefs: z.optional(z.array(gatewayParentRefSchema)),
    hostnames: z.optional(z.array(z.string())),
    rules: z.optional(
      z.array(
        z.looseObject({
          backendRefs: z.optional(z.array(gatewayBackendRefSchema)),
        }),
      ),
    ),
  }),
  // Absent until a Gateway controller first reconciles the route.
  status: z.optional(
    z.looseObject({
      parents: z.optional(
        z.array(
          z.looseObject({
            parentRef: gatewayParentRefSchema,
            controllerName: z.optional(z.string()),
            conditions: z.optional(z.array(gatewayConditionSchema)),
          }),
        ),
      ),
    }),
  ),
});
export type HttpRoute = z.output<typeof httpRouteSchema>;

// The objects the ALB router's handlers read to find the load balancer behind an Ingress: the Services its action
// forwards to, and the TargetGroupBindings the load balancer controller makes, which name each Service's target group.

/** core/v1 Service: its selector and ports (the action's `servicePort` may be a port's number or its name). */
export const serviceSchema = z.object({
  metadata: objectMetaSchema,
  spec: z.object({
    type: z.optional(z.string()),
    // Absent on a Service without a selector (its endpoints managed by hand).
    selector: optionalMap,
    ports: z.optional(
      z.array(
        z.object({
          name: z.optional(z.string()),
          protocol: z.optional(z.string()),
          port: z.int(),
          // A container port's number or name; the API server defaults it to `port`.
          targetPort: z.optional(z.union([z.int(), z.string()])),
        }),
      ),
    ),
  }),
});
export type Service = z.output<typeof serviceSchema>;

/**
 * The API groups TargetGroupBindings are served in: the AWS Load Balancer Controller's CRD, and EKS Auto Mode's
 * built-in load balancing, which replaces the controller and serves the kind in its own group. The EKS User Guide,
 * "Enable EKS Auto Mode on existing EKS clusters", Migration Reference
 * (https://docs.aws.amazon.com/eks/latest/userguide/migrate-auto.html#migration-reference), lists:
 *   | Load Balancing | `TargetGroupBinding` | `apiversion` | `elbv2.k8s.aws/v1beta1` | `eks.amazonaws.com/v1` |
 * (self-managed, then EKS Auto Mode), and "Create an IngressClass to configure an Application Load Balancer"
 * (https://docs.aws.amazon.com/eks/latest/userguide/auto-configure-alb.html), its TargetGroupBinding table:
 * "`elbv2.k8s.aws/v1beta1` | `eks.amazonaws.com/v1` | API version change" and "`spec.targetType` optional |
 * `spec.targetType` required". The same page's Ingress annotations table does not list
 * `alb.ingress.kubernetes.io/actions.*` among those Auto Mode does not support. One cluster may serve both groups:
 * "You can install the AWS Load Balancer Controller on an Amazon EKS Auto Mode cluster. Use the `IngressClass` or
 * `loadBalancerClass` options to associate Service and Ingress resources with either the Load Balancer Controller
 * or EKS Auto Mode" (migrate-auto.html).
 */
export const TARGET_GROUP_BINDING_APIS = [
  { group: 'elbv2.k8s.aws', version: 'v1beta1', servedBy: 'the AWS Load Balancer Controller' },
  { group: 'eks.amazonaws.com', version: 'v1', servedBy: 'EKS Auto Mode' },
] as const;
export type TargetGroupBindingApi = (typeof TARGET_GROUP_BINDING_APIS)[number];

/**
 * A TargetGroupBinding, in either group (the fields we read are the same in both): the load balancer controller
 * makes one per Service and port an Ingress forwards to (and people make their own for target groups made
 * elsewhere). Loose: the controllers add fields release by release (networking, vpcID, multiClusterTargetGroup…)
 * that we neither read nor refuse.
 */
export const targetGroupBindingSchema = z.looseObject({
  metadata: z.looseObject({
    name: z.string(),
    namespace: z.string(),
    labels: optionalMap,
    annotations: optionalMap,
  }),
  spec: z.looseObject({
    targetGroupARN: z.string(),
    targetType: z.optional(z.string()),
    // An IntOrString: the Service port's number or its name.
    serviceRef: z.looseObject({ name: z.string(), port: z.union([z.int(), z.string()]) }),
  }),
});
export type TargetGroupBinding = z.output<typeof targetGroupBindingSchema>;

export const targetGroupBindingListSchema = z.object({
  metadata: z.object({ continue: z.optional(z.string()) }),
  items: z.array(targetGroupBindingSchema),
});
