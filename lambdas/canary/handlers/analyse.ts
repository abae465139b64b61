import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { awsClientOptions } from '../../aws/client-options';
import { requiredEnv } from '../../shared/env';
import { correlateWithExecution, logger } from '../../shared/logger';
import { CanaryLock } from '../../workload-lock/canary-lock';
import { analyseStep } from '../analyse';
import type { CanaryRun } from '../run';

const lock = new CanaryLock(new DynamoDBClient(awsClientOptions()), requiredEnv('LOCK_TABLE_NAME'));
const cloudwatch = new CloudWatchClient(awsClientOptions());

export async function handler(event: { run?: { executionArn?: string } }): Promise<CanaryRun> {
  correlateWithExecution(event.run?.executionArn);
  const run = await analyseStep(event, { lock, cloudwatch, now: () => new Date() });
  logger.info('step analysed', {
    action: run.analysis?.action,
    summary: run.analysis?.summary,
    failures: run.failures,
    checks: run.analysis?.checks,
  });
  return run;
}
