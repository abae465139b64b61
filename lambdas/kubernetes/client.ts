// A thin client by hand instead of @kubernetes/client-node: ~1.6 MB bundled vs a few KB for the four calls we make.
import { Agent, request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import * as z from 'zod/mini';
import { parseOrThrow } from '../shared/errors';
import {
  KubernetesApiError,
  KubernetesConflict,
  KubernetesForbidden,
  KubernetesInvalidResponse,
  KubernetesNotFound,
  KubernetesTimeout,
  KubernetesTlsMismatch,
  KubernetesUnauthorized,
  KubernetesUnavailable,
} from './errors';
import {
  certificateListSchema,
  deploymentSchema,
  horizontalPodAutoscalerListSchema,
  httpRouteSchema,
  ingressSchema,
  replicaSetListSchema,
  serviceSchema,
  TARGET_GROUP_BINDING_APIS,
  targetGroupBindingListSchema,
  workloadListSchema,
  type Certificate,
  type Deployment,
  type HorizontalPodAutoscaler,
  type HttpRoute,
  type Ingress,
  type JsonPatchOperation,
  type ReplicaSet,
  type Service,
  type TargetGroupBinding,
  type TargetGroupBindingApi,
  type Workload,
} from './resources';

export interface KubernetesClientOptions {
  /** `https://...` as DescribeCluster returns it. */
  endpoint: string;
  /** Base64 PEM of the cluster CA, as DescribeCluster returns it. */
  caData: string;
  /** Called per request, so a long-lived client never sends an expired token. */
  token: () => Promise<string>;
  /**
   * Called when the server answers 401 to `rejected`: forgets it wherever it is cached and signs a new token, with
   * which the request is sent once more. Without it, a 401 is final.
   */
  renewToken?: (rejected: string) => Promise<string>;
  /** The EKS cluster, named in error messages that say what to check; without it they name the endpoint. */
  clusterName?: string;
  /** Whole request, from connect to the last byte of the answer. */
  timeoutMs: number;
}

export interface KubernetesClient {
  getDeployment(namespace: string, name: string): Promise<Deployment>;
  /** Every ReplicaSet matching the selector, following `continue` pages. */
  listReplicaSets(namespace: string, labelSelector: string): Promise<ReplicaSet[]>;
  /**
   * JSON Patch (RFC 6902); answers the patched Deployment. Also how the canary's replica ratio scales one: a `test`
   * then a `replace` of `/spec/replicas`.
   */
  patchDeployment(namespace: string, name: string, ops: JsonPatchOperation[]): Promise<Deployment>;
  /** A networking.k8s.io/v1 Ingress (the ALB router's annotation lives on it). */
  getIngress(namespace: string, name: string): Promise<Ingress>;
  /**
   * JSON Patch on the Ingress; answers the patched Ingress. A failed `test` op (the object was edited since it was
   * read) is a KubernetesConflict.
   */
  patchIngress(namespace: string, name: string, ops: JsonPatchOperation[]): Promise<Ingress>;
  /**
   * A gateway.networking.k8s.io/v1 HTTPRoute, status included. A cluster that does not serve the resource (the
   * Gateway API CRDs not installed, or without v1) is a KubernetesNotFound that says so.
   */
  getHttpRoute(namespace: string, name: string): Promise<HttpRoute>;
  /** JSON Patch on the HTTPRoute's spec; answers the patched route. A failed `test` op is a KubernetesConflict. */
  patchHttpRoute(namespace: string, name: string, ops: JsonPatchOperation[]): Promise<HttpRoute>;
  /**
   * Every cert-manager Certificate (cert-manager.io/v1) in the namespace, following `continue` pages. A cluster
   * that does not serve the resource (cert-manager not installed) is a KubernetesNotFound that says so.
   */
  listCertificates(namespace: string): Promise<Certificate[]>;
  /** Every Deployment, StatefulSet or DaemonSet (apps/v1) in the namespace, following `continue` pages. */
  listWorkloads(namespace: string, kind: WorkloadResource): Promise<Workload[]>;
  /** Every HorizontalPodAutoscaler (autoscaling/v2) in the namespace, following `continue` pages. */
  listHorizontalPodAutoscalers(namespace: string): Promise<HorizontalPodAutoscaler[]>;
  /** A core/v1 Service: its selector and ports. */
  getService(namespace: string, name: string): Promise<Service>;
  /**
   * Every TargetGroupBinding in the namespace, following `continue` pages: the target group of each Service a load
   * balancer controller serves. Both groups that serve the kind are read, the AWS Load Balancer Controller's
   * (elbv2.k8s.aws/v1beta1) then EKS Auto Mode's (eks.amazonaws.com/v1), since one cluster may run both, each for
   * the Ingresses of its IngressClass. A group the cluster does not serve adds nothing; a cluster that serves
   * neither is a KubernetesNotFound naming both. RBAC must allow `list` in both groups: a 403 in either is a
   * KubernetesForbidden (the API server authorizes a request before it finds the group unserved).
   */
  listTargetGroupBindings(namespace: string): Promise<TargetGroupBinding[]>;
}

/** The apps/v1 workload resources, by their plural. */
export type WorkloadResource = 'deployments' | 'statefulsets' | 'daemonsets';

const PAGE_SIZE = 500;

/** Codes meaning the server was not there to answer: transient, like a 5xx. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

/**
 * Node's codes for a server certificate that does not chain to the CA we trust (OpenSSL's X509_V_ERR names): the
 * leaf signed by another CA, a chain ending in another root, a self-signed certificate, a bad signature.
 */
const UNTRUSTED_CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
]);
/** Node's own check, after the chain verified: the certificate names neither the endpoint's host nor its IP. */
const WRONG_HOST_CODE = 'ERR_TLS_CERT_ALTNAME_INVALID';

