import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { clusterAccessFromEnvironment } from '../../kubernetes/lambda-cluster-access';
import { prepareRollback, type PreparedRun } from '../prepare';
import { readPrepareSettings } from '../settings';
import { WorkloadLock } from '../../workload-lock/workload-lock';
import { correlateWithExecution, logger } from '../../shared/logger';

const settings = readPrepareSettings();
const cloudwatch = new CloudWatchClient({});
const lock = new WorkloadLock(new DynamoDBClient({}), settings.lockTableName);
const kubernetes = clusterAccessFromEnvironment();

export async function handler(event: { execution?: { id?: string } }): Promise<PreparedRun> {
  correlateWithExecution(event.execution?.id);
  const run = await prepareRollback(event, { settings, cloudwatch, lock, kubernetes, now: () => new Date() });
  logger.info('rollback prepared', {
    decision: run.decision,
    reason: run.reason,
    target: run.target,
    plan: run.plan,
  });
  return run;
}
