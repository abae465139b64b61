import { DescribeClusterCommand, type EKSClient } from '@aws-sdk/client-eks';
import * as z from 'zod/mini';
import { parseOrThrow, RunbookError } from '../shared/errors';
import { createKubernetesClient, type KubernetesClient } from './client';
import { createEksToken, type EksToken } from './token';

/** The cluster's API server cannot be reached: no endpoint or CA yet, or a status other than ACTIVE/UPDATING. */
export class ClusterUnavailable extends RunbookError {
  override name = 'ClusterUnavailable';
}

/**
 * The cluster's API endpoint is one this Lambda cannot reach from where it runs (a private-only endpoint, or a
 * public one restricted to source CIDRs, from outside a VPC): a configuration problem no retry fixes.
 */
export class ClusterEndpointUnreachable extends RunbookError {
  override name = 'ClusterEndpointUnreachable';
}

/** Where the Lambda runs, as the stack placed it (`NETWORK_PLACEMENT`, lib/config/network.ts). */
export type NetworkPlacement = 'vpc' | 'outside-vpc';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** Set by the SDK for temporary credentials; a token signed with them dies with them. */
  expiration?: Date;
}

export interface ClusterAccessOptions {
  eks: EKSClient;
  region: string;
  /** Production passes `() => eks.config.credentials()`. */
  credentials: () => Promise<AwsCredentials>;
  timeoutMs: number;
  /** Outside a VPC only a public endpoint open to any address is reachable; inside one, anything may be. */
  placement: NetworkPlacement;
  now?: () => Date;
}

export interface ClusterAccess {
  clientFor(clusterName: string): Promise<KubernetesClient>;
}

// "Your cluster continues to function during the update" (EKS UpdateClusterVersion API reference), so UPDATING is
// usable; an incident rollback must not wait for a control-plane upgrade.
const USABLE_STATUSES = new Set(['ACTIVE', 'UPDATING']);

const describeClusterSchema = z.object({
  cluster: z.object({
    status: z.string(),
    endpoint: z.optional(z.string()),
    certificateAuthority: z.optional(z.object({ data: z.optional(z.string()) })),
    // EKS always returns these; absent is read as unknown, and unknown is never refused.
    resourcesVpcConfig: z.optional(
      z.object({
        endpointPublicAccess: z.optional(z.boolean()),
        endpointPrivateAccess: z.optional(z.boolean()),
        publicAccessCidrs: z.optional(z.array(z.string())),
      }),
    ),
  }),
});

type EndpointAccess = NonNullable<z.output<typeof describeClusterSchema>['cluster']['resourcesVpcConfig']>;

const ANY_ADDRESS = '0.0.0.0/0';

/**
 * Refuses an endpoint this Lambda cannot reach, so the run stops with what to change instead of timing out
 * against an address it has no route to. Inside a VPC nothing is refused: the private endpoint may be on, or
 * the NAT gateway's address may be in the public endpoint's list, and DescribeCluster cannot tell which.
 */
function checkReachable(clusterName: string, placement: NetworkPlacement, access: EndpointAccess = {}): void {
  if (placement === 'vpc') return;
  const { endpointPublicAccess, publicAccessCidrs } = access;
  if (endpointPublicAccess === false) {
    throw new ClusterEndpointUnreachable(
      `EKS cluster ${clusterName} has a private-only API endpoint, and this Lambda runs outside a VPC: set \`network\` in the configuration so the runbooks run in the cluster's VPC (docs/runbooks/rollback.md, Private clusters)`,
    );
  }
  if (endpointPublicAccess === true && publicAccessCidrs && !publicAccessCidrs.includes(ANY_ADDRESS)) {
    const allowed = publicAccessCidrs.length ? publicAccessCidrs.join(', ') : 'no address';
    throw new ClusterEndpointUnreachable(
      `EKS cluster ${clusterName} has its public API endpoint restricted to ${allowed}, and a Lambda outside a VPC has no fixed source address: set \`network\` in the configuration so the runbooks run in a VPC whose NAT gateway's address is in that list, or in the cluster's VPC with its private endpoint on (docs/runbooks/rollback.md, Private clusters)`,
    );
  }
}

/**
 * Kubernetes clients per EKS cluster for a warm Lambda: DescribeCluster once per cluster, and one token per
 * cluster reused until it expires or the cluster refuses it (a 401: the client then asks for a new one and sends
 * the request once more), so a warm invocation signs and describes nothing.
 */
export function createClusterAccess({
  eks,
  region,
  credentials,
  timeoutMs,
  placement,
  now = () => new Date(),
}: ClusterAccessOptions): ClusterAccess {
  const clients = new Map<string, Promise<KubernetesClient>>();
  const tokens = new Map<string, Promise<EksToken>>();

  /** The cluster's cached token while it lasts; `rejected` (refused with a 401) is dropped, not reused. */
  async function tokenFor(clusterName: string, rejected?: string): Promise<string> {
    const cached = tokens.get(clusterName);
    if (cached) {
      const { token, expiresAt } = await cached;
      // One a concurrent 401 already renewed is not the rejected token: requests refused together sign once.
      if (token !== rejected && now() < expiresAt) return token;
    }
    const fresh = signToken(clusterName);
    tokens.set(clusterName, fresh);
    fresh.catch(() => tokens.delete(clusterName));
    return (await fresh).token;
  }

  async function signToken(clusterName: string): Promise<EksToken> {
    const { accessKeyId, secretAccessKey, sessionToken, expiration } = await credentials();
    const token = await createEksToken({
      clusterName,
      region,
      credentials: { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) },
      now: now(),
    });
    if (expiration && expiration < token.expiresAt) return { ...token, expiresAt: expiration };
    return token;
  }

  async function connect(clusterName: string): Promise<KubernetesClient> {
    const answer = await eks.send(new DescribeClusterCommand({ name: clusterName }));
    const { cluster } = parseOrThrow(
      describeClusterSchema,
      answer,
      `DescribeCluster ${clusterName} answer`,
      ClusterUnavailable,
    );
    // First: waiting for the cluster would not fix this, and nothing is signed or sent before it.
    checkReachable(clusterName, placement, cluster.resourcesVpcConfig);
    if (!USABLE_STATUSES.has(cluster.status)) {
      throw new ClusterUnavailable(`EKS cluster ${clusterName} is ${cluster.status}, not ACTIVE`);
    }
    const caData = cluster.certificateAuthority?.data;
    if (!cluster.endpoint || !caData) {
      throw new ClusterUnavailable(
        `EKS cluster ${clusterName} (${cluster.status}) has no ${cluster.endpoint ? 'certificate authority' : 'endpoint'} yet`,
      );
    }
    return createKubernetesClient({
      endpoint: cluster.endpoint,
      caData,
      token: () => tokenFor(clusterName),
      renewToken: (rejected) => tokenFor(clusterName, rejected),
      clusterName,
      timeoutMs,
    });
  }

  return {
    clientFor(clusterName) {
      let client = clients.get(clusterName);
      if (!client) {
        client = connect(clusterName);
        clients.set(clusterName, client);
        // A failed describe is not cached: the next invocation asks again.
        client.catch(() => clients.delete(clusterName));
      }
      return client;
    },
  };
}