/** A Status message is quoted in errors that reach Slack and SNS; a validation failure can run to kilobytes. */
const MAX_STATUS_MESSAGE = 500;

/** The messages of json-patch for a failed `test` op, old and new releases (see statusError). */
const TEST_OP_FAILED = /testing value|test operation does not apply|error in test for path/i;

const statusSchema = z.object({ message: z.optional(z.string()), reason: z.optional(z.string()) });

/** Resets of a reused keep-alive socket: the server had closed it while it sat idle in the pool. */
const staleResets = new WeakSet<Error>();

// One keep-alive agent per cluster, shared by every client of a warm Lambda: TLS handshakes are the slow part.
const agents = new Map<string, Agent>();

function agentFor(endpoint: string, caData: string): Agent {
  const key = `${endpoint}\n${caData}`;
  let agent = agents.get(key);
  if (!agent) {
    agent = new Agent({ keepAlive: true, ca: Buffer.from(caData, 'base64').toString('utf8') });
    agents.set(key, agent);
  }
  return agent;
}

interface Answer {
  status: number;
  body: string;
}

/** A request as RBAC sees it: the verb, the resource and the namespace a 403 is about. */
interface ApiRequest {
  verb: 'get' | 'list' | 'patch';
  resource:
    | 'deployments'
    | 'replicasets'
    | 'certificates'
    | WorkloadResource
    | 'horizontalpodautoscalers'
    | 'ingresses'
    | 'httproutes'
    | 'services'
    | TargetGroupBindingResource;
  namespace: string;
  path: string;
}

/** TargetGroupBindings, qualified: the plural alone does not say which of the two groups serving them was asked. */
type TargetGroupBindingResource = `targetgroupbindings.${TargetGroupBindingApi['group']}`;

/** What the resource is called in messages: apps/v1 kinds by their plural alone, as before; others qualified. */
const RESOURCE_NAMES: Record<ApiRequest['resource'], string> = {
  deployments: 'deployments',
  replicasets: 'replicasets',
  certificates: 'certificates.cert-manager.io',
  statefulsets: 'statefulsets',
  daemonsets: 'daemonsets',
  horizontalpodautoscalers: 'horizontalpodautoscalers.autoscaling',
  ingresses: 'ingresses.networking.k8s.io',
  httproutes: 'httproutes.gateway.networking.k8s.io',
  services: 'services',
  'targetgroupbindings.elbv2.k8s.aws': 'targetgroupbindings.elbv2.k8s.aws',
  'targetgroupbindings.eks.amazonaws.com': 'targetgroupbindings.eks.amazonaws.com',
};

