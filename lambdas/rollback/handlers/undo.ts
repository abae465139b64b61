import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { clusterAccessFromEnvironment } from '../../kubernetes/lambda-cluster-access';
import { performUndo, type UndoOutcome } from '../perform-undo';
import { WorkloadLock } from '../../workload-lock/workload-lock';
import { requiredEnv } from '../../shared/env';
import { correlateWithExecution, logger } from '../../shared/logger';
import { awsClientOptions } from '../../aws/client-options';

const lock = new WorkloadLock(new DynamoDBClient(awsClientOptions()), requiredEnv('LOCK_TABLE_NAME'));
const kubernetes = clusterAccessFromEnvironment();

export async function handler(event: { execution?: { id?: string } }): Promise<UndoOutcome> {
  correlateWithExecution(event.execution?.id);
  const outcome = await performUndo(event, { kubernetes, lock, now: () => new Date() });
  logger.info('undo finished', { outcome });
  return outcome;
}
