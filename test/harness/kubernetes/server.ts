// A simulated EKS Kubernetes API server for tests, benchmarks and rehearsals: HTTPS on loopback with a CA of its
// own, EKS token authentication, apps/v1 Deployments and ReplicaSets with resourceVersions, generations, JSON
// Patch and paginated lists, a deployment controller that rolls out at a pace the test chooses, cert-manager
// Certificates (read-only, served while cert-manager is installed), networking.k8s.io/v1 Ingresses and
// gateway.networking.k8s.io/v1 HTTPRoutes (get and JSON Patch; routes served while the Gateway API CRDs are
// installed, their status written by a simulated Gateway controller), core/v1 Services and TargetGroupBindings
// (read-only), served as the AWS Load Balancer Controller's elbv2.k8s.aws/v1beta1 while it is installed and as EKS
// Auto Mode's eks.amazonaws.com/v1 while Auto Mode's load balancing is on, and injected faults. This module is the
// HTTP side and the test-facing helpers; each engine is a module of its own.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { generate } from 'selfsigned';
import type { ZodType } from 'zod';
import { canonicalJson } from './canonical-json';
import { DeploymentController, revisionOf, type RolloutBehaviour } from './deployment-controller';
import { verifyEksToken } from './eks-token';
import { defaultFaultMessage, FaultQueue, type Fault } from './faults';
import { applyJsonPatch, JsonPatchError, parseJsonPatch, toJson } from './json-patch';
import { LabelSelectorSyntaxError, parseSelector, requirementsOf, selectorMatches } from './label-selector';
import {
  deploymentSchema,
  httpRouteSchema,
  ingressSchema,
  kubernetesTimestamp,
  LAST_APPLIED_ANNOTATION,
  REVISION_ANNOTATION,
  type SimCertificate,
  type SimCertificateCondition,
  type SimDaemonSet,
  type SimDeployment,
  type SimHorizontalPodAutoscaler,
  type SimHpaMetric,
  type SimBackendRef,
  type SimHttpRoute,
  type SimIngress,
  type SimLabelSelector,
  type SimParentRef,
  type SimRouteCondition,
  type SimReplicaSet,
  type SimResourceRequirements,
  type SimStatefulSet,
} from './objects';
import {
  ExpiredContinueToken,
  InvalidContinueToken,
  objectKey,
  ObjectStore,
  ResourceVersionClock,
  type StoredObject,
} from './store';
import { timelineNow } from '../virtual-clock';

export type { RolloutBehaviour } from './deployment-controller';
export type { Fault } from './faults';
export type {
  SimBackendRef,
  SimHttpRoute,
  SimIngress,
  SimParentRef,
  SimCertificate,
  SimDaemonSet,
  SimDeployment,
  SimHorizontalPodAutoscaler,
  SimLabelSelector,
  SimReplicaSet,
  SimResourceRequirements,
  SimStatefulSet,
} from './objects';

export interface SimulatedKubernetesApiOptions {
  clusterName: string;
  region: string;
  /** The credentials tokens must be signed with (the Lambda role's, in production). */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The server's clock, for token age and timestamps. */
  now?: () => Date;
  /** The Kubernetes user EKS maps the role to (an access entry's default for an assumed role), named in 403s. */
  username?: string;
}

/** A container of a pod template, with its compute resources (none when omitted, as a manifest without any). */
export interface ContainerSpec {
  name: string;
  image: string;
  resources?: SimResourceRequirements;
}

/** A revision's containers: images alone (named `app`, `sidecar-1`…, no resources), or containers in full. */
export type RevisionSpec = { image: string } | { images: string[] } | { containers: ContainerSpec[] };

export interface AddStatefulSetOptions {
  namespace: string;
  name: string;
  containers: ContainerSpec[];
  /** @default 1 */
  replicas?: number;
  /** Pod labels, matched by the selector. Default `{ app: <name> }`. */
  labels?: Record<string, string>;
}

export interface AddDaemonSetOptions {
  namespace: string;
  name: string;
  containers: ContainerSpec[];
  /** The nodes it runs a pod on (`desiredNumberScheduled`). @default 3 */
  nodes?: number;
  labels?: Record<string, string>;
}

export interface AddHorizontalPodAutoscalerOptions {
  namespace: string;
  name: string;
  /** What it scales. */
  target: { kind: 'Deployment' | 'StatefulSet'; name: string };
  /** @default 1 (the API server's default) */
  minReplicas?: number;
  maxReplicas: number;
  /** Average CPU utilisation of the requests it aims at; omitted with `metrics` omitted: 80, as `kubectl autoscale`. */
  cpuUtilization?: number;
  /** Its metrics in full, instead of `cpuUtilization`. */
  metrics?: SimHpaMetric[];
  /** The replicas it last set. @default minReplicas */
  currentReplicas?: number;
}

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

/**
 * The resource types the server serves: apps/v1 and autoscaling/v2 always, cert-manager.io/v1 while
 * cert-manager is installed.
 */
export type SimResource =
  | 'deployments'
  | 'replicasets'
  | 'statefulsets'
  | 'daemonsets'
  | 'horizontalpodautoscalers'
  | 'certificates'
  | 'ingresses'
  | 'httproutes'
  | 'services'
  | 'targetgroupbindings';

/** A core/v1 Service as the API server returns it, with the fields it defaults. */
export interface SimService {
  apiVersion: 'v1';
  kind: 'Service';
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    creationTimestamp: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: {
    type: 'ClusterIP' | 'NodePort';
    clusterIP: string;
    clusterIPs: string[];
    selector: Record<string, string>;
    ports: Array<{
      name?: string;
      protocol: 'TCP';
      port: number;
      targetPort: number | string;
      nodePort?: number;
    }>;
    sessionAffinity: 'None';
    ipFamilies: ['IPv4'];
    ipFamilyPolicy: 'SingleStack';
    internalTrafficPolicy: 'Cluster';
  };
  status: { loadBalancer: Record<string, never> };
}

export interface AddServiceOptions {
  namespace: string;
  name: string;
  /** The pods it selects. Default `{ app: <name> }`. */
  selector?: Record<string, string>;
  /** Default one port `http`, 80 → 8080. A port without `targetPort` targets its own number, as defaulted. */
  ports?: Array<{ name?: string; port: number; targetPort?: number | string }>;
  /** `NodePort` for the ALB's instance target type. @default 'ClusterIP' */
  type?: 'ClusterIP' | 'NodePort';
}

/** The API groups TargetGroupBindings are served in: the AWS Load Balancer Controller's, EKS Auto Mode's. */
export type SimTargetGroupBindingGroup = 'elbv2.k8s.aws' | 'eks.amazonaws.com';

/**
 * A TargetGroupBinding as the AWS Load Balancer Controller (elbv2.k8s.aws/v1beta1) writes one for an Ingress, or
 * EKS Auto Mode's load balancing (eks.amazonaws.com/v1), whose docs name the API version change and a required
 * `spec.targetType` (always written here) but not its labels or finalizer: it gets the controller's labels and a
 * finalizer named as the controller's, by analogy; the runbook reads neither.
 */
export interface SimTargetGroupBinding {
  apiVersion: 'elbv2.k8s.aws/v1beta1' | 'eks.amazonaws.com/v1';
  kind: 'TargetGroupBinding';
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    generation: number;
    creationTimestamp: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers: string[];
  };
  spec: {
    targetGroupARN: string;
    targetType: 'ip' | 'instance';
    serviceRef: { name: string; port: number | string };
    ipAddressType: 'ipv4';
    vpcID: string;
  };
  status: { observedGeneration: number };
}

export interface AddTargetGroupBindingOptions {
  namespace: string;
  name: string;
  targetGroupArn: string;
  /** The Service and port (number or name) whose endpoints it registers. */
  service: { name: string; port: number | string };
  /** @default 'ip' */
  targetType?: 'ip' | 'instance';
  /**
   * The group it is made in, which must be served. Default the AWS Load Balancer Controller's while it is
   * installed, else EKS Auto Mode's: the group of whichever controller reconciles Ingresses there.
   */
  apiGroup?: SimTargetGroupBindingGroup;
  /**
   * The Ingress the controller made it for: labelled as it labels an Ingress's implicit group's objects
   * (`ingress.k8s.aws/stack-namespace`, `ingress.k8s.aws/stack-name`). Without it, no labels: a binding by hand.
   */
  ingress?: string;
}

