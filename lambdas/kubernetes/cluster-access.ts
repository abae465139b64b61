import { DescribeClusterCommand, type EKSClient } from '@aws-sdk/client-eks';
import * as z from 'zod/mini';
import { parseOrThrow, RunbookError } from '../shared/errors';
import { createKubernetesClient, type KubernetesClient } from './client';
import { createEksToken, type EksToken } from './token';

/** The cluster's API server cannot be reached: no endpoint or CA yet, or a status other than ACTIVE/UPDATING. */
export class ClusterUnavailable extends RunbookError {
  override name = 'ClusterUnavailable';
}

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
  }),
});

/**
 * Kubernetes clients per EKS cluster for a warm Lambda: DescribeCluster once per cluster, and one token per
 * cluster reused until it expires, so a warm invocation signs and describes nothing.
 */
export function createClusterAccess({
  eks,
  region,
  credentials,
  timeoutMs,
  now = () => new Date(),
}: ClusterAccessOptions): ClusterAccess {
  const clients = new Map<string, Promise<KubernetesClient>>();
  const tokens = new Map<string, Promise<EksToken>>();

  async function tokenFor(clusterName: string): Promise<string> {
    const cached = tokens.get(clusterName);
    if (cached) {
      const { token, expiresAt } = await cached;
      if (now() < expiresAt) return token;
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
