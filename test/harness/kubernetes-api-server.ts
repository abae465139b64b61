// A simulated EKS Kubernetes API server for tests, benchmarks and rehearsals: HTTPS on loopback with a CA of its
// own, EKS token authentication (SigV4 re-verified independently of the client's signer), apps/v1 Deployments
// and ReplicaSets with resourceVersions, generations, JSON Patch, paginated lists, and a deployment controller
// that numbers revisions, copies annotations, prunes history and rolls out at a pace the test chooses.
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { generate } from 'selfsigned';
import { z } from 'zod';

export interface SimulatedKubernetesApiOptions {
  clusterName: string;
  region: string;
  /** The credentials tokens must be signed with (the Lambda role's, in production). */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The server's clock, for token age and timestamps. */
  now?: () => Date;
}

export type RevisionSpec = { image: string } | { images: string[] };

export interface AddDeploymentOptions {
  namespace: string;
  name: string;
  /** History, oldest first; the last one is current. Each becomes a ReplicaSet as the controller would make it. */
  revisions: RevisionSpec[];
  replicas?: number;
  paused?: boolean;
  revisionHistoryLimit?: number;
  /** Pod labels; the selector matches them unless `selector` is given. Default `{ app: <name> }`. */
  labels?: Record<string, string>;
  selector?: SimLabelSelector;
}

/** How a rollout advances: one step per GET of the Deployment after its template changed. */
export type RolloutBehaviour =
  /** GET 1 still shows the old generation (for reads >= 2), GETs 2..n-1 show progress, GET n shows it complete. */
  | { kind: 'completes-after'; reads: number }
  /** One new pod that never becomes available; old pods stay. */
  | { kind: 'stalls' }
  /** Like `stalls`, and from GET n on the Progressing condition says ProgressDeadlineExceeded. */
  | { kind: 'deadline-exceeded'; afterReads: number };

export interface Fault {
  method?: string;
  pathIncludes?: string;
  /** Answer with this status (and a Status body, unless `body` is given) instead of handling the request. */
  status?: number;
  /** The Status message for `status`; defaults to a generic one per code. */
  message?: string;
  /**
   * Answer this body instead of handling the request, with `status` or 200: an object is sent as JSON (e.g. a
   * schema-invalid Deployment), a string as is (e.g. a load balancer's HTML error page).
   */
  body?: unknown;
  /** Destroy the connection without an answer (the client sees ECONNRESET). */
  reset?: boolean;
  /** Hold the request this long first; without status/body/reset it is then handled normally. */
  delayMs?: number;
  /** How many matching requests it applies to; default 1. */
  times?: number;
}

export interface RecordedRequest {
  method: string;
  /** Path and query, as sent. */
  path: string;
  /** HTTP status answered; 0 for a reset connection. */
  status: number;
  /** performance.now() when the request arrived. */
  at: number;
}

export interface SimulatedKubernetesApi {
  endpoint: string;
  /** Base64 of the CA PEM, as DescribeCluster's certificateAuthority.data. */
  caData: string;
  /** Every answered request, in order of answer. */
  requests: RecordedRequest[];
  /** Why each 401 was given (the answer itself says only "Unauthorized", as EKS does). */
  authFailures: string[];
  /** Called synchronously when a request arrives, before it is handled: state changed here races the request. */
  onRequest(listener: (request: { method: string; path: string; at: number }) => void): () => void;

  addDeployment(options: AddDeploymentOptions): SimDeployment;
  /**
   * A `kubectl apply` of a new image: the template changes and a rollout starts, paced by `rollout` if given
   * (this rollout only), else by the Deployment's behaviour.
   */
  deploy(
    namespace: string,
    name: string,
    revision: RevisionSpec,
    options?: { rollout?: RolloutBehaviour },
  ): SimDeployment;
  /** A ReplicaSet made by hand: e.g. one the selector matches but another owner (or none) controls. */
  addReplicaSet(options: {
    namespace: string;
    name: string;
    labels: Record<string, string>;
    image: string;
    revision: number;
    ownerUid?: string;
  }): SimReplicaSet;
  getDeployment(namespace: string, name: string): SimDeployment | undefined;
  /** The namespace's ReplicaSets, oldest revision first. */
  listReplicaSets(namespace: string): SimReplicaSet[];
  deleteDeployment(namespace: string, name: string): void;
  setPaused(namespace: string, name: string, paused: boolean): void;
  /** How this Deployment's rollouts advance from now on (default: completes after 2 reads). */
  setRollout(namespace: string, name: string, behaviour: RolloutBehaviour): void;
  /** A stopped controller (kube-controller-manager down or lagging) numbers, syncs and rolls out nothing. */
  setControllerRunning(running: boolean): void;
  injectFault(fault: Fault): void;
  /** Forgets all objects, faults, behaviours and recorded requests; `onRequest` listeners stay. */
  reset(): void;
  close(): Promise<void>;
}

const DEFAULT_ROLLOUT: RolloutBehaviour = { kind: 'completes-after', reads: 2 };
const DEFAULT_REVISION_HISTORY_LIMIT = 10;
const TOKEN_MAX_AGE_MS = 15 * 60_000;
const TOKEN_MAX_CLOCK_SKEW_MS = 5 * 60_000;
const EMPTY_PAYLOAD_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const REVISION = 'deployment.kubernetes.io/revision';
const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const HASH_LABEL = 'pod-template-hash';
const BUILD_ANNOTATION = 'app.example.com/build';
const CHANGE_CAUSE = 'kubernetes.io/change-cause';
/** The controller's skipCopyAnnotation list (pkg/controller/deployment/util). */
const NOT_COPIED_TO_REPLICA_SETS = new Set([
  LAST_APPLIED,
  REVISION,
  REVISION_HISTORY,
  DESIRED_REPLICAS,
  MAX_REPLICAS,
]);

