import { EKSClient } from '@aws-sdk/client-eks';
import * as z from 'zod/mini';
import { awsClientOptions } from '../aws/client-options';
import { parseOrThrow } from '../shared/errors';
import { InvalidSetting, requiredEnv } from '../shared/env';
import { createClusterAccess, type ClusterAccess } from './cluster-access';

const milliseconds = z.pipe(
  z.string().check(z.regex(/^[1-9]\d*$/, 'must be a whole number of milliseconds')),
  z.transform(Number),
);

const placement = z.enum(['vpc', 'outside-vpc'], {
  error: (issue) =>
    `must be "vpc" or "outside-vpc", as the stack sets it; ${issue.input === undefined ? 'it is not set' : `got ${JSON.stringify(issue.input)}`}`,
});

/**
 * Cluster access for a runbook Lambda, created once at module scope: an EKS client with the shared timeouts, the
 * function's own credentials (its role has the EKS access entry), its region, and the per-call timeout (default 5 s, so a hung API server fails the
 * call well inside the Lambda timeout and the state machine's retry can take over), and where the stack placed
 * the function (`NETWORK_PLACEMENT`), required so an endpoint it cannot reach is refused by name.
 */
export function clusterAccessFromEnvironment(env: NodeJS.ProcessEnv = process.env): ClusterAccess {
  const eks = new EKSClient(awsClientOptions());
  return createClusterAccess({
    eks,
    region: requiredEnv('AWS_REGION', env),
    credentials: () => eks.config.credentials(),
    timeoutMs: parseOrThrow(
      milliseconds,
      env.KUBERNETES_TIMEOUT_MS ?? '5000',
      'KUBERNETES_TIMEOUT_MS',
      InvalidSetting,
    ),
    placement: parseOrThrow(placement, env.NETWORK_PLACEMENT, 'NETWORK_PLACEMENT', InvalidSetting),
  });
}