const isTargetGroupBindings = (resource: ApiRequest['resource']): resource is TargetGroupBindingResource =>
  resource.startsWith('targetgroupbindings.');

/** Where a request went, for the messages of the errors that send someone to the cluster's settings. */
type Target = Pick<KubernetesClientOptions, 'endpoint' | 'clusterName'>;

export function createKubernetesClient(options: KubernetesClientOptions): KubernetesClient {
  const base = new URL(options.endpoint);
  const agent = agentFor(options.endpoint, options.caData);

  /** One request; a body is always a JSON Patch, the only write the client makes. */
  function send(method: string, path: string, token: string, body?: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        new URL(path, base),
        {
          method,
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            accept: 'application/json',
            ...(body === undefined
              ? {}
              : {
                  'content-type': 'application/json-patch+json',
                  'content-length': Buffer.byteLength(body).toString(),
                }),
          },
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', fail);
          res.on('end', () => {
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
          });
        },
      );
      const timeout = new KubernetesTimeout(
        `${method} ${path}: no complete answer within ${options.timeoutMs} ms`,
      );
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        req.destroy(timeout);
      }, options.timeoutMs);
      // Destroying the request may surface as an "aborted" reset on the response first: the timeout wins.
      function fail(error: Error) {
        clearTimeout(timer);
        reject(timedOut ? timeout : networkError(method, path, error, req.reusedSocket, options));
      }
      req.on('error', fail);
      req.end(body);
    });
  }

  /** Sends until an answer arrives; a stale kept-alive socket is retried, and only for a GET. */
  async function exchange(method: string, path: string, token: string, body?: string): Promise<Answer> {
    for (;;) {
      try {
        return await send(method, path, token, body);
      } catch (error) {
        // A kept-alive socket the server closed while we were idle (or the Lambda was frozen) resets on reuse;
        // Node's docs advise retrying, which ends once the pool's stale sockets are used up. Only reads: a
        // PATCH may have been applied before the reset.
        if (!(error instanceof Error && staleResets.has(error) && method === 'GET')) throw error;
      }
    }
  }

  async function call(request: ApiRequest, body?: string): Promise<unknown> {
    const method = request.verb === 'patch' ? 'PATCH' : 'GET';
    const { path } = request;
    const token = await options.token();
    let answer = await exchange(method, path, token, body);
    let renewed = false;
    // Authentication runs before the API server handles a request, so a 401 means nothing was applied: sending
    // it again, even the PATCH, is safe (and the undo's patch tests the generation besides).
    if (answer.status === 401 && options.renewToken) {
      answer = await exchange(method, path, await options.renewToken(token), body);
      renewed = true;
    }
    if (answer.status < 200 || answer.status > 299)
      throw statusError(method, request, answer, renewed, options);
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.body);
    } catch (error) {
      throw new KubernetesInvalidResponse(`${method} ${path}: answer ${answer.status} is not JSON`, {
        cause: error,
      });
    }
    return parsed;
  }

  const deploymentPath = (namespace: string, name: string) =>
    `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments/${encodeURIComponent(name)}`;
  const ingressPath = (namespace: string, name: string) =>
    `/apis/networking.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/ingresses/${encodeURIComponent(name)}`;
  const httpRoutePath = (namespace: string, name: string) =>
    `/apis/gateway.networking.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/httproutes/${encodeURIComponent(name)}`;

  /** Every item of a paginated list, page by page: `page(continueToken)` fetches and parses one. */
  async function listAll<T>(
    page: (continueToken: string | undefined) => Promise<{ items: T[]; metadata: { continue?: string } }>,
  ): Promise<T[]> {
    const items: T[] = [];
    let continueToken: string | undefined;
    do {
      const answer = await page(continueToken);
      items.push(...answer.items);
      continueToken = answer.metadata.continue || undefined;
    } while (continueToken);
    return items;
  }

  return {
    async getDeployment(namespace, name) {
      const path = deploymentPath(namespace, name);
      return parseOrThrow(
        deploymentSchema,
        await call({ verb: 'get', resource: 'deployments', namespace, path }),
        `GET ${path} answer`,
        KubernetesInvalidResponse,
      );
    },

    listReplicaSets(namespace, labelSelector) {
      return listAll(async (continueToken) => {
        const query = new URLSearchParams({ labelSelector, limit: String(PAGE_SIZE) });
        if (continueToken) query.set('continue', continueToken);
        const path = `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/replicasets?${query.toString()}`;
        return parseOrThrow(
          replicaSetListSchema,
          await call({ verb: 'list', resource: 'replicasets', namespace, path }),
          `GET ${path} answer`,
          KubernetesInvalidResponse,
        );
      });
    },

    listCertificates(namespace) {
      return listAll(async (continueToken) => {
        const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
        if (continueToken) query.set('continue', continueToken);
        const path = `/apis/cert-manager.io/v1/namespaces/${encodeURIComponent(namespace)}/certificates?${query.toString()}`;
        return parseOrThrow(
          certificateListSchema,
          await call({ verb: 'list', resource: 'certificates', namespace, path }),
          `GET ${path} answer`,
          KubernetesInvalidResponse,
        );
      });
    },

    listWorkloads(namespace, kind) {
      return listAll(async (continueToken) => {
        const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
        if (continueToken) query.set('continue', continueToken);
        const path = `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/${kind}?${query.toString()}`;
        return parseOrThrow(
          workloadListSchema,
          await call({ verb: 'list', resource: kind, namespace, path }),
          `GET ${path} answer`,
          KubernetesInvalidResponse,
        );
      });
    },

    listHorizontalPodAutoscalers(namespace) {
      return listAll(async (continueToken) => {
        const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
        if (continueToken) query.set('continue', continueToken);
        const path = `/apis/autoscaling/v2/namespaces/${encodeURIComponent(namespace)}/horizontalpodautoscalers?${query.toString()}`;
        return parseOrThrow(
          horizontalPodAutoscalerListSchema,
          await call({ verb: 'list', resource: 'horizontalpodautoscalers', namespace, path }),
          `GET ${path} answer`,
          KubernetesInvalidResponse,
        );
      });
    },

    async patchDeployment(namespace, name, ops) {
      const path = deploymentPath(namespace, name);
      const answer = await call(
        { verb: 'patch', resource: 'deployments', namespace, path },
        JSON.stringify(ops),
      );
      return parseOrThrow(deploymentSchema, answer, `PATCH ${path} answer`, KubernetesInvalidResponse);
    },

    async getIngress(namespace, name) {
      const path = ingressPath(namespace, name);
      return parseOrThrow(
        ingressSchema,
        await call({ verb: 'get', resource: 'ingresses', namespace, path }),
        `GET ${path} answer`,
        KubernetesInvalidResponse,
      );
    },

    async patchIngress(namespace, name, ops) {
      const path = ingressPath(namespace, name);
      const answer = await call(
        { verb: 'patch', resource: 'ingresses', namespace, path },
        JSON.stringify(ops),
      );
      return parseOrThrow(ingressSchema, answer, `PATCH ${path} answer`, KubernetesInvalidResponse);
    },

    async getHttpRoute(namespace, name) {
      const path = httpRoutePath(namespace, name);
      return parseOrThrow(
        httpRouteSchema,
        await call({ verb: 'get', resource: 'httproutes', namespace, path }),
        `GET ${path} answer`,
        KubernetesInvalidResponse,
      );
    },

    async getService(namespace, name) {
      const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/services/${encodeURIComponent(name)}`;
      return parseOrThrow(
        serviceSchema,
        await call({ verb: 'get', resource: 'services', namespace, path }),
        `GET ${path} answer`,
        KubernetesInvalidResponse,
      );
    },

    async listTargetGroupBindings(namespace) {
      const bindings: TargetGroupBinding[] = [];
      const unserved: string[] = [];
      for (const { group, version } of TARGET_GROUP_BINDING_APIS) {
        try {
          const listed = await listAll(async (continueToken) => {
            const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
            if (continueToken) query.set('continue', continueToken);
            const path = `/apis/${group}/${version}/namespaces/${encodeURIComponent(namespace)}/targetgroupbindings?${query.toString()}`;
            return parseOrThrow(
              targetGroupBindingListSchema,
              await call({ verb: 'list', resource: `targetgroupbindings.${group}`, namespace, path }),
              `GET ${path} answer`,
              KubernetesInvalidResponse,
            );
          });
          bindings.push(...listed);
        } catch (error) {
          // A namespaced list answers 200 even for a namespace that does not exist: a 404 is the group unserved.
          if (!(error instanceof KubernetesNotFound)) throw error;
          unserved.push(error.message);
        }
      }
      if (unserved.length === TARGET_GROUP_BINDING_APIS.length) {
        throw new KubernetesNotFound(`${unserved.join('; ')}: ${neitherTargetGroupBindingGroup(options)}`);
      }
      return bindings;
    },

    async patchHttpRoute(namespace, name, ops) {
      const path = httpRoutePath(namespace, name);
      const answer = await call(
        { verb: 'patch', resource: 'httproutes', namespace, path },
        JSON.stringify(ops),
      );
      return parseOrThrow(httpRouteSchema, answer, `PATCH ${path} answer`, KubernetesInvalidResponse);
    },
  };
}

function networkError(
  method: string,
  path: string,
  error: Error,
  reusedSocket: boolean,
  target: Target,
): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== undefined && UNAVAILABLE_CODES.has(code)) {
    const mapped = new KubernetesUnavailable(`${method} ${path}: ${code} (${error.message})`, {
      cause: error,
    });
    if (code === 'ECONNRESET' && reusedSocket) staleResets.add(mapped);
    return mapped;
  }
  if (code !== undefined && (UNTRUSTED_CERTIFICATE_CODES.has(code) || code === WRONG_HOST_CODE)) {
    const ca = `the CA DescribeCluster returned${target.clusterName ? ` for EKS cluster ${target.clusterName}` : ''}`;
    const fault =
      code === WRONG_HOST_CODE
        ? `is signed by ${ca} but not issued for ${new URL(target.endpoint).hostname}`
        : `is not signed by ${ca}`;
    return new KubernetesTlsMismatch(
      `${method} ${path}: the certificate of the API server at ${target.endpoint} ${fault} (${code}: ${error.message}). ` +
        "A proxy that intercepts TLS is in the way, or the endpoint is not the cluster's. The handshake failed, so " +
        'the request was not sent and changed nothing.',
      { cause: error },
    );
  }
  // Other TLS failures and DNS are configuration problems, not a server to wait for.
  return new Error(`${method} ${path}: ${error.message}`, { cause: error });
}

function statusError(
  method: string,
  request: ApiRequest,
  answer: Answer,
  renewed: boolean,
  target: Target,
): Error {
  const { status } = answer;
  const message = statusMessage(answer);
  const text = `${method} ${request.path}: ${status}${message ? ` ${message}` : ''}`;
  const cluster = target.clusterName ?? '<cluster>';
  const where = whereIs(target);
  if (status === 404 && request.resource === 'certificates' && request.verb === 'list') {
    // A namespaced list answers 200 even for a namespace that does not exist: a 404 means the type is not served.
    return new KubernetesNotFound(
      `${text}: ${where} does not serve cert-manager's Certificate resource (certificates.cert-manager.io, ` +
        'version v1): cert-manager is not installed there, or its release does not serve v1 (1.0 and later do). ' +
        `Check with kubectl get crd certificates.cert-manager.io against ${where}, or leave the cluster out of ` +
        'certificates.certManagerClusters.',
    );
  }
  if (status === 404 && request.resource === 'httproutes' && !isStatusObject(answer)) {
    // A missing route is a Status naming it; a type the server does not serve is its fallback's plain text.
    return new KubernetesNotFound(
      `${text}: ${where} does not serve the Gateway API HTTPRoute resource (httproutes.gateway.networking.k8s.io, ` +
        'version v1): the Gateway API CRDs are not installed there, or their release does not serve v1 (1.0 and ' +
        `later do). Check with kubectl get crd httproutes.gateway.networking.k8s.io against ${where}.`,
    );
  }
  if (status === 404) return new KubernetesNotFound(text);
  if (status === 409) return new KubernetesConflict(text);
  // A failed JSON Patch `test` op: the object changed between our read and our write. json-patch wrote "Testing
  // value … failed", newer releases "testing value … failed"; a `test` whose path no longer exists (an annotation
  // removed, a backendRef dropped) is "test operation does not apply: is missing path" or "error in test for path".
  if (status === 422 && TEST_OP_FAILED.test(message)) return new KubernetesConflict(text);
  if (status === 401) {
    return new KubernetesUnauthorized(
      `${text}${renewed ? ', again with a newly signed token' : ''}: ${where} does not authenticate this Lambda's ` +
        `role. Its EKS access entry may be missing (aws eks list-access-entries --cluster-name ${cluster}), the ` +
        "cluster's authentication mode may be CONFIG_MAP only, which ignores access entries (aws eks " +
        `describe-cluster --name ${cluster} --query cluster.accessConfig), or the Lambda's clock may be skewed ` +
        '(EKS accepts a token for 15 minutes from its signing time).',
    );
  }
  if (status === 403) {
    // EKS names the principal: `User "arn:aws:sts::…:assumed-role/<role>/<session>" cannot patch resource …`.
    const user = /User "([^"]+)"/.exec(message)?.[1];
    const { verb, resource, namespace } = request;
    const role = `The role${user ? ` (${user})` : ''}`;
    const lacks = `${verb} on ${RESOURCE_NAMES[resource]} in namespace ${namespace} of ${where}`;
    if (resource === 'certificates') {
      // EKS access policies are fixed rule lists naming built-in API groups only; they do not follow the
      // aggregation by which cert-manager extends the `view` ClusterRole. Only RBAC, through a group, does.
      return new KubernetesForbidden(
        `${text}. ${role} lacks Kubernetes RBAC that allows ${lacks}: EKS access policies, AmazonEKSViewPolicy ` +
          "included, grant nothing in cert-manager's API group. Give the role's access entry a Kubernetes group " +
          `(aws eks update-access-entry --cluster-name ${cluster} --principal-arn <role ARN> --kubernetes-groups ` +
          `<group>) and bind the group to the view ClusterRole, which cert-manager extends to its resources, in ` +
          `that namespace (kubectl create rolebinding <name> -n ${namespace} --clusterrole=view --group=<group>).`,
      );
    }
    if (resource === 'httproutes') {
      // Gateway API is a CRD group: no EKS access policy names it, and its CRDs extend no built-in ClusterRole.
      const verbs = verb === 'patch' ? 'get,patch' : 'get';
      return new KubernetesForbidden(
        `${text}. ${role} lacks Kubernetes RBAC that allows ${lacks}: EKS access policies, AmazonEKSEditPolicy ` +
          "included, grant nothing in the Gateway API group. Give the role's access entry a Kubernetes group " +
          `(aws eks update-access-entry --cluster-name ${cluster} --principal-arn <role ARN> --kubernetes-groups ` +
          `<group>), and in that namespace a Role that allows it, bound to the group (kubectl create role <name> ` +
          `-n ${namespace} --verb=${verbs} --resource=httproutes.gateway.networking.k8s.io, then kubectl create ` +
          `rolebinding <name> -n ${namespace} --role=<name> --group=<group>).`,
      );
    }
    if (isTargetGroupBindings(resource)) {
      // Neither group is one of Kubernetes' own, so no EKS access policy names it. Both are read on every cluster,
      // so the Role names both; `kubectl create role` refuses a resource the cluster does not serve, so it is
      // applied as a manifest, which RBAC takes whatever the cluster serves.
      const groups = TARGET_GROUP_BINDING_APIS.map((api) => api.group);
      return new KubernetesForbidden(
        `${text}. ${role} lacks Kubernetes RBAC that allows ${lacks}: EKS access policies, AmazonEKSViewPolicy ` +
          'included, grant nothing in the API groups of TargetGroupBindings (the AWS Load Balancer ' +
          "Controller's and EKS Auto Mode's). In that namespace, bind a Kubernetes group of the role's access " +
          `entry (aws eks describe-access-entry --cluster-name ${cluster} --principal-arn <role ARN> shows its ` +
          `groups) to a Role with the rule {apiGroups: [${groups.join(', ')}], resources: [targetgroupbindings], ` +
          'verbs: [list]}, both groups, since the runbook reads both: apply the Role as a manifest (kubectl ' +
          'create role refuses a resource the cluster does not serve), then kubectl create rolebinding <name> ' +
          `-n ${namespace} --role=<name> --group=<group>.`,
      );
    }
    const policy =
      verb !== 'patch'
        ? 'AmazonEKSViewPolicy to read (AmazonEKSEditPolicy, which the undo needs, includes it)'
        : resource === 'ingresses'
          ? 'AmazonEKSEditPolicy (the canary patches the Ingress)'
          : 'AmazonEKSEditPolicy (the undo patches the Deployment)';
    return new KubernetesForbidden(
      `${text}. ${role} lacks an EKS access entry or access policy that allows ${lacks}: its access entry ` +
        `needs ${policy}, associated with a namespace scope that includes ${namespace} (aws eks ` +
        `list-associated-access-policies --cluster-name ${cluster} --principal-arn <role ARN>).`,
    );
  }
  // 429: API Priority and Fairness shedding load; like a 5xx, worth a retry later, not a failure of the request.
  if (status >= 500 || status === 429) return new KubernetesUnavailable(text);
  return new KubernetesApiError(text, status);
}