export interface AddIngressOptions {
  namespace: string;
  name: string;
  /** Default none. */
  annotations?: Record<string, string>;
  /** Default `alb`. */
  ingressClassName?: string;
  /**
   * The rules' backends, one path `/` each: `{ service, port }` where `port` is a number or a port name (the ALB
   * router's rule names its action's service with port name `use-annotation`). Default none.
   */
  backends?: Array<{ service: string; port: number | string; path?: string }>;
}

export interface AddHttpRouteOptions {
  namespace: string;
  name: string;
  /** Default one Gateway `eg` in the route's namespace. */
  parentRefs?: SimParentRef[];
  hostnames?: string[];
  /** Each rule's backendRefs (one match on `/` each, which the router never reads). */
  rules: Array<{ backendRefs: SimBackendRef[] }>;
}

/**
 * What a simulated Gateway controller writes on every parent of a route: Accepted and ResolvedRefs True, or one of
 * them False with the reason and message it gives (e.g. Accepted False NotAllowedByListeners, ResolvedRefs False
 * BackendNotFound), describing the route's current generation unless `observedGeneration` says otherwise.
 */
export type RouteVerdict =
  | { accepted: true; observedGeneration?: number; controllerName?: string }
  | {
      accepted: false;
      /** The condition that is False. @default 'Accepted' */
      condition?: 'Accepted' | 'ResolvedRefs';
      reason: string;
      message: string;
      observedGeneration?: number;
      controllerName?: string;
    };

/**
 * What the role's access does not allow: these verbs (any when omitted) on these resources (any when omitted) in
 * this namespace (any when omitted).
 */
export interface AccessDenial {
  verbs?: Array<'get' | 'list' | 'patch'>;
  resources?: SimResource[];
  /** Only in these API groups (`''` for the core group): a Role naming one group of TargetGroupBindings only. */
  apiGroups?: string[];
  namespace?: string;
}