// ---------------------------------------------------------------------------------------------------------------
// Objects. Validated with zod after every JSON Patch, as the API server validates before it persists.

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
type SimPodTemplate = z.infer<typeof templateSchema>;

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

const conditionSchema = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string(),
  message: z.string(),
  lastUpdateTime: z.string(),
  lastTransitionTime: z.string(),
});
type Condition = z.infer<typeof conditionSchema>;

const deploymentSchema = z.object({
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
  metadata: z.infer<typeof metadataSchema>;
  spec: { replicas: number; selector: SimLabelSelector; template: SimPodTemplate };
  status: {
    replicas: number;
    readyReplicas?: number;
    availableReplicas?: number;
    observedGeneration: number;
  };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const patchSchema = z.array(
  z.discriminatedUnion('op', [
    z.object({ op: z.enum(['add', 'replace', 'test']), path: z.string(), value: z.unknown() }),
    z.object({ op: z.literal('remove'), path: z.string() }),
    z.object({ op: z.enum(['move', 'copy']), path: z.string(), from: z.string() }),
  ]),
);

// ---------------------------------------------------------------------------------------------------------------
// Certificates: generated once per test process (EC keys: a few tens of ms).

interface Certificates {
  caCert: string;
  serverKey: string;
  serverCert: string;
}

let certificates: Promise<Certificates> | undefined;

function loadCertificates(): Promise<Certificates> {
  certificates ??= (async () => {
    const ca = await generate([{ name: 'commonName', value: 'simulated-eks-ca' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      ],
    });
    const server = await generate([{ name: 'commonName', value: 'kube-apiserver' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      ca: { key: ca.private, cert: ca.cert },
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
      ],
    });
    return { caCert: ca.cert, serverKey: server.private, serverCert: server.cert };
  })();
  return certificates;
}

// ---------------------------------------------------------------------------------------------------------------

class HttpProblem extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details?: Record<string, string>,
  ) {
    super(message);
  }
}

const STATUS_REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

function statusBody(code: number, message: string, details?: Record<string, string>) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: STATUS_REASONS[code] ?? 'Unknown',
    ...(details ? { details } : {}),
    code,
  };
}

interface Rollout {
  reads: number;
  /** Set by `deploy(..., { rollout })`: this rollout only. */
  behaviour?: RolloutBehaviour;
}

