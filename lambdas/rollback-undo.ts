import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EKSClient } from '@aws-sdk/client-eks';
import { createClusterAccess } from './kubernetes/cluster-access';
import { performUndo, type UndoOutcome } from './rollback/perform-undo';
import { kubernetesTimeoutMs } from './rollback/settings';
import { WorkloadLock } from './rollback/workload-lock';
import { requiredEnv } from './shared/env';
import { correlateWithExecution, logger } from './shared/logger';

const eks = new EKSClient({});
const lock = new WorkloadLock(new DynamoDBClient({}), requiredEnv('LOCK_TABLE_NAME'));
const kubernetes = createClusterAccess({
  eks,
  region: requiredEnv('AWS_REGION'),
  credentials: () => eks.config.credentials(),
  timeoutMs: kubernetesTimeoutMs(),
});

export async function handler(event: { execution?: { id?: string } }): Promise<UndoOutcome> {
  correlateWithExecution(event.execution?.id);
  const outcome = await performUndo(event, { kubernetes, lock, now: () => new Date() });
  logger.info('undo finished', { outcome });
  return outcome;
}
