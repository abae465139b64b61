import { EKSClient } from '@aws-sdk/client-eks';
import { createClusterAccess } from './kubernetes/cluster-access';
import { checkRollout, type RolloutCheck } from './rollback/check-rollout';
import { kubernetesTimeoutMs } from './rollback/settings';
import { requiredEnv } from './shared/env';
import { correlateWithExecution, logger } from './shared/logger';

const eks = new EKSClient({});
const kubernetes = createClusterAccess({
  eks,
  region: requiredEnv('AWS_REGION'),
  credentials: () => eks.config.credentials(),
  timeoutMs: kubernetesTimeoutMs(),
});

export async function handler(event: { execution?: { id?: string } }): Promise<RolloutCheck> {
  correlateWithExecution(event.execution?.id);
  const status = await checkRollout(event, { kubernetes, now: () => new Date() });
  logger.info('rollout status', { state: status.state, detail: status.message });
  return status;
}