/** The cluster as messages name it: by its EKS name when known. */
function whereIs(target: Target): string {
  return target.clusterName ? `EKS cluster ${target.clusterName}` : `the cluster at ${target.endpoint}`;
}

/** Why a cluster serving TargetGroupBindings in neither group cannot have its ALB's target groups found. */
function neitherTargetGroupBindingGroup(target: Target): string {
  const where = whereIs(target);
  const [controller, autoMode] = TARGET_GROUP_BINDING_APIS.map(
    ({ group, version, servedBy }) => `${servedBy}'s (targetgroupbindings.${group}, version ${version})`,
  );
  return (
    `${where} serves TargetGroupBindings in neither API group: it does not serve ${controller}, nor ${autoMode}: ` +
    "the AWS Load Balancer Controller (or its CRDs) is not installed there, and EKS Auto Mode's load balancing " +
    'is not enabled, so nothing makes target groups for an ALB Ingress. Check with kubectl api-resources ' +
    `--api-group=elbv2.k8s.aws and kubectl api-resources --api-group=eks.amazonaws.com against ${where}.`
  );
}

/** Whether the body is a Status object, as the API server answers its errors (a fallback 404 is plain text). */
function isStatusObject(answer: Answer): boolean {
  try {
    return z.safeParse(z.object({ kind: z.literal('Status') }), JSON.parse(answer.body)).success;
  } catch {
    return false;
  }
}

/** The Status object's message, if the body is one (a load balancer may answer HTML instead), bounded. */
function statusMessage(answer: Answer): string {
  let message = '';
  try {
    const status = z.safeParse(statusSchema, JSON.parse(answer.body));
    if (status.success) message = status.data.message ?? status.data.reason ?? '';
  } catch {
    // not JSON: the status code has to speak for itself
  }
  return message.length > MAX_STATUS_MESSAGE ? `${message.slice(0, MAX_STATUS_MESSAGE - 1)}…` : message;
}