/** A condition of a Certificate's status, as cert-manager words one. */
export interface CertificateConditionSpec {
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export interface AddCertificateOptions {
  namespace: string;
  name: string;
  /** The Secret cert-manager writes the certificate to. Default `<name>-tls`. */
  secretName?: string;
  commonName?: string;
  /** Default `[<name>.example.com]`; `[]` for none. */
  dnsNames?: string[];
  /** Default the ClusterIssuer `letsencrypt-prod`. */
  issuerRef?: { name: string; kind?: string; group?: string };
  /**
   * The certificate in the Secret, as the status reports it; `null` for one never issued. Default: a 90-day
   * certificate issued 30 days ago (by the server's clock), to renew at two thirds of its life as cert-manager
   * does by default.
   */
  issued?: { notBefore: Date; notAfter: Date; renewalTime?: Date } | null;
  /**
   * The Ready condition; `null` for none, as before cert-manager first reconciles it (no status at all when
   * nothing else is set either). Default: True when issued, else False with reason DoesNotExist.
   */
  ready?: CertificateConditionSpec | null;
  /** The Issuing condition, present while an issuance runs or after one failed; none by default. */
  issuing?: CertificateConditionSpec;
  /** Failed issuances since the last success, and when the last failed; cert-manager backs off 1 h × 2^(n−1). */
  failedIssuanceAttempts?: number;
  lastFailureTime?: Date;
}

/**
 * The certificate the server presents: its own (signed by the CA in `caData`), one for its address signed by
 * another CA (what a TLS-intercepting proxy presents), or one the cluster CA signed for another host.
 */
export type PresentedCertificate = 'cluster' | 'foreign-ca' | 'wrong-host';

export interface RecordedRequest {
  method: string;
  /** Path and query, as sent. */
  path: string;
  /** HTTP status answered; 0 for a reset connection. */
  status: number;
  /** When the request arrived (`timelineNow()`). */
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
  /** A StatefulSet with every replica ready; the API serves it read-only (get, list). */
  addStatefulSet(options: AddStatefulSetOptions): SimStatefulSet;
  /** A DaemonSet with a ready pod on each of its nodes; read-only. */
  addDaemonSet(options: AddDaemonSetOptions): SimDaemonSet;
  /** An autoscaling/v2 HorizontalPodAutoscaler; read-only. */
  addHorizontalPodAutoscaler(options: AddHorizontalPodAutoscalerOptions): SimHorizontalPodAutoscaler;
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
  /**
   * Whether the role has an EKS access entry (it has, until told otherwise). Without one, EKS authenticates none
   * of its tokens, valid as they are: every request is answered 401, as for a cluster in CONFIG_MAP mode.
   */
  setAccessEntry(present: boolean): void;
  /** Refuses matching requests with 403 and the message Kubernetes gives, naming user, verb, resource, namespace. */
  denyAccess(denial: AccessDenial): void;
  /** A Certificate as cert-manager leaves it; cert-manager must be installed. */
  addCertificate(options: AddCertificateOptions): SimCertificate;
  /**
   * Whether cert-manager is installed (it is, until told otherwise). Uninstalling deletes its CRDs and with them
   * every Certificate, as Kubernetes does; the cert-manager.io API then answers 404 `404 page not found` as text,
   * as an API server answers for a type it does not serve, after RBAC has authorized the request.
   */
  setCertManagerInstalled(installed: boolean): void;
  /** An Ingress as applied, with an address the load balancer controller wrote into its status. */
  addIngress(options: AddIngressOptions): SimIngress;
  getIngress(namespace: string, name: string): SimIngress | undefined;
  /**
   * A hand edit (`kubectl edit`): `edit` changes a copy, which is validated and stored with the next
   * resourceVersion (and generation, when the spec changed). Its status is kept, as the main resource's writes do.
   */
  editIngress(namespace: string, name: string, edit: (ingress: SimIngress) => void): SimIngress;
  /** An HTTPRoute as applied, with no status until `setHttpRouteStatus`; the Gateway API must be installed. */
  addHttpRoute(options: AddHttpRouteOptions): SimHttpRoute;
  getHttpRoute(namespace: string, name: string): SimHttpRoute | undefined;
  /** A hand edit of the route, as `editIngress`. */
  editHttpRoute(namespace: string, name: string, edit: (route: SimHttpRoute) => void): SimHttpRoute;
  /**
   * A Gateway controller reconciling the route: writes `status.parents` (one per parentRef) through the status
   * subresource, which takes a resourceVersion but never a generation.
   */
  setHttpRouteStatus(namespace: string, name: string, verdict: RouteVerdict): SimHttpRoute;
  /**
   * Whether the Gateway API CRDs are installed (they are, until told otherwise). Uninstalling deletes every
   * HTTPRoute; gateway.networking.k8s.io then answers `404 page not found` as text, after RBAC, as for cert-manager.
   */
  setGatewayApiInstalled(installed: boolean): void;
  /** A Service, read-only through the API (get, list). */
  addService(options: AddServiceOptions): SimService;
  getService(namespace: string, name: string): SimService | undefined;
  /**
   * A TargetGroupBinding, read-only through the API (get, list), in a group that is served: the load balancer
   * controller must be installed, or Auto Mode's load balancing on.
   */
  addTargetGroupBinding(options: AddTargetGroupBindingOptions): SimTargetGroupBinding;
  /**
   * Whether the AWS Load Balancer Controller's CRDs are installed (they are, until told otherwise). Uninstalling
   * deletes every elbv2.k8s.aws TargetGroupBinding; the group then answers `404 page not found` as text, as for
   * cert-manager.
   */
  setLoadBalancerControllerInstalled(installed: boolean): void;
  /**
   * Whether EKS Auto Mode's load balancing is on (it is off until told otherwise): TargetGroupBindings are then
   * served in eks.amazonaws.com/v1 too, with the same pagination and RBAC. Turning it off deletes those bindings;
   * the group then answers `404 page not found` as text, after RBAC, as the controller's does when uninstalled.
   */
  setAutoModeLoadBalancing(enabled: boolean): void;
  /** Presents `certificate` from the next connection on; open idle connections are closed, so none keeps the old. */
  presentCertificate(certificate: PresentedCertificate): Promise<void>;
  /**
   * Forgets all objects, faults, behaviours and recorded requests, and restores the access entry, the access
   * policy, cert-manager, the Gateway API, the load balancer controller (installed; Auto Mode's load balancing off)
   * and the cluster's certificate; `onRequest` listeners stay.
   */
  reset(): void;
  close(): Promise<void>;
}

const DEFAULT_REVISION_HISTORY_LIMIT = 10;
const DEFAULT_USERNAME = 'arn:aws:sts::111122223333:assumed-role/platform-runbooks-kubernetes/runbook';
const BUILD_ANNOTATION = 'app.example.com/build';
const DAY_MS = 24 * 60 * 60_000;
const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';

// ---------------------------------------------------------------------------------------------------------------
// Certificates: generated once per test process (EC keys: a few tens of ms).

interface Certificates {
  caCert: string;
  caKey: string;
  serverKey: string;
  serverCert: string;
}

type Extensions = NonNullable<NonNullable<Parameters<typeof generate>[1]>['extensions']>;
type AltName = Extract<Extensions[number], { name: 'subjectAltName' }>['altNames'][number];

const CA_EXTENSIONS: Extensions = [
  { name: 'basicConstraints', cA: true, critical: true },
  { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
];

const serverExtensions = (altNames: AltName[]): Extensions => [
  { name: 'basicConstraints', cA: false },
  { name: 'keyUsage', digitalSignature: true, critical: true },
  { name: 'extKeyUsage', serverAuth: true },
  { name: 'subjectAltName', altNames },
];

/**
 * From a day before to a year after the real time: OpenSSL checks validity against the system clock, while `Date`
 * may be the rehearsal's virtual clock, ahead of it (test/harness/virtual-clock.ts).
 */
function validity(): { notBeforeDate: Date; notAfterDate: Date } {
  const realNow = performance.timeOrigin + performance.now();
  const day = 24 * 60 * 60_000;
  return { notBeforeDate: new Date(realNow - day), notAfterDate: new Date(realNow + 365 * day) };
}

let certificates: Promise<Certificates> | undefined;

function loadCertificates(): Promise<Certificates> {
  certificates ??= (async () => {
    const ca = await generate([{ name: 'commonName', value: 'simulated-eks-ca' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      ...validity(),
      extensions: CA_EXTENSIONS,
    });
    const server = await generate([{ name: 'commonName', value: 'kube-apiserver' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      ...validity(),
      ca: { key: ca.private, cert: ca.cert },
      extensions: serverExtensions([{ type: 7, ip: '127.0.0.1' }]),
    });
    return { caCert: ca.cert, caKey: ca.private, serverKey: server.private, serverCert: server.cert };
  })();
  return certificates;
}

interface KeyPair {
  key: string;
  cert: string;
}

let impostors: Promise<Record<Exclude<PresentedCertificate, 'cluster'>, KeyPair>> | undefined;

/** The certificates a server presents in place of its own; generated on first use only. */
function loadImpostorCertificates(): Promise<Record<Exclude<PresentedCertificate, 'cluster'>, KeyPair>> {
  impostors ??= (async () => {
    const { caCert, caKey } = await loadCertificates();
    const otherCa = await generate([{ name: 'commonName', value: 'tls-inspecting-proxy-ca' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      ...validity(),
      extensions: CA_EXTENSIONS,
    });
    const leaf = (ca: KeyPair, altNames: AltName[]) =>
      generate([{ name: 'commonName', value: 'kube-apiserver' }], {
        keyType: 'ec',
        algorithm: 'sha256',
        ...validity(),
        ca,
        extensions: serverExtensions(altNames),
      });
    const [foreign, wrongHost] = await Promise.all([
      leaf({ key: otherCa.private, cert: otherCa.cert }, [{ type: 7, ip: '127.0.0.1' }]),
      leaf({ key: caKey, cert: caCert }, [{ type: 2, value: 'kube-apiserver.other-cluster.example' }]),
    ]);
    return {
      'foreign-ca': { key: foreign.private, cert: foreign.cert },
      'wrong-host': { key: wrongHost.private, cert: wrongHost.cert },
    };
  })();
  return impostors;
}

// ---------------------------------------------------------------------------------------------------------------
// Status bodies.

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

/** The engines' errors as the API server answers them; anything else is the simulator's own failure. */
function problemOf(error: unknown): HttpProblem | undefined {
  if (error instanceof HttpProblem) return error;
  if (error instanceof JsonPatchError) return new HttpProblem(422, error.message);
  if (error instanceof LabelSelectorSyntaxError || error instanceof InvalidContinueToken) {
    return new HttpProblem(400, error.message);
  }
  if (error instanceof ExpiredContinueToken) return new HttpProblem(410, error.message);
  return undefined;
}

/** The API group and version each resource is served at (autoscaling/v1 HPAs are not served). */
const API_OF: Record<SimResource, { group: string; version: string }> = {
  deployments: { group: 'apps', version: 'v1' },
  replicasets: { group: 'apps', version: 'v1' },
  statefulsets: { group: 'apps', version: 'v1' },
  daemonsets: { group: 'apps', version: 'v1' },
  horizontalpodautoscalers: { group: 'autoscaling', version: 'v2' },
  certificates: { group: 'cert-manager.io', version: 'v1' },
  ingresses: { group: 'networking.k8s.io', version: 'v1' },
  httproutes: { group: 'gateway.networking.k8s.io', version: 'v1' },
  // The core group is the empty string, served under /api/v1 rather than /apis/<group>/<version>.
  services: { group: '', version: 'v1' },
  targetgroupbindings: { group: 'elbv2.k8s.aws', version: 'v1beta1' },
};

/** EKS Auto Mode's load balancing serves TargetGroupBindings in a group of its own. */
const AUTO_MODE_TARGET_GROUP_BINDINGS = { group: 'eks.amazonaws.com', version: 'v1' } as const;

/** Where else a resource is served than API_OF says: TargetGroupBindings, under EKS Auto Mode. */
const ALSO_SERVED_AT: Partial<Record<SimResource, { group: string; version: string }>> = {
  targetgroupbindings: AUTO_MODE_TARGET_GROUP_BINDINGS,
};

/** A resource as Kubernetes names it in messages: qualified by its group, except in the core group. */
const qualified = (resource: SimResource, group: string): string =>
  group ? `${resource}.${group}` : resource;

/** The status subresource's writer's name, as Envoy Gateway's GatewayClass controller signs it. */
const GATEWAY_CONTROLLER_NAME = 'gateway.envoyproxy.io/gatewayclass-controller';

function notFound(resource: SimResource, name: string, group = API_OF[resource].group): HttpProblem {
  return new HttpProblem(404, `${qualified(resource, group)} "${name}" not found`, {
    name,
    ...(group && { group }),
    kind: resource,
  });
}

/** A request for a namespaced object or list of one of the types the server knows, as RBAC and routing see it. */
interface ResourceRequest {
  group: string;
  resource: SimResource;
  namespace: string;
  name?: string;
}

const RESOURCE_PATH = /^\/apis\/([^/]+)\/([^/]+)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/;
const CORE_RESOURCE_PATH = /^\/api\/(v1)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/;

function resourceRequestOf(url: URL): ResourceRequest | undefined {
  const core = CORE_RESOURCE_PATH.exec(url.pathname);
  const match = core ? [core[0], '', ...core.slice(1)] : RESOURCE_PATH.exec(url.pathname);
  if (!match) return undefined;
  const [, group = '', version, namespace = '', resource = '', name] = match;
  if (!Object.hasOwn(API_OF, resource)) return undefined;
  const served = [API_OF[resource as SimResource], ALSO_SERVED_AT[resource as SimResource]];
  if (!served.some((api) => api?.group === group && api.version === version)) return undefined;
  return {
    group,
    resource: resource as SimResource,
    namespace: decodeURIComponent(namespace),
    ...(name === undefined ? {} : { name: decodeURIComponent(name) }),
  };
}

// ---------------------------------------------------------------------------------------------------------------

export async function startKubernetesApiServer(
  options: SimulatedKubernetesApiOptions,
): Promise<SimulatedKubernetesApi> {
  const { clusterName, region, credentials, username = DEFAULT_USERNAME } = options;
  const now = options.now ?? (() => new Date());
  const timestamp = () => kubernetesTimestamp(now());
  const { caCert, serverKey, serverCert } = await loadCertificates();

  const clock = new ResourceVersionClock();
  const deployments = new ObjectStore<SimDeployment>(clock);
  const replicaSets = new ObjectStore<SimReplicaSet>(clock);
  const certificates = new ObjectStore<SimCertificate>(clock);
  const statefulSets = new ObjectStore<SimStatefulSet>(clock);
  const daemonSets = new ObjectStore<SimDaemonSet>(clock);
  const autoscalers = new ObjectStore<SimHorizontalPodAutoscaler>(clock);
  const ingresses = new ObjectStore<SimIngress>(clock);
  const httpRoutes = new ObjectStore<SimHttpRoute>(clock);
  let gatewayApiInstalled = true;
  const services = new ObjectStore<SimService>(clock);
  const targetGroupBindings = new ObjectStore<SimTargetGroupBinding>(clock);
  let loadBalancerControllerInstalled = true;
  // A resource of its own in its own group: listed and paginated apart from the controller's.
  const autoModeTargetGroupBindings = new ObjectStore<SimTargetGroupBinding>(clock);
  let autoModeLoadBalancing = false;
  const autoModeBindingList = {
    store: autoModeTargetGroupBindings,
    kind: 'TargetGroupBindingList',
    apiVersion: `${AUTO_MODE_TARGET_GROUP_BINDINGS.group}/${AUTO_MODE_TARGET_GROUP_BINDINGS.version}`,
  };
  /** The read-only kinds: each served by get and a paginated list, and nothing else. */
  const readOnly = {
    statefulsets: { store: statefulSets, kind: 'StatefulSetList', apiVersion: 'apps/v1' },
    daemonsets: { store: daemonSets, kind: 'DaemonSetList', apiVersion: 'apps/v1' },
    horizontalpodautoscalers: {
      store: autoscalers,
      kind: 'HorizontalPodAutoscalerList',
      apiVersion: 'autoscaling/v2',
    },
    services: { store: services, kind: 'ServiceList', apiVersion: 'v1' },
    targetgroupbindings: {
      store: targetGroupBindings,
      kind: 'TargetGroupBindingList',
      apiVersion: 'elbv2.k8s.aws/v1beta1',
    },
  } as const;
  let certManagerInstalled = true;
  const controller = new DeploymentController({ deployments, replicaSets, clock, timestamp });
  const builds = new Map<string, number>();
  const faults = new FaultQueue();
  const listeners = new Set<(request: { method: string; path: string; at: number }) => void>();
  const requests: RecordedRequest[] = [];
  const authFailures: string[] = [];
  let accessEntry = true;
  const denials: AccessDenial[] = [];
  let presented: PresentedCertificate = 'cluster';

  // -------------------------------------------------------------------------------------------------------------
  // Writes, from the API or from the helpers.

  /** Persists `next` over `current` as the registry does, then lets the controller react. Returns what was stored. */
  function write(current: SimDeployment, next: SimDeployment): SimDeployment {
    next.status = current.status;
    next.metadata.generation = current.metadata.generation;
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    if (canonicalJson(next) === canonicalJson(current)) return structuredClone(current);
    if (canonicalJson(next.spec) !== canonicalJson(current.spec)) next.metadata.generation += 1;
    deployments.put(next);
    // The answer to the write is the object before the controller has seen it, as on a real cluster.
    const stored = structuredClone(next);
    controller.written(next, current);
    return stored;
  }

  function requireObject<T extends StoredObject>(
    store: ObjectStore<T>,
    what: string,
    namespace: string,
    name: string,
  ): T {
    const object = store.get(namespace, name);
    if (!object) throw new Error(`simulated API server: no ${what} ${namespace}/${name}`);
    return object;
  }

  function requireDeployment(namespace: string, name: string): SimDeployment {
    const deployment = deployments.get(namespace, name);
    if (!deployment) throw new Error(`simulated API server: no Deployment ${namespace}/${name}`);
    return deployment;
  }

  /** The Deployment as `kubectl apply` of this revision leaves it: new containers, build and apply annotations. */
  function applyRevision(deployment: SimDeployment, spec: RevisionSpec): SimDeployment {
    const key = objectKey(deployment.metadata.namespace, deployment.metadata.name);
    const build = (builds.get(key) ?? 0) + 1;
    builds.set(key, build);
    const next = structuredClone(deployment);
    next.spec.template.spec.containers = containersFor(spec);
    const annotations = (next.metadata.annotations ??= {});
    annotations[BUILD_ANNOTATION] = `build-${build}`;
    annotations[CHANGE_CAUSE_ANNOTATION] = `deploy ${imagesOf(spec).join(',')}`;
    annotations[LAST_APPLIED_ANNOTATION] = JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: next.metadata.name, namespace: next.metadata.namespace },
      spec: { replicas: next.spec.replicas, selector: next.spec.selector, template: next.spec.template },
    });
    return next;
  }

  /** The metadata of an object made by a helper: the API server fills in uid, generation and timestamps. */
  function workloadMetadata(namespace: string, name: string, labels: Record<string, string> | undefined) {
    return {
      name,
      namespace,
      uid: randomUUID(),
      resourceVersion: '',
      generation: 1,
      creationTimestamp: timestamp(),
      ...(labels && { labels: { ...labels } }),
      annotations: {},
    };
  }

  // -------------------------------------------------------------------------------------------------------------
  // HTTP.

  function authenticate(authorization: string | undefined): string | undefined {
    if (!authorization?.startsWith('Bearer ')) return 'no bearer token';
    return verifyEksToken(authorization.slice('Bearer '.length), { clusterName, region, credentials }, now());
  }

  /** The 403 RBAC answers when a denial covers the request, as the API server words it (responsewriters). */
  function authorize(method: string, request: ResourceRequest | undefined): HttpProblem | undefined {
    if (!request) return undefined;
    const { group, resource, namespace, name } = request;
    const verb = method === 'GET' ? (name === undefined ? 'list' : 'get') : method.toLowerCase();
    const denied = denials.some(
      (denial) =>
        (denial.namespace === undefined || denial.namespace === namespace) &&
        (denial.resources === undefined || denial.resources.includes(resource)) &&
        (denial.apiGroups === undefined || denial.apiGroups.includes(group)) &&
        (denial.verbs === undefined || (denial.verbs as string[]).includes(verb)),
    );
    if (!denied) return undefined;
    const subject =
      name === undefined ? qualified(resource, group) : `${qualified(resource, group)} "${name}"`;
    return new HttpProblem(
      403,
      `${subject} is forbidden: User "${username}" cannot ${verb} resource "${resource}" in API group "${group}" in the namespace "${namespace}"`,
      { ...(name === undefined ? {} : { name }), group, kind: resource },
    );
  }

  function route(
    method: string,
    url: URL,
    request: ResourceRequest | undefined,
    contentType: string | undefined,
    body: string,
  ): { status: number; body: unknown; contentType?: string } {
    if (!request) throw new HttpProblem(404, 'the server could not find the requested resource');
    const { resource, namespace, name } = request;
    if (resource === 'certificates') {
      // What kube-apiserver's fallback handler answers for a group it does not serve: no Status, plain text.
      if (!certManagerInstalled)
        return { status: 404, body: '404 page not found\n', contentType: 'text/plain; charset=utf-8' };
      if (method === 'GET' && name === undefined) {
        return {
          status: 200,
          body: listPage(certificates, 'CertificateList', 'cert-manager.io/v1', namespace, url.searchParams),
        };
      }
      if (method === 'GET' && name !== undefined) {
        const certificate = certificates.get(namespace, name);
        if (!certificate) throw notFound('certificates', name);
        return { status: 200, body: certificate };
      }
    }
    const autoMode =
      resource === 'targetgroupbindings' && request.group === AUTO_MODE_TARGET_GROUP_BINDINGS.group;
    if (
      resource === 'targetgroupbindings' &&
      !(autoMode ? autoModeLoadBalancing : loadBalancerControllerInstalled)
    )
      return { status: 404, body: '404 page not found\n', contentType: 'text/plain; charset=utf-8' };
    if (
      resource === 'statefulsets' ||
      resource === 'daemonsets' ||
      resource === 'horizontalpodautoscalers' ||
      resource === 'services' ||
      resource === 'targetgroupbindings'
    ) {
      const { store, kind, apiVersion } = autoMode ? autoModeBindingList : readOnly[resource];
      if (method === 'GET' && name === undefined) {
        return {
          status: 200,
          body: listPage<StoredObject & { metadata: { labels?: Record<string, string> } }>(
            store,
            kind,
            apiVersion,
            namespace,
            url.searchParams,
          ),
        };
      }
      if (method === 'GET' && name !== undefined) {
        const object = store.get(namespace, name);
        if (!object) throw notFound(resource, name, request.group);
        return { status: 200, body: object };
      }
    }
    if (resource === 'httproutes' && !gatewayApiInstalled)
      return { status: 404, body: '404 page not found\n', contentType: 'text/plain; charset=utf-8' };
    if ((resource === 'ingresses' || resource === 'httproutes') && name !== undefined) {
      const served =
        resource === 'ingresses'
          ? { store: ingresses, schema: ingressSchema, kind: 'Ingress.networking.k8s.io' }
          : { store: httpRoutes, schema: httpRouteSchema, kind: 'HTTPRoute.gateway.networking.k8s.io' };
      if (method === 'GET') {
        const object = served.store.get(namespace, name);
        if (!object) throw notFound(resource, name);
        return { status: 200, body: object };
      }
      if (method === 'PATCH') {
        return {
          status: 200,
          body: patchObject(
            resource,
            served.store as ObjectStore<SimIngress | SimHttpRoute>,
            served.schema,
            served.kind,
            namespace,
            name,
            contentType,
            body,
          ),
        };
      }
    }
    if (resource === 'deployments' && name === undefined && method === 'GET') {
      // A list reads the store as it is: unlike a get, it does not move a paced rollout on.
      return {
        status: 200,
        body: listPage(deployments, 'DeploymentList', 'apps/v1', namespace, url.searchParams),
      };
    }
    if (resource === 'deployments' && name !== undefined) {
      if (method === 'GET') return { status: 200, body: getDeploymentForRead(namespace, name) };
      if (method === 'PATCH')
        return { status: 200, body: patchDeployment(namespace, name, contentType, body) };
    }
    if (resource === 'replicasets' && name === undefined && method === 'GET') {
      return {
        status: 200,
        body: listPage(replicaSets, 'ReplicaSetList', 'apps/v1', namespace, url.searchParams),
      };
    }
    if (resource === 'replicasets' && name !== undefined && method === 'GET') {
      const replicaSet = replicaSets.get(namespace, name);
      if (!replicaSet) throw notFound('replicasets', name);
      return { status: 200, body: replicaSet };
    }
    throw new HttpProblem(405, `the server does not allow this method on the requested resource (${method})`);
  }

  function getDeploymentForRead(namespace: string, name: string): SimDeployment {
    const deployment = deployments.get(namespace, name);
    if (!deployment) throw notFound('deployments', name);
    controller.advance(deployment);
    return deployment;
  }

  function patchDeployment(
    namespace: string,
    name: string,
    contentType: string | undefined,
    body: string,
  ): SimDeployment {
    requireJsonPatchMediaType(contentType);
    const current = deployments.get(namespace, name);
    if (!current) throw notFound('deployments', name);
    const operations = jsonPatchOf(body);
    const parsed = deploymentSchema.safeParse(applyJsonPatch(toJson(current), operations));
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

  /**
   * A JSON Patch on an object with a status subresource (Ingress, HTTPRoute), as the registry applies it: a failed
   * `test` op is 422 Invalid, the result is validated, identity is immutable, a resourceVersion in the result is a
   * precondition, and status changes are dropped (they go through the status subresource).
   */
  function patchObject<T extends SimIngress | SimHttpRoute>(
    resource: SimResource,
    store: ObjectStore<T>,
    schema: ZodType,
    kind: string,
    namespace: string,
    name: string,
    contentType: string | undefined,
    body: string,
  ): T {
    requireJsonPatchMediaType(contentType);
    const current = store.get(namespace, name);
    if (!current) throw notFound(resource, name);
    const operations = jsonPatchOf(body);
    const parsed = schema.safeParse(applyJsonPatch(toJson(current), operations));
    const invalid = (what: string) => new HttpProblem(422, `${kind} "${name}" is invalid: ${what}`);
    if (!parsed.success) {
      throw invalid(
        parsed.error.issues
          .map((issue) => `${issue.path.map(String).join('.')}: ${issue.message}`)
          .join('; '),
      );
    }
    const next = parsed.data as T;
    if (
      next.metadata.name !== name ||
      next.metadata.namespace !== namespace ||
      next.metadata.uid !== current.metadata.uid
    ) {
      throw invalid('metadata.name, metadata.namespace and metadata.uid are immutable');
    }
    if (next.metadata.resourceVersion !== current.metadata.resourceVersion) {
      throw new HttpProblem(
        409,
        `Operation cannot be fulfilled on ${resource}.${API_OF[resource].group} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    return writeObject(store, current, next);
  }

  /**
   * Persists a write of the main resource: status kept as stored, the next resourceVersion unless nothing changed,
   * and the next generation when the spec changed (a CRD's rule, and the Ingress strategy's). Returns a copy.
   */
  function writeObject<T extends SimIngress | SimHttpRoute>(store: ObjectStore<T>, current: T, next: T): T {
    next.metadata.generation = current.metadata.generation;
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    if (current.status === undefined) Reflect.deleteProperty(next, 'status');
    else next.status = structuredClone(current.status);
    if (canonicalJson(next) === canonicalJson(current)) return structuredClone(current);
    if (canonicalJson(next.spec) !== canonicalJson(current.spec)) next.metadata.generation += 1;
    store.put(next);
    return structuredClone(next);
  }

  /** A hand edit through a helper: validated as a PATCH would be, refused by throwing (a test's own mistake). */
  function editObject<T extends SimIngress | SimHttpRoute>(
    store: ObjectStore<T>,
    schema: ZodType,
    what: string,
    namespace: string,
    name: string,
    edit: (object: T) => void,
  ): T {
    const current = store.get(namespace, name);
    if (!current) throw new Error(`simulated API server: no ${what} ${namespace}/${name}`);
    const draft = structuredClone(current);
    edit(draft);
    const parsed = schema.safeParse(draft);
    if (!parsed.success) {
      throw new Error(
        `simulated API server: the edited ${what} ${namespace}/${name} is invalid: ${String(parsed.error)}`,
      );
    }
    return writeObject(store, current, parsed.data as T);
  }

  /** One page of a namespaced list, with `labelSelector`, `limit` and `continue` as the API server takes them. */
  function listPage<T extends StoredObject & { metadata: { labels?: Record<string, string> } }>(
    store: ObjectStore<T>,
    kind: string,
    apiVersion: string,
    namespace: string,
    params: URLSearchParams,
  ) {
    const requirements = parseSelector(params.get('labelSelector') ?? '');
    const limitText = params.get('limit');
    const limit = limitText === null ? 0 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 0) throw new HttpProblem(400, `invalid limit ${limitText}`);
    const page = store.list({
      namespace,
      limit,
      continueToken: params.get('continue'),
      matches: (object) => selectorMatches(requirements, object.metadata.labels ?? {}),
    });
    return { kind, apiVersion, ...page };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = timelineNow();
    const method = req.method ?? 'GET';
    const rawPath = req.url ?? '/';
    for (const listener of listeners) listener({ method, path: rawPath, at });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const record = (status: number) => requests.push({ method, path: rawPath, status, at });
    const answer = (status: number, payload: unknown, contentType?: string) => {
      record(status);
      const raw = typeof payload === 'string';
      const text = raw ? payload : JSON.stringify(payload);
      res.writeHead(status, {
        'content-type': contentType ?? (raw ? 'text/html' : 'application/json'),
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };

    const fault = faults.take(method, rawPath);
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault?.reset) {
      record(0);
      req.socket.destroy();
      return;
    }
    if (fault?.body !== undefined) return answer(fault.status ?? 200, fault.body);
    if (fault?.status !== undefined) {
      return answer(
        fault.status,
        statusBody(fault.status, fault.message ?? defaultFaultMessage(fault.status)),
      );
    }

    // EKS verifies the token first, then looks for the access entry of the role that signed it.
    const refused =
      authenticate(req.headers.authorization) ?? (accessEntry ? undefined : 'the role has no access entry');
    if (refused !== undefined) {
      authFailures.push(refused);
      return answer(401, statusBody(401, 'Unauthorized'));
    }
    try {
      const url = new URL(rawPath, 'https://127.0.0.1');
      const request = resourceRequestOf(url);
      const forbidden = authorize(method, request);
      if (forbidden) throw forbidden;
      const result = route(method, url, request, req.headers['content-type'], body);
      answer(result.status, result.body, result.contentType);
    } catch (error) {
      const problem = problemOf(error);
      if (problem) return answer(problem.code, statusBody(problem.code, problem.message, problem.details));
      answer(500, statusBody(500, `simulated API server failed: ${String(error)}`));
    }
  }

  const server = createServer({ key: serverKey, cert: serverCert }, (req, res) => {
    res.on('error', () => undefined); // a client that gave up (timeout tests) is not the server's failure
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const clusterPair: KeyPair = { key: serverKey, cert: serverCert };

  function present(certificate: PresentedCertificate, pair: KeyPair): void {
    server.setSecureContext(pair);
    // A kept-alive connection was verified against the old certificate; a client must handshake again.
    server.closeIdleConnections();
    presented = certificate;
  }

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
      if (deployments.get(namespace, name)) {
        throw new Error(`simulated API server: Deployment ${namespace}/${name} exists`);
      }
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
      deployments.put(deployment);
      controller.written(deployment);
      // Earlier revisions are history: each rolls out at once.
      for (const revisionSpec of later) {
        write(deployment, applyRevision(deployment, revisionSpec));
        deployment = requireDeployment(namespace, name);
        controller.settle(deployment);
      }
      if (paused)
        write(deployment, {
          ...structuredClone(deployment),
          spec: { ...structuredClone(deployment.spec), paused },
        });
      return structuredClone(requireDeployment(namespace, name));
    },

    addStatefulSet({ namespace, name, containers, replicas = 1, labels }) {
      if (statefulSets.get(namespace, name)) {
        throw new Error(`simulated API server: StatefulSet ${namespace}/${name} exists`);
      }
      const podLabels = labels ?? { app: name };
      const revision = `${name}-${Math.abs(hashOf(JSON.stringify(containers)))
        .toString(16)
        .slice(0, 10)}`;
      const statefulSet: SimStatefulSet = {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: workloadMetadata(namespace, name, podLabels),
        spec: {
          replicas,
          selector: { matchLabels: { ...podLabels } },
          template: podTemplate(podLabels, containers) as SimStatefulSet['spec']['template'],
          serviceName: name,
          podManagementPolicy: 'OrderedReady',
          updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
          revisionHistoryLimit: DEFAULT_REVISION_HISTORY_LIMIT,
          persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
        },
        status: {
          observedGeneration: 1,
          replicas,
          readyReplicas: replicas,
          currentReplicas: replicas,
          updatedReplicas: replicas,
          availableReplicas: replicas,
          currentRevision: revision,
          updateRevision: revision,
          collisionCount: 0,
        },
      };
      statefulSets.put(statefulSet);
      return structuredClone(statefulSet);
    },

    addDaemonSet({ namespace, name, containers, nodes = 3, labels }) {
      if (daemonSets.get(namespace, name)) {
        throw new Error(`simulated API server: DaemonSet ${namespace}/${name} exists`);
      }
      const podLabels = labels ?? { app: name };
      const daemonSet: SimDaemonSet = {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: workloadMetadata(namespace, name, podLabels),
        spec: {
          selector: { matchLabels: { ...podLabels } },
          template: podTemplate(podLabels, containers) as SimDaemonSet['spec']['template'],
          updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
          revisionHistoryLimit: DEFAULT_REVISION_HISTORY_LIMIT,
        },
        status: {
          currentNumberScheduled: nodes,
          numberMisscheduled: 0,
          desiredNumberScheduled: nodes,
          numberReady: nodes,
          observedGeneration: 1,
          updatedNumberScheduled: nodes,
          numberAvailable: nodes,
        },
      };
      daemonSets.put(daemonSet);
      return structuredClone(daemonSet);
    },

    addHorizontalPodAutoscaler({
      namespace,
      name,
      target,
      minReplicas = 1,
      maxReplicas,
      cpuUtilization,
      metrics,
      currentReplicas = minReplicas,
    }) {
      if (autoscalers.get(namespace, name)) {
        throw new Error(`simulated API server: HorizontalPodAutoscaler ${namespace}/${name} exists`);
      }
      const autoscaler: SimHorizontalPodAutoscaler = {
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        metadata: workloadMetadata(namespace, name, undefined),
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: target.kind, name: target.name },
          minReplicas,
          maxReplicas,
          metrics: structuredClone(
            metrics ?? [
              {
                type: 'Resource',
                resource: {
                  name: 'cpu',
                  target: { type: 'Utilization', averageUtilization: cpuUtilization ?? 80 },
                },
              },
            ],
          ),
        },
        status: {
          currentReplicas,
          desiredReplicas: currentReplicas,
          conditions: [
            {
              type: 'AbleToScale',
              status: 'True',
              reason: 'ReadyForNewScale',
              message: 'recommended size matches current size',
              lastTransitionTime: timestamp(),
            },
            {
              type: 'ScalingActive',
              status: 'True',
              reason: 'ValidMetricFound',
              message:
                'the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)',
              lastTransitionTime: timestamp(),
            },
          ],
        },
      };
      autoscalers.put(autoscaler);
      return structuredClone(autoscaler);
    },

    deploy(namespace, name, revisionSpec, options = {}) {
      const deployment = requireDeployment(namespace, name);
      const stored = write(deployment, applyRevision(deployment, revisionSpec));
      if (options.rollout) controller.paceRollout(stored, options.rollout);
      return structuredClone(requireDeployment(namespace, name));
    },

    addReplicaSet({ namespace, name, labels, image, revision, ownerUid }) {
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
          annotations: { [REVISION_ANNOTATION]: String(revision) },
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
      replicaSets.put(replicaSet);
      return structuredClone(replicaSet);
    },

    getDeployment(namespace, name) {
      const deployment = deployments.get(namespace, name);
      return deployment && structuredClone(deployment);
    },

    listReplicaSets(namespace) {
      return replicaSets
        .all()
        .filter((replicaSet) => replicaSet.metadata.namespace === namespace)
        .sort((a, b) => revisionOf(a) - revisionOf(b))
        .map((replicaSet) => structuredClone(replicaSet));
    },

    deleteDeployment(namespace, name) {
      const deployment = requireDeployment(namespace, name);
      // Background cascading deletion: the garbage collector removes the owned ReplicaSets too.
      for (const replicaSet of controller.owned(deployment))
        replicaSets.delete(namespace, replicaSet.metadata.name);
      deployments.delete(namespace, name);
      controller.forget(deployment);
      clock.tick();
    },

    setPaused(namespace, name, paused) {
      const deployment = requireDeployment(namespace, name);
      write(deployment, {
        ...structuredClone(deployment),
        spec: { ...structuredClone(deployment.spec), paused },
      });
    },

    setRollout(namespace, name, behaviour) {
      controller.setBehaviour(requireDeployment(namespace, name), behaviour);
    },

    setControllerRunning(running) {
      controller.setRunning(running);
    },

    injectFault(fault) {
      faults.inject(fault);
    },

    setAccessEntry(present) {
      accessEntry = present;
    },

    denyAccess(denial) {
      denials.push(denial);
    },

    addCertificate({
      namespace,
      name,
      secretName = `${name}-tls`,
      commonName,
      dnsNames = [`${name}.example.com`],
      issuerRef = { name: 'letsencrypt-prod', kind: 'ClusterIssuer', group: 'cert-manager.io' },
      issued = defaultIssue(now()),
      ready = issued
        ? { status: 'True', reason: 'Ready', message: 'Certificate is up to date and has not expired' }
        : {
            status: 'False',
            reason: 'DoesNotExist',
            message: 'Issuing certificate as Secret does not exist',
          },
      issuing,
      failedIssuanceAttempts,
      lastFailureTime,
    }) {
      if (!certManagerInstalled) {
        throw new Error(
          'simulated API server: cert-manager is not installed, so no Certificate can be created',
        );
      }
      if (certificates.get(namespace, name)) {
        throw new Error(`simulated API server: Certificate ${namespace}/${name} exists`);
      }
      const condition = (type: SimCertificateCondition['type'], spec: CertificateConditionSpec) => ({
        type,
        ...spec,
        lastTransitionTime: timestamp(),
        observedGeneration: 1,
      });
      const conditions = [
        ...(ready ? [condition('Ready', ready)] : []),
        ...(issuing ? [condition('Issuing', issuing)] : []),
      ];
      const status: NonNullable<SimCertificate['status']> = {
        ...(issued && {
          notBefore: kubernetesTimestamp(issued.notBefore),
          notAfter: kubernetesTimestamp(issued.notAfter),
          renewalTime: kubernetesTimestamp(
            issued.renewalTime ??
              new Date(
                issued.notAfter.getTime() - (issued.notAfter.getTime() - issued.notBefore.getTime()) / 3,
              ),
          ),
          revision: 1,
        }),
        ...(failedIssuanceAttempts !== undefined && { failedIssuanceAttempts }),
        ...(lastFailureTime && { lastFailureTime: kubernetesTimestamp(lastFailureTime) }),
        ...(conditions.length > 0 && { conditions }),
      };
      const certificate: SimCertificate = {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: {
          name,
          namespace,
          uid: randomUUID(),
          resourceVersion: '',
          generation: 1,
          creationTimestamp: timestamp(),
          labels: { app: name },
        },
        spec: {
          secretName,
          ...(commonName === undefined ? {} : { commonName }),
          ...(dnsNames.length > 0 && { dnsNames: [...dnsNames] }),
          issuerRef: { ...issuerRef },
          // Fields cert-manager defaults and the client does not read: they must not trouble it.
          privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
        },
        ...(Object.keys(status).length > 0 && { status }),
      };
      certificates.put(certificate);
      return structuredClone(certificate);
    },

    setCertManagerInstalled(installed) {
      if (!installed) {
        for (const certificate of certificates.all())
          certificates.delete(certificate.metadata.namespace, certificate.metadata.name);
        clock.tick();
      }
      certManagerInstalled = installed;
    },

    addIngress({ namespace, name, annotations = {}, ingressClassName = 'alb', backends = [] }) {
      if (ingresses.get(namespace, name)) {
        throw new Error(`simulated API server: Ingress ${namespace}/${name} exists`);
      }
      const ingress: SimIngress = {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { ...workloadMetadata(namespace, name, { app: name }), annotations: { ...annotations } },
        spec: {
          ingressClassName,
          ...(backends.length > 0 && {
            rules: [
              {
                http: {
                  paths: backends.map(({ service, port, path = '/' }) => ({
                    path,
                    pathType: 'Prefix' as const,
                    backend: {
                      service: {
                        name: service,
                        port: typeof port === 'number' ? { number: port } : { name: port },
                      },
                    },
                  })),
                },
              },
            ],
          }),
        },
        // What the AWS Load Balancer Controller writes once it has provisioned the load balancer.
        status: {
          loadBalancer: {
            ingress: [{ hostname: `k8s-${namespace}-${name}-0123456789.${region}.elb.amazonaws.com` }],
          },
        },
      };
      ingresses.put(ingressSchema.parse(ingress) as SimIngress);
      return structuredClone(requireObject(ingresses, 'Ingress', namespace, name));
    },

    getIngress(namespace, name) {
      const ingress = ingresses.get(namespace, name);
      return ingress && structuredClone(ingress);
    },

    editIngress(namespace, name, edit) {
      return editObject(ingresses, ingressSchema, 'Ingress', namespace, name, edit);
    },

    addHttpRoute({ namespace, name, parentRefs = [{ name: 'eg' }], hostnames, rules }) {
      if (!gatewayApiInstalled) {
        throw new Error(
          'simulated API server: the Gateway API CRDs are not installed, so no HTTPRoute can be created',
        );
      }
      if (httpRoutes.get(namespace, name)) {
        throw new Error(`simulated API server: HTTPRoute ${namespace}/${name} exists`);
      }
      const route: SimHttpRoute = {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: workloadMetadata(namespace, name, { app: name }),
        spec: {
          parentRefs: structuredClone(parentRefs),
          ...(hostnames && { hostnames: [...hostnames] }),
          // As the CRD defaults them: a PathPrefix match on `/`.
          rules: rules.map((rule) => ({
            matches: [{ path: { type: 'PathPrefix', value: '/' } }],
            backendRefs: rule.backendRefs.map((ref) => ({
              group: '',
              kind: 'Service',
              ...structuredClone(ref),
            })),
          })),
        },
      };
      httpRoutes.put(httpRouteSchema.parse(route) as SimHttpRoute);
      return structuredClone(requireObject(httpRoutes, 'HTTPRoute', namespace, name));
    },

    getHttpRoute(namespace, name) {
      const route = httpRoutes.get(namespace, name);
      return route && structuredClone(route);
    },

    editHttpRoute(namespace, name, edit) {
      return editObject(httpRoutes, httpRouteSchema, 'HTTPRoute', namespace, name, edit);
    },

    setHttpRouteStatus(namespace, name, verdict) {
      const route = requireObject(httpRoutes, 'HTTPRoute', namespace, name);
      const observedGeneration = verdict.observedGeneration ?? route.metadata.generation;
      const condition = (type: string, ok: boolean, reason: string, message: string): SimRouteCondition => ({
        type,
        status: ok ? 'True' : 'False',
        reason,
        message,
        observedGeneration,
        lastTransitionTime: timestamp(),
      });
      const failed = verdict.accepted ? undefined : (verdict.condition ?? 'Accepted');
      const conditions = [
        failed === 'Accepted' && !verdict.accepted
          ? condition('Accepted', false, verdict.reason, verdict.message)
          : condition('Accepted', true, 'Accepted', 'Route is accepted'),
        failed === 'ResolvedRefs' && !verdict.accepted
          ? condition('ResolvedRefs', false, verdict.reason, verdict.message)
          : condition(
              'ResolvedRefs',
              true,
              'ResolvedRefs',
              'Resolved all the Object references for the Route',
            ),
      ];
      route.status = {
        parents: (route.spec.parentRefs ?? []).map((parentRef) => ({
          parentRef: structuredClone(parentRef),
          controllerName: verdict.controllerName ?? GATEWAY_CONTROLLER_NAME,
          conditions: structuredClone(conditions),
        })),
      };
      httpRoutes.touch(route);
      return structuredClone(route);
    },

    setGatewayApiInstalled(installed) {
      if (!installed) {
        for (const route of httpRoutes.all())
          httpRoutes.delete(route.metadata.namespace, route.metadata.name);
        clock.tick();
      }
      gatewayApiInstalled = installed;
    },

    addService({
      namespace,
      name,
      selector = { app: name },
      ports = [{ name: 'http', port: 80, targetPort: 8080 }],
      type = 'ClusterIP',
    }) {
      if (services.get(namespace, name)) {
        throw new Error(`simulated API server: Service ${namespace}/${name} exists`);
      }
      const serial = services.all().length + 1;
      const clusterIP = `10.100.${Math.floor(serial / 250)}.${(serial % 250) + 1}`;
      const service: SimService = {
        apiVersion: 'v1',
        kind: 'Service',
        // No generation: a Service's registry strategy keeps none.
        metadata: {
          name,
          namespace,
          uid: randomUUID(),
          resourceVersion: '',
          creationTimestamp: timestamp(),
          labels: { app: name },
          annotations: {},
        },
        spec: {
          type,
          clusterIP,
          clusterIPs: [clusterIP],
          selector: { ...selector },
          ports: ports.map(({ name: portName, port, targetPort }, index) => ({
            ...(portName === undefined ? {} : { name: portName }),
            protocol: 'TCP' as const,
            port,
            targetPort: targetPort ?? port,
            ...(type === 'NodePort' && { nodePort: 30_000 + serial * 10 + index }),
          })),
          sessionAffinity: 'None',
          ipFamilies: ['IPv4'],
          ipFamilyPolicy: 'SingleStack',
          internalTrafficPolicy: 'Cluster',
        },
        status: { loadBalancer: {} },
      };
      services.put(service);
      return structuredClone(service);
    },

    getService(namespace, name) {
      const service = services.get(namespace, name);
      return service && structuredClone(service);
    },

    addTargetGroupBinding({
      namespace,
      name,
      targetGroupArn,
      service,
      targetType = 'ip',
      apiGroup,
      ingress,
    }) {
      const group =
        apiGroup ??
        (loadBalancerControllerInstalled || !autoModeLoadBalancing
          ? API_OF.targetgroupbindings.group
          : AUTO_MODE_TARGET_GROUP_BINDINGS.group);
      const autoModeBinding = group === AUTO_MODE_TARGET_GROUP_BINDINGS.group;
      if (!(autoModeBinding ? autoModeLoadBalancing : loadBalancerControllerInstalled)) {
        throw new Error(
          `simulated API server: ${autoModeBinding ? "Auto Mode's load balancing is off" : 'the load balancer controller is not installed'}, so no TargetGroupBinding can be created in ${group}`,
        );
      }
      const store = autoModeBinding ? autoModeTargetGroupBindings : targetGroupBindings;
      if (store.get(namespace, name)) {
        throw new Error(`simulated API server: TargetGroupBinding ${namespace}/${name} exists in ${group}`);
      }
      const metadata = workloadMetadata(
        namespace,
        name,
        ingress === undefined
          ? undefined
          : { 'ingress.k8s.aws/stack-namespace': namespace, 'ingress.k8s.aws/stack-name': ingress },
      );
      const binding: SimTargetGroupBinding = {
        apiVersion: autoModeBinding ? 'eks.amazonaws.com/v1' : 'elbv2.k8s.aws/v1beta1',
        kind: 'TargetGroupBinding',
        metadata: { ...metadata, finalizers: [`${group}/resources`] },
        spec: {
          targetGroupARN: targetGroupArn,
          targetType,
          serviceRef: { ...service },
          ipAddressType: 'ipv4',
          vpcID: 'vpc-0a1b2c3d4e5f60718',
        },
        status: { observedGeneration: 1 },
      };
      store.put(binding);
      return structuredClone(binding);
    },

    setLoadBalancerControllerInstalled(installed) {
      if (!installed) {
        for (const binding of targetGroupBindings.all())
          targetGroupBindings.delete(binding.metadata.namespace, binding.metadata.name);
        clock.tick();
      }
      loadBalancerControllerInstalled = installed;
    },

    setAutoModeLoadBalancing(enabled) {
      if (!enabled) {
        for (const binding of autoModeTargetGroupBindings.all())
          autoModeTargetGroupBindings.delete(binding.metadata.namespace, binding.metadata.name);
        clock.tick();
      }
      autoModeLoadBalancing = enabled;
    },

    async presentCertificate(certificate) {
      present(
        certificate,
        certificate === 'cluster' ? clusterPair : (await loadImpostorCertificates())[certificate],
      );
    },

    reset() {
      deployments.clear();
      replicaSets.clear();
      certificates.clear();
      statefulSets.clear();
      daemonSets.clear();
      autoscalers.clear();
      ingresses.clear();
      httpRoutes.clear();
      services.clear();
      targetGroupBindings.clear();
      autoModeTargetGroupBindings.clear();
      certManagerInstalled = true;
      gatewayApiInstalled = true;
      loadBalancerControllerInstalled = true;
      autoModeLoadBalancing = false;
      controller.reset();
      builds.clear();
      faults.clear();
      requests.length = 0;
      authFailures.length = 0;
      accessEntry = true;
      denials.length = 0;
      if (presented !== 'cluster') present('cluster', clusterPair);
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

/** Only JSON Patch is accepted (the client sends nothing else); 415 otherwise, as for an unknown patch type. */
function requireJsonPatchMediaType(contentType: string | undefined): void {
  const mediaType = (contentType ?? '').split(';')[0]?.trim();
  if (mediaType !== 'application/json-patch+json') {
    throw new HttpProblem(
      415,
      `the body of the request was in an unknown format - accepted media types include: application/json-patch+json (simulated server), got ${mediaType || 'none'}`,
    );
  }
}

function jsonPatchOf(body: string) {
  const operations = parseJsonPatch(body);
  if (!operations) {
    throw new HttpProblem(
      400,
      'the server rejected our request due to an error in our request: not a JSON Patch',
    );
  }
  return operations;
}

/** A 90-day certificate issued 30 days before `now`, cert-manager's and Let's Encrypt's usual lifetime. */
function defaultIssue(now: Date): NonNullable<AddCertificateOptions['issued']> {
  const notBefore = new Date(now.getTime() - 30 * DAY_MS);
  return { notBefore, notAfter: new Date(notBefore.getTime() + 90 * DAY_MS) };
}

function containerSpecsOf(spec: RevisionSpec): ContainerSpec[] {
  if ('containers' in spec) return spec.containers;
  const images = 'image' in spec ? [spec.image] : spec.images;
  return images.map((image, index) => ({ name: index === 0 ? 'app' : `sidecar-${index}`, image }));
}

function imagesOf(spec: RevisionSpec): string[] {
  return containerSpecsOf(spec).map((container) => container.image);
}

/** Containers as the API server returns them: the given fields, and the ones it defaults. */
function containersOf(specs: ContainerSpec[]) {
  return specs.map(({ name, image, resources }, index) => ({
    name,
    image,
    imagePullPolicy: 'IfNotPresent',
    ports: index === 0 ? [{ containerPort: 8080, protocol: 'TCP' }] : [],
    resources: structuredClone(resources ?? {}),
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  }));
}

function containersFor(spec: RevisionSpec) {
  return containersOf(containerSpecsOf(spec));
}

/** A pod template as the API server returns one, with the pod fields it defaults. */
function podTemplate(labels: Record<string, string>, containers: ContainerSpec[]) {
  return {
    metadata: { creationTimestamp: null, labels: { ...labels } },
    spec: {
      containers: containersOf(containers),
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      securityContext: {},
      schedulerName: 'default-scheduler',
    },
  };
}

/** A 32-bit string hash (Java's), for the controller-revision suffix of a StatefulSet. */
function hashOf(text: string): number {
  let hash = 0;
  for (let index = 0; index < text.length; index += 1)
    hash = (Math.imul(hash, 31) + text.charCodeAt(index)) | 0;
  return hash;
}