export async function startKubernetesApiServer(
  options: SimulatedKubernetesApiOptions,
): Promise<SimulatedKubernetesApi> {
  const { clusterName, region, credentials } = options;
  const now = options.now ?? (() => new Date());
  const { caCert, serverKey, serverCert } = await loadCertificates();

  const deployments = new Map<string, SimDeployment>();
  const replicaSets = new Map<string, SimReplicaSet>();
  const rollouts = new Map<string, Rollout>();
  const behaviours = new Map<string, RolloutBehaviour>();
  const builds = new Map<string, number>();
  /** List snapshots by resourceVersion, so `continue` pages are one consistent list, as etcd serves them. */
  const snapshots = new Map<string, SimReplicaSet[]>();
  const faults: Array<Fault & { remaining: number }> = [];
  const listeners = new Set<(request: { method: string; path: string; at: number }) => void>();
  const requests: RecordedRequest[] = [];
  const authFailures: string[] = [];
  let resourceVersion = 1000;
  let controllerRunning = true;

  const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;
  const timestamp = () =>
    now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');
  const bump = (object: { metadata: { resourceVersion: string } }) => {
    resourceVersion += 1;
    object.metadata.resourceVersion = String(resourceVersion);
  };

  // -------------------------------------------------------------------------------------------------------------
  // The deployment controller (pkg/controller/deployment), synchronously after each write.

  function owned(deployment: SimDeployment): SimReplicaSet[] {
    return [...replicaSets.values()]
      .filter(
        (replicaSet) =>
          replicaSet.metadata.namespace === deployment.metadata.namespace &&
          (replicaSet.metadata.ownerReferences ?? []).some(
            (owner) => owner.controller === true && owner.uid === deployment.metadata.uid,
          ),
      )
      .sort((a, b) => revision(a) - revision(b));
  }

  function newReplicaSetOf(deployment: SimDeployment): SimReplicaSet | undefined {
    return owned(deployment).find((replicaSet) =>
      sameTemplate(replicaSet.spec.template, deployment.spec.template),
    );
  }

  function sync(deployment: SimDeployment): void {
    if (!controllerRunning) return;
    const key = keyOf(deployment.metadata.namespace, deployment.metadata.name);
    const all = owned(deployment);
    let current = newReplicaSetOf(deployment);
    // A paused Deployment gets no new ReplicaSet and no new revision until it is resumed.
    if (deployment.spec.paused) {
      observe(deployment);
      return;
    }
    const newRevision = Math.max(0, ...all.filter((rs) => rs !== current).map(revision)) + 1;
    if (current) {
      const before = canonicalJson(current.metadata);
      copyAnnotations(deployment, current);
      const oldRevision = revision(current);
      if (oldRevision < newRevision) {
        const annotations = (current.metadata.annotations ??= {});
        const history = annotations[REVISION_HISTORY];
        annotations[REVISION_HISTORY] = history ? `${history},${oldRevision}` : String(oldRevision);
        annotations[REVISION] = String(newRevision);
      }
      if (canonicalJson(current.metadata) !== before) bump(current);
    } else {
      current = createReplicaSet(deployment, newRevision);
    }
    const currentRevision = current.metadata.annotations?.[REVISION] ?? '0';
    const annotations = (deployment.metadata.annotations ??= {});
    if (annotations[REVISION] !== currentRevision) {
      annotations[REVISION] = currentRevision;
      bump(deployment);
    }
    if (!rollouts.has(key)) observe(deployment);
  }

  function copyAnnotations(deployment: SimDeployment, replicaSet: SimReplicaSet): void {
    const annotations = (replicaSet.metadata.annotations ??= {});
    for (const [key, value] of Object.entries(deployment.metadata.annotations ?? {})) {
      if (!NOT_COPIED_TO_REPLICA_SETS.has(key)) annotations[key] = value;
    }
  }

  function createReplicaSet(deployment: SimDeployment, newRevision: number): SimReplicaSet {
    const { namespace, name, uid } = deployment.metadata;
    const hash = templateHash(deployment.spec.template);
    const template = structuredClone(deployment.spec.template);
    template.metadata = {
      ...template.metadata,
      labels: { ...template.metadata?.labels, [HASH_LABEL]: hash },
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
        creationTimestamp: timestamp(),
        labels: { ...template.metadata.labels },
        annotations: {
          [DESIRED_REPLICAS]: String(deployment.spec.replicas),
          [MAX_REPLICAS]: String(deployment.spec.replicas + Math.ceil(deployment.spec.replicas / 4)),
          [REVISION]: String(newRevision),
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
          matchLabels: { ...deployment.spec.selector.matchLabels, [HASH_LABEL]: hash },
        },
        template,
      },
      status: { replicas: 0, observedGeneration: 1 },
    };
    copyAnnotations(deployment, replicaSet);
    bump(replicaSet);
    replicaSets.set(keyOf(namespace, replicaSet.metadata.name), replicaSet);
    return replicaSet;
  }

  /** Status for a Deployment with no rollout under way: the controller has seen it and all is settled. */
  function observe(deployment: SimDeployment): void {
    const current = newReplicaSetOf(deployment);
    if (current && !deployment.spec.paused) {
      setProgress(deployment, current, {
        updated: deployment.spec.replicas,
        availableNew: deployment.spec.replicas,
        old: 0,
      });
      setStatus(deployment, 'complete', current);
      cleanUp(deployment);
    } else {
      setStatus(deployment, 'paused', current);
    }
  }

  /** One step of a rollout, driven by a GET of the Deployment. */
  function advance(deployment: SimDeployment): void {
    const key = keyOf(deployment.metadata.namespace, deployment.metadata.name);
    const rollout = rollouts.get(key);
    if (!rollout || !controllerRunning) return;
    const current = newReplicaSetOf(deployment);
    if (deployment.spec.paused || !current) {
      setStatus(deployment, 'paused', current);
      return;
    }
    rollout.reads += 1;
    const replicas = deployment.spec.replicas;
    const behaviour = rollout.behaviour ?? behaviours.get(key) ?? DEFAULT_ROLLOUT;
    const complete = () => {
      setProgress(deployment, current, { updated: replicas, availableNew: replicas, old: 0 });
      setStatus(deployment, 'complete', current);
      rollouts.delete(key);
      cleanUp(deployment);
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
      setProgress(deployment, current, { updated, availableNew, old: Math.max(1, replicas - availableNew) });
      return setStatus(deployment, 'progressing', current);
    }
    setProgress(deployment, current, {
      updated: Math.min(replicas, Math.max(1, current.spec.replicas)),
      availableNew: current.status.availableReplicas ?? 0,
      old: replicas,
    });
    const exceeded = behaviour.kind === 'deadline-exceeded' && rollout.reads >= behaviour.afterReads;
    setStatus(deployment, exceeded ? 'deadline-exceeded' : 'progressing', current);
  }

  /** Scales the new ReplicaSet to `updated` and the old ones down to `old` pods in all (never up). */
  function setProgress(
    deployment: SimDeployment,
    current: SimReplicaSet,
    { updated, availableNew, old }: { updated: number; availableNew: number; old: number },
  ): void {
    scale(current, updated, availableNew);
    let left = old;
    const others = owned(deployment)
      .filter((replicaSet) => replicaSet !== current)
      .sort((a, b) => b.spec.replicas - a.spec.replicas);
    for (const replicaSet of others) {
      const replicas = Math.min(replicaSet.spec.replicas, left);
      left -= replicas;
      scale(replicaSet, replicas, replicas);
    }
  }

  function scale(replicaSet: SimReplicaSet, replicas: number, available: number): void {
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
    bump(replicaSet);
  }

  function setStatus(
    deployment: SimDeployment,
    phase: 'complete' | 'progressing' | 'deadline-exceeded' | 'paused',
    current: SimReplicaSet | undefined,
  ): void {
    const before = canonicalJson(deployment.status);
    const all = owned(deployment);
    const total = sum(all.map((replicaSet) => replicaSet.spec.replicas));
    const available = sum(all.map((replicaSet) => replicaSet.status.availableReplicas ?? 0));
    const updated = current?.spec.replicas ?? 0;
    const desired = deployment.spec.replicas;
    const rsName = current?.metadata.name ?? deployment.metadata.name;
    const previous = deployment.status.conditions ?? [];
    const conditions: Condition[] = [
      condition(
        previous,
        'Available',
        available >= desired - Math.floor(desired / 4)
          ? ['True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.']
          : ['False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.'],
      ),
      condition(
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
    if (canonicalJson(deployment.status) !== before) bump(deployment);
  }

  function condition(
    previous: Condition[],
    type: string,
    [status, reason, message]: [Condition['status'], string, string],
  ): Condition {
    const old = previous.find((candidate) => candidate.type === type);
    if (old && old.status === status && old.reason === reason && old.message === message) return old;
    const at = timestamp();
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
  function cleanUp(deployment: SimDeployment): void {
    const current = newReplicaSetOf(deployment);
    const cleanable = owned(deployment).filter(
      (rs) => rs !== current && rs.spec.replicas === 0 && rs.status.replicas === 0,
    );
    const excess = cleanable.length - deployment.spec.revisionHistoryLimit;
    for (const replicaSet of cleanable.slice(0, Math.max(0, excess))) {
      replicaSets.delete(keyOf(replicaSet.metadata.namespace, replicaSet.metadata.name));
      resourceVersion += 1;
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Writes, from the API or from the helpers.

  /** Persists `next` over `current` as the registry does, then lets the controller react. Returns what was stored. */
  function write(current: SimDeployment, next: SimDeployment): SimDeployment {
    const key = keyOf(current.metadata.namespace, current.metadata.name);
    next.status = current.status;
    next.metadata.generation = current.metadata.generation;
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    if (canonicalJson(next) === canonicalJson(current)) return structuredClone(current);
    if (canonicalJson(next.spec) !== canonicalJson(current.spec)) next.metadata.generation += 1;
    if (!sameTemplate(next.spec.template, current.spec.template)) rollouts.set(key, { reads: 0 });
    bump(next);
    deployments.set(key, next);
    const stored = structuredClone(next);
    sync(next);
    return stored;
  }

  function requireDeployment(namespace: string, name: string): SimDeployment {
    const deployment = deployments.get(keyOf(namespace, name));
    if (!deployment) throw new Error(`simulated API server: no Deployment ${namespace}/${name}`);
    return deployment;
  }

  function applyRevision(deployment: SimDeployment, spec: RevisionSpec): SimDeployment {
    const key = keyOf(deployment.metadata.namespace, deployment.metadata.name);
    const build = (builds.get(key) ?? 0) + 1;
    builds.set(key, build);
    const next = structuredClone(deployment);
    next.spec.template.spec.containers = containersFor(spec);
    const annotations = (next.metadata.annotations ??= {});
    annotations[BUILD_ANNOTATION] = `build-${build}`;
    annotations[CHANGE_CAUSE] = `deploy ${imagesOf(spec).join(',')}`;
    annotations[LAST_APPLIED] = JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: next.metadata.name, namespace: next.metadata.namespace },
      spec: { replicas: next.spec.replicas, selector: next.spec.selector, template: next.spec.template },
    });
    return next;
  }

  // -------------------------------------------------------------------------------------------------------------
  // HTTP.

  function authenticate(authorization: string | undefined): string | undefined {
    if (!authorization?.startsWith('Bearer ')) return 'no bearer token';
    const token = authorization.slice('Bearer '.length);
    if (!token.startsWith('k8s-aws-v1.')) return 'not a k8s-aws-v1 token';
    const encoded = token.slice('k8s-aws-v1.'.length);
    if (!/^[A-Za-z0-9_-]+$/.test(encoded)) return 'token is not unpadded base64url';
    let url: URL;
    try {
      url = new URL(Buffer.from(encoded, 'base64url').toString('utf8'));
    } catch {
      return 'token is not a URL';
    }
    const host = `sts.${region}.amazonaws.com`;
    if (url.protocol !== 'https:' || url.host !== host || url.pathname !== '/') {
      return `token is for ${url.protocol}//${url.host}${url.pathname}, not https://${host}/`;
    }
    const query = new Map<string, string>();
    for (const [name, value] of url.searchParams) {
      if (query.has(name)) return `query parameter ${name} repeated`;
      query.set(name, value);
    }
    // aws-iam-authenticator's allow-list of query parameters.
    const allowed = [
      'Action',
      'Version',
      'X-Amz-Algorithm',
      'X-Amz-Credential',
      'X-Amz-Date',
      'X-Amz-Expires',
    ];
    allowed.push('X-Amz-Security-Token', 'X-Amz-Signature', 'X-Amz-SignedHeaders');
    const unexpected = [...query.keys()].filter((name) => !allowed.includes(name));
    if (unexpected.length) return `unexpected query parameters ${unexpected.join(', ')}`;
    if (query.get('Action') !== 'GetCallerIdentity')
      return `Action is ${query.get('Action')}, not GetCallerIdentity`;
    if (query.get('Version') !== '2011-06-15') return `Version is ${query.get('Version')}`;
    if (query.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return 'X-Amz-Algorithm is not AWS4-HMAC-SHA256';
    const signedHeaders = (query.get('X-Amz-SignedHeaders') ?? '').split(';');
    if (!signedHeaders.includes('x-k8s-aws-id')) return 'x-k8s-aws-id is not a signed header';
    if (signedHeaders.join(';') !== 'host;x-k8s-aws-id') {
      return `signed headers are ${signedHeaders.join(';')}, not host;x-k8s-aws-id`;
    }
    const amzDate = query.get('X-Amz-Date') ?? '';
    const dateMatch = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
    if (!dateMatch) return `X-Amz-Date ${amzDate} is malformed`;
    const [, y, mo, d, h, mi, s] = dateMatch.map(Number);
    const signedAt = Date.UTC(y ?? 0, (mo ?? 1) - 1, d, h, mi, s);
    const age = now().getTime() - signedAt;
    if (age > TOKEN_MAX_AGE_MS) return `token expired: signed ${Math.round(age / 1000)} s ago (limit 900 s)`;
    if (-age > TOKEN_MAX_CLOCK_SKEW_MS) return `token signed ${Math.round(-age / 1000)} s in the future`;
    const scope = `${amzDate.slice(0, 8)}/${region}/sts/aws4_request`;
    if (query.get('X-Amz-Credential') !== `${credentials.accessKeyId}/${scope}`) {
      return `credential ${query.get('X-Amz-Credential')} is not ${credentials.accessKeyId}/${scope}`;
    }
    const canonicalQuery = [...query.entries()]
      .filter(([name]) => name !== 'X-Amz-Signature')
      .map(([name, value]) => [rfc3986(name), rfc3986(value)] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, value]) => `${name}=${value}`)
      .join('&');
    // The header value is this server's cluster name: a token signed for another cluster fails here.
    const canonicalRequest = [
      'GET',
      '/',
      canonicalQuery,
      `host:${host}\nx-k8s-aws-id:${clusterName}\n`,
      'host;x-k8s-aws-id',
      EMPTY_PAYLOAD_SHA256,
    ].join('\n');
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
    let key: Buffer = hmac(`AWS4${credentials.secretAccessKey}`, amzDate.slice(0, 8));
    for (const part of [region, 'sts', 'aws4_request']) key = hmac(key, part);
    const expected = Buffer.from(hmac(key, stringToSign).toString('hex'));
    const given = Buffer.from(query.get('X-Amz-Signature') ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return `signature mismatch (not signed by ${credentials.accessKeyId} for cluster ${clusterName})`;
    }
    return undefined;
  }

  function route(
    method: string,
    url: URL,
    contentType: string | undefined,
    body: string,
  ): { status: number; body: unknown } {
    const match = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/(deployments|replicasets)(?:\/([^/]+))?$/.exec(
      url.pathname,
    );
    if (!match) throw new HttpProblem(404, 'the server could not find the requested resource');
    const namespace = decodeURIComponent(match[1] ?? '');
    const resource = match[2];
    const name = match[3] === undefined ? undefined : decodeURIComponent(match[3]);
    if (resource === 'deployments' && name !== undefined) {
      if (method === 'GET') return { status: 200, body: getDeploymentForRead(namespace, name) };
      if (method === 'PATCH')
        return { status: 200, body: patchDeployment(namespace, name, contentType, body) };
    }
    if (resource === 'replicasets' && name === undefined && method === 'GET') {
      return { status: 200, body: listReplicaSetsPage(namespace, url.searchParams) };
    }
    if (resource === 'replicasets' && name !== undefined && method === 'GET') {
      const replicaSet = replicaSets.get(keyOf(namespace, name));
      if (!replicaSet) throw notFound('replicasets', name);
      return { status: 200, body: replicaSet };
    }
    throw new HttpProblem(405, `the server does not allow this method on the requested resource (${method})`);
  }

  function notFound(kind: 'deployments' | 'replicasets', name: string): HttpProblem {
    return new HttpProblem(404, `${kind}.apps "${name}" not found`, { name, group: 'apps', kind });
  }

  function getDeploymentForRead(namespace: string, name: string): SimDeployment {
    const deployment = deployments.get(keyOf(namespace, name));
    if (!deployment) throw notFound('deployments', name);
    advance(deployment);
    return deployment;
  }

  function patchDeployment(
    namespace: string,
    name: string,
    contentType: string | undefined,
    body: string,
  ): SimDeployment {
    const mediaType = (contentType ?? '').split(';')[0]?.trim();
    if (mediaType !== 'application/json-patch+json') {
      throw new HttpProblem(
        415,
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json (simulated server), got ${mediaType || 'none'}`,
      );
    }
    const current = deployments.get(keyOf(namespace, name));
    if (!current) throw notFound('deployments', name);
    let ops: z.infer<typeof patchSchema>;
    try {
      ops = patchSchema.parse(JSON.parse(body));
    } catch {
      throw new HttpProblem(
        400,
        'the server rejected our request due to an error in our request: not a JSON Patch',
      );
    }
    const patched = applyJsonPatch(toJson(current), ops);
    const parsed = deploymentSchema.safeParse(patched);
    const invalid = (what: string) => new HttpProblem(422, `Deployment.apps "${name}" is invalid: ${what}`);
    if (!parsed.success) {
      throw invalid(
        parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '),
      );
    }
    const next = parsed.data;
    if (
      next.metadata.name !== name ||
      next.metadata.namespace !== namespace ||
      next.metadata.uid !== current.metadata.uid
    ) {
      throw invalid('metadata.name, metadata.namespace and metadata.uid are immutable');
    }
    if (canonicalJson(next.spec.selector) !== canonicalJson(current.spec.selector)) {
      throw invalid('spec.selector: Invalid value: field is immutable');
    }
    if (!selectorMatches(requirementsOf(next.spec.selector), next.spec.template.metadata?.labels ?? {})) {
      throw invalid(
        'spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`',
      );
    }
    // A resourceVersion in the patched object is a precondition, as for an update.
    if (next.metadata.resourceVersion !== current.metadata.resourceVersion) {
      throw new HttpProblem(
        409,
        `Operation cannot be fulfilled on deployments.apps "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    return write(current, next);
  }

  function listReplicaSetsPage(namespace: string, params: URLSearchParams) {
    const selectorText = params.get('labelSelector') ?? '';
    const requirements = parseSelector(selectorText);
    const limitText = params.get('limit');
    const limit = limitText === null ? 0 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 0) throw new HttpProblem(400, `invalid limit ${limitText}`);
    const continueToken = params.get('continue');
    let listVersion: string;
    let start = '';
    let items: SimReplicaSet[];
    if (continueToken) {
      const decoded = decodeContinue(continueToken);
      const snapshot = snapshots.get(decoded.rv);
      if (!snapshot) {
        throw new HttpProblem(
          410,
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        );
      }
      listVersion = decoded.rv;
      start = decoded.start;
      items = snapshot;
    } else {
      listVersion = String(resourceVersion);
      items = [...replicaSets.values()]
        .sort((a, b) =>
          compare(keyOf(a.metadata.namespace, a.metadata.name), keyOf(b.metadata.namespace, b.metadata.name)),
        )
        .map((replicaSet) => structuredClone(replicaSet));
      if (limit > 0) {
        snapshots.set(listVersion, items);
        // Old snapshots are compacted away, as etcd does.
        for (const version of [...snapshots.keys()].slice(0, -20)) snapshots.delete(version);
      }
    }
    const matching = items.filter(
      (replicaSet) =>
        replicaSet.metadata.namespace === namespace &&
        keyOf(replicaSet.metadata.namespace, replicaSet.metadata.name) > start &&
        selectorMatches(requirements, replicaSet.metadata.labels ?? {}),
    );
    const page = limit > 0 ? matching.slice(0, limit) : matching;
    const last = page.at(-1);
    const more = matching.length > page.length && last !== undefined;
    return {
      kind: 'ReplicaSetList',
      apiVersion: 'apps/v1',
      metadata: {
        resourceVersion: listVersion,
        ...(more
          ? {
              continue: encodeContinue(listVersion, keyOf(last.metadata.namespace, last.metadata.name)),
              remainingItemCount: matching.length - page.length,
            }
          : {}),
      },
      items: page,
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = performance.now();
    const method = req.method ?? 'GET';
    const rawPath = req.url ?? '/';
    for (const listener of listeners) listener({ method, path: rawPath, at });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const record = (status: number) => requests.push({ method, path: rawPath, status, at });
    const answer = (status: number, payload: unknown) => {
      record(status);
      const raw = typeof payload === 'string';
      const text = raw ? payload : JSON.stringify(payload);
      res.writeHead(status, {
        'content-type': raw ? 'text/html' : 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };

    const fault = takeFault(method, rawPath);
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault?.reset) {
      record(0);
      req.socket.destroy();
      return;
    }
    if (fault?.body !== undefined) return answer(fault.status ?? 200, fault.body);
    if (fault?.status !== undefined) {
      return answer(fault.status, statusBody(fault.status, fault.message ?? defaultMessage(fault.status)));
    }

    const refused = authenticate(req.headers.authorization);
    if (refused !== undefined) {
      authFailures.push(refused);
      return answer(401, statusBody(401, 'Unauthorized'));
    }
    try {
      const url = new URL(rawPath, 'https://127.0.0.1');
      const result = route(method, url, req.headers['content-type'], body);
      answer(result.status, result.body);
    } catch (error) {
      if (error instanceof HttpProblem)
        return answer(error.code, statusBody(error.code, error.message, error.details));
      answer(500, statusBody(500, `simulated API server failed: ${String(error)}`));
    }
  }

  function takeFault(method: string, path: string): Fault | undefined {
    const index = faults.findIndex(
      (fault) =>
        (fault.method === undefined || fault.method.toUpperCase() === method) &&
        (fault.pathIncludes === undefined || path.includes(fault.pathIncludes)),
    );
    const fault = faults[index];
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) faults.splice(index, 1);
    return fault;
  }

  const server = createServer({ key: serverKey, cert: serverCert }, (req, res) => {
    res.on('error', () => undefined); // a client that gave up (timeout tests) is not the server's failure
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  // -------------------------------------------------------------------------------------------------------------
  // Helpers.

  return {
    endpoint: `https://127.0.0.1:${port}`,
    caData: Buffer.from(caCert, 'utf8').toString('base64'),
    requests,
    authFailures,

    onRequest(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    addDeployment({
      namespace,
      name,
      revisions,
      replicas = 3,
      paused = false,
      revisionHistoryLimit,
      labels,
      selector,
    }) {
      const key = keyOf(namespace, name);
      if (deployments.has(key)) throw new Error(`simulated API server: Deployment ${key} exists`);
      const [first, ...later] = revisions;
      if (!first) throw new Error('simulated API server: a Deployment needs at least one revision');
      const podLabels = labels ?? { app: name };
      const initial: SimDeployment = {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {
          name,
          namespace,
          uid: randomUUID(),
          resourceVersion: '',
          generation: 1,
          creationTimestamp: timestamp(),
          labels: { ...podLabels },
          annotations: {},
        },
        spec: {
          replicas,
          selector: selector ?? { matchLabels: { ...podLabels } },
          template: {
            // As the API server returns templates: an explicit null creationTimestamp, defaulted pod fields.
            metadata: { creationTimestamp: null, labels: { ...podLabels } },
            spec: {
              containers: [],
              restartPolicy: 'Always',
              terminationGracePeriodSeconds: 30,
              dnsPolicy: 'ClusterFirst',
              securityContext: {},
              schedulerName: 'default-scheduler',
            },
          },
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
          revisionHistoryLimit: revisionHistoryLimit ?? DEFAULT_REVISION_HISTORY_LIMIT,
          progressDeadlineSeconds: 600,
        },
        status: {},
      };
      let deployment = applyRevision(initial, first);
      bump(deployment);
      deployments.set(key, deployment);
      sync(deployment);
      for (const revisionSpec of later) {
        write(deployment, applyRevision(deployment, revisionSpec));
        deployment = requireDeployment(namespace, name);
        rollouts.delete(key);
        observe(deployment);
      }
      if (paused)
        write(deployment, {
          ...structuredClone(deployment),
          spec: { ...structuredClone(deployment.spec), paused },
        });
      return structuredClone(requireDeployment(namespace, name));
    },

    deploy(namespace, name, revisionSpec, options = {}) {
      const deployment = requireDeployment(namespace, name);
      write(deployment, applyRevision(deployment, revisionSpec));
      const rollout = rollouts.get(keyOf(namespace, name));
      if (rollout && options.rollout) rollout.behaviour = options.rollout;
      return structuredClone(requireDeployment(namespace, name));
    },

    addReplicaSet({ namespace, name, labels, image, revision: revisionNumber, ownerUid }) {
      const replicaSet: SimReplicaSet = {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name,
          namespace,
          uid: randomUUID(),
          resourceVersion: '',
          generation: 1,
          creationTimestamp: timestamp(),
          labels: { ...labels },
          annotations: { [REVISION]: String(revisionNumber) },
          ...(ownerUid
            ? {
                ownerReferences: [
                  {
                    apiVersion: 'apps/v1',
                    kind: 'Deployment',
                    name: 'other',
                    uid: ownerUid,
                    controller: true,
                  },
                ],
              }
            : {}),
        },
        spec: {
          replicas: 0,
          selector: { matchLabels: { ...labels } },
          template: { metadata: { labels: { ...labels } }, spec: { containers: [{ name: 'app', image }] } },
        },
        status: { replicas: 0, observedGeneration: 1 },
      };
      bump(replicaSet);
      replicaSets.set(keyOf(namespace, name), replicaSet);
      return structuredClone(replicaSet);
    },

    getDeployment(namespace, name) {
      const deployment = deployments.get(keyOf(namespace, name));
      return deployment && structuredClone(deployment);
    },

    listReplicaSets(namespace) {
      return [...replicaSets.values()]
        .filter((replicaSet) => replicaSet.metadata.namespace === namespace)
        .sort((a, b) => revision(a) - revision(b))
        .map((replicaSet) => structuredClone(replicaSet));
    },

    deleteDeployment(namespace, name) {
      const deployment = requireDeployment(namespace, name);
      // Background cascading deletion: the garbage collector removes the owned ReplicaSets too.
      for (const replicaSet of owned(deployment))
        replicaSets.delete(keyOf(namespace, replicaSet.metadata.name));
      const key = keyOf(namespace, name);
      deployments.delete(key);
      rollouts.delete(key);
      behaviours.delete(key);
      resourceVersion += 1;
    },

    setPaused(namespace, name, paused) {
      const deployment = requireDeployment(namespace, name);
      write(deployment, {
        ...structuredClone(deployment),
        spec: { ...structuredClone(deployment.spec), paused },
      });
    },

    setRollout(namespace, name, behaviour) {
      requireDeployment(namespace, name);
      behaviours.set(keyOf(namespace, name), behaviour);
    },

    setControllerRunning(running) {
      controllerRunning = running;
      if (running) for (const deployment of deployments.values()) sync(deployment);
    },

    injectFault(fault) {
      faults.push({ ...fault, remaining: fault.times ?? 1 });
    },

    reset() {
      deployments.clear();
      replicaSets.clear();
      rollouts.clear();
      behaviours.clear();
      builds.clear();
      snapshots.clear();
      faults.length = 0;
      requests.length = 0;
      authFailures.length = 0;
      controllerRunning = true;
    },

    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Pure helpers.

function imagesOf(spec: RevisionSpec): string[] {
  return 'image' in spec ? [spec.image] : spec.images;
}

function containersFor(spec: RevisionSpec) {
  return imagesOf(spec).map((image, index) => ({
    name: index === 0 ? 'app' : `sidecar-${index}`,
    image,
    imagePullPolicy: 'IfNotPresent',
    ports: index === 0 ? [{ containerPort: 8080, protocol: 'TCP' }] : [],
    resources: {},
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  }));
}

function revision(replicaSet: SimReplicaSet): number {
  return Number(replicaSet.metadata.annotations?.[REVISION] ?? 0);
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function withoutHashLabel(template: SimPodTemplate): SimPodTemplate {
  const copy = structuredClone(template);
  if (copy.metadata?.labels) {
    copy.metadata.labels = Object.fromEntries(
      Object.entries(copy.metadata.labels).filter(([key]) => key !== HASH_LABEL),
    );
  }
  return copy;
}

/** Equal as Go's Semantic.DeepEqual sees it: null, {} and [] are the same as absent. */
function sameTemplate(a: SimPodTemplate, b: SimPodTemplate): boolean {
  return templateKey(a) === templateKey(b);
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

/** A stable pod-template-hash: the controller hashes the template; any stable hash in its alphabet will do. */
function templateHash(template: SimPodTemplate): string {
  const digest = createHash('sha256').update(templateKey(template)).digest();
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...digest.subarray(0, 10)].map((byte) => alphabet[byte % alphabet.length]).join('');
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'object' && item !== null && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => compare(a, b)))
      : item,
  );
}

function toJson(value: unknown): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function defaultMessage(code: number): string {
  if (code === 409)
    return 'Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again';
  if (code === 401) return 'Unauthorized';
  if (code === 403)
    return 'forbidden: User "arn:aws:sts::111122223333:assumed-role/runbook/fn" cannot do this';
  if (code >= 500) return 'the server is currently unable to handle the request';
  return `simulated failure ${code}`;
}

function encodeContinue(rv: string, start: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start }), 'utf8').toString('base64');
}

