import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EKSClient } from '@aws-sdk/client-eks';
import { createClusterAccess } from './kubernetes/cluster-access';
import { prepareRollback, type PreparedRun } from './rollback/prepare';
import { kubernetesTimeoutMs, readPrepareSettings } from './rollback/settings';
import { WorkloadLock } from './rollback/workload-lock';
import { requiredEnv } from './shared/env';
import { correlateWithExecution, logger } from './shared/logger';

const settings = readPrepareSettings();
const cloudwatch = new CloudWatchClient({});
const eks = new EKSClient({});
const lock = new WorkloadLock(new DynamoDBClient({}), settings.lockTableName);
const kubernetes = createClusterAccess({
  eks,
  region: requiredEnv('AWS_REGION'),
  credentials: () => eks.config.credentials(),
  timeoutMs: kubernetesTimeoutMs(),
});

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
