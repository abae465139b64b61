import { clusterAccessFromEnvironment } from '../../kubernetes/lambda-cluster-access';
import { checkRollout, type RolloutCheck } from '../check-rollout';
import { correlateWithExecution, logger } from '../../shared/logger';

const kubernetes = clusterAccessFromEnvironment();

export async function handler(event: { execution?: { id?: string } }): Promise<RolloutCheck> {
  correlateWithExecution(event.execution?.id);
  const status = await checkRollout(event, { kubernetes, now: () => new Date() });
  logger.info('rollout status', { state: status.state, detail: status.message });
  return status;
}