function decodeContinue(token: string): { rv: string; start: string } {
  const parsed = z
    .object({ rv: z.string(), start: z.string() })
    .safeParse(safeJson(Buffer.from(token, 'base64').toString('utf8')));
  if (!parsed.success)
    throw new HttpProblem(400, 'continue key is not valid: incorrect encoded start resourceVersion');
  return parsed.data;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// Label selectors, parsed as the API server's labels.Parse reads them.

interface Requirement {
  key: string;
  operator: 'in' | 'notin' | 'exists' | 'doesnotexist' | '=' | '!=';
  values: string[];
}

function requirementsOf(selector: SimLabelSelector): Requirement[] {
  const requirements: Requirement[] = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => ({
    key,
    operator: '=',
    values: [value],
  }));
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const mapped = ({ In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: 'doesnotexist' } as const)[
      operator
    ];
    requirements.push({ key, operator: mapped, values });
  }
  return requirements;
}

const KEY = String.raw`[A-Za-z0-9](?:[A-Za-z0-9._/-]*[A-Za-z0-9])?`;
const VALUE = String.raw`(?:[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)?`;
const SET_PATTERN = new RegExp(String.raw`^(${KEY})\s+(in|notin)\s+\(([^)]*)\)$`);
const EQUALITY_PATTERN = new RegExp(String.raw`^(${KEY})\s*(==|=|!=)\s*(${VALUE})$`);
const EXISTS_PATTERN = new RegExp(String.raw`^(!?)\s*(${KEY})$`);

