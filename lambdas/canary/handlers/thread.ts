import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { awsClientOptions } from '../../aws/client-options';
import { requiredEnv } from '../../shared/env';
import { correlateWithExecution } from '../../shared/logger';
import { CanaryLock } from '../../workload-lock/canary-lock';
import { slackFromEnvironment } from '../slack';
import { updateThread } from '../thread';

const lock = new CanaryLock(new DynamoDBClient(awsClientOptions()), requiredEnv('LOCK_TABLE_NAME'));
const slack = slackFromEnvironment(process.env, new SecretsManagerClient(awsClientOptions()));
const environment = requiredEnv('ENVIRONMENT_NAME');

export async function handler(event: { run?: { executionArn?: string } }): Promise<unknown> {
  correlateWithExecution(event.run?.executionArn);
  return updateThread(event, { lock, slack, environment, now: () => new Date() });
}
