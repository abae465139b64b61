import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { awsClientOptions } from '../../aws/client-options';
import { executionIsRunning } from '../../aws/step-functions';
import { clusterAccessFromEnvironment } from '../../kubernetes/lambda-cluster-access';
import { requiredEnv } from '../../shared/env';
import { correlateWithExecution, logger } from '../../shared/logger';
import { CanaryLock } from '../../workload-lock/canary-lock';
import type { CanaryRun } from '../run';
import { startCanary } from '../start';

const lock = new CanaryLock(new DynamoDBClient(awsClientOptions()), requiredEnv('LOCK_TABLE_NAME'));
const kubernetes = clusterAccessFromEnvironment();
const sfn = new SFNClient(awsClientOptions());
const account = requiredEnv('ACCOUNT_ID');
const region = requiredEnv('AWS_REGION');
const lockTtlSeconds = Number(requiredEnv('LOCK_TTL_SECONDS'));

export async function handler(event: { execution?: { id?: string } }): Promise<CanaryRun> {
  correlateWithExecution(event.execution?.id);
  const run = await startCanary(event, {
    lock,
    kubernetes,
    account,
    region,
    lockTtlSeconds,
    executionIsRunning: (arn) => executionIsRunning(sfn, arn),
    now: () => new Date(),
  });
  logger.info('canary started', {
    canaryService: run.service.name,
    steps: run.steps,
    canaryImages: run.canaryImages,
    requestedBy: run.requestedBy,
  });
  return run;
}