function parseSelector(text: string): Requirement[] {
  if (text.trim() === '') return [];
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (char === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts.map((raw) => {
    const part = raw.trim();
    const set = SET_PATTERN.exec(part);
    if (set) {
      const values = (set[3] ?? '').split(',').map((value) => value.trim());
      if (values.some((value) => !new RegExp(`^${VALUE}$`).test(value)) || values.join('') === '') {
        throw new HttpProblem(
          400,
          `unable to parse requirement: values set for "${set[2]}" is invalid: ${part}`,
        );
      }
      return { key: set[1] ?? '', operator: set[2] === 'in' ? 'in' : 'notin', values };
    }
    const equality = EQUALITY_PATTERN.exec(part);
    if (equality) {
      return {
        key: equality[1] ?? '',
        operator: equality[2] === '!=' ? '!=' : '=',
        values: [equality[3] ?? ''],
      };
    }
    const exists = EXISTS_PATTERN.exec(part);
    if (exists) return { key: exists[2] ?? '', operator: exists[1] ? 'doesnotexist' : 'exists', values: [] };
    throw new HttpProblem(400, `unable to parse requirement: found '${part}'`);
  });
}

function selectorMatches(requirements: Requirement[], labels: Record<string, string>): boolean {
  return requirements.every(({ key, operator, values }) => {
    const value = labels[key];
    switch (operator) {
      case '=':
        return value !== undefined && value === values[0];
      case '!=':
        return value !== values[0];
      case 'in':
        return value !== undefined && values.includes(value);
      case 'notin':
        return value === undefined || !values.includes(value);
      case 'exists':
        return value !== undefined;
      case 'doesnotexist':
        return value === undefined;
    }
  });
}

// JSON Patch (RFC 6902), with the error messages of the json-patch library the API server uses.

function applyJsonPatch(document: Json, ops: z.infer<typeof patchSchema>): Json {
  let root = structuredClone(document);
  for (const op of ops) {
    if (!isSupported(op)) {
      throw new HttpProblem(422, `the simulated API server does not implement JSON Patch op ${op.op}`);
    }
    const segments = parsePointer(op.path);
    if (segments.length === 0) {
      if (op.op === 'test') {
        if (!jsonEqual(root, toJson(op.value))) throw new HttpProblem(422, `Testing value ${op.path} failed`);
      } else if (op.op === 'remove') {
        throw new HttpProblem(422, 'remove operation does not apply: cannot remove the whole document');
      } else {
        root = toJson(op.value);
      }
      continue;
    }
    const parentPath = segments.slice(0, -1);
    const last = segments.at(-1) ?? '';
    const parent = resolve(root, parentPath);
    if (parent === undefined || parent === null || typeof parent !== 'object') {
      throw new HttpProblem(422, `${op.op} operation does not apply: doc is missing path: ${op.path}`);
    }
    if (Array.isArray(parent)) {
      applyToArray(parent, last, op);
    } else {
      applyToObject(parent, last, op);
    }
  }
  return root;
}

type Op = { op: 'add' | 'replace' | 'test'; path: string; value: unknown } | { op: 'remove'; path: string };

function isSupported(op: z.infer<typeof patchSchema>[number]): op is Op {
  return op.op !== 'move' && op.op !== 'copy';
}

function applyToObject(parent: { [key: string]: Json }, key: string, op: Op): void {
  const exists = Object.hasOwn(parent, key);
  switch (op.op) {
    case 'test':
      if (!exists) throw new HttpProblem(422, `test operation does not apply: is missing path: ${op.path}`);
      if (!jsonEqual(parent[key] ?? null, toJson(op.value)))
        throw new HttpProblem(422, `Testing value ${op.path} failed`);
      return;
    case 'replace':
      if (!exists)
        throw new HttpProblem(422, `replace operation does not apply: doc is missing key: ${op.path}`);
      parent[key] = toJson(op.value);
      return;
    case 'add':
      parent[key] = toJson(op.value);
      return;
    case 'remove':
      if (!exists)
        throw new HttpProblem(422, `remove operation does not apply: doc is missing path: ${op.path}`);
      Reflect.deleteProperty(parent, key);
      return;
  }
}

function applyToArray(parent: Json[], segment: string, op: Op): void {
  const index = segment === '-' && op.op === 'add' ? parent.length : Number(segment);
  const limit = op.op === 'add' ? parent.length : parent.length - 1;
  if (!/^(\d+|-)$/.test(segment) || !Number.isInteger(index) || index > limit) {
    throw new HttpProblem(422, `${op.op} operation does not apply: index out of range: ${op.path}`);
  }
  switch (op.op) {
    case 'test':
      if (!jsonEqual(parent[index] ?? null, toJson(op.value)))
        throw new HttpProblem(422, `Testing value ${op.path} failed`);
      return;
    case 'replace':
      parent[index] = toJson(op.value);
      return;
    case 'add':
      parent.splice(index, 0, toJson(op.value));
      return;
    case 'remove':
      parent.splice(index, 1);
      return;
  }
}

function parsePointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new HttpProblem(422, `JSON pointer ${path} does not start with /`);
  return path
    .slice(1)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function resolve(root: Json, segments: string[]): Json | undefined {
  let node: Json | undefined = root;
  for (const segment of segments) {
    if (Array.isArray(node)) node = node[Number(segment)];
    else if (node !== null && typeof node === 'object')
      node = Object.hasOwn(node, segment) ? node[segment] : undefined;
    else return undefined;
  }
  return node;
}

function jsonEqual(a: Json, b: Json): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
