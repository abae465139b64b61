import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { awsClientOptions } from '../../aws/client-options';
import { requiredEnv } from '../../shared/env';
import { correlateWithExecution, logger } from '../../shared/logger';
import { CanaryLock } from '../../workload-lock/canary-lock';
import { requestApproval } from '../request-approval';
import { slackFromEnvironment } from '../slack';

const lock = new CanaryLock(new DynamoDBClient(awsClientOptions()), requiredEnv('LOCK_TABLE_NAME'));
const slack = slackFromEnvironment(process.env, new SecretsManagerClient(awsClientOptions()));

export async function handler(event: { run?: { executionArn?: string } }): Promise<unknown> {
  correlateWithExecution(event.run?.executionArn);
  const asked = await requestApproval(event, { lock, slack, now: () => new Date() });
  logger.info('approval requested', asked);
  return asked;
}
