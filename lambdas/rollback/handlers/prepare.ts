import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { executionIsRunning } from '../../aws/step-functions';
import { answerApproval } from '../../canary/answer-approval';
import { CanaryLock } from '../../workload-lock/canary-lock';
import { requiredEnv } from '../../shared/env';
import { clusterAccessFromEnvironment } from '../../kubernetes/lambda-cluster-access';
import { prepareRollback, type PreparedRun } from '../prepare';
import { readPrepareSettings } from '../settings';
import { WorkloadLock } from '../../workload-lock/workload-lock';
import { correlateWithExecution, logger } from '../../shared/logger';
import { awsClientOptions } from '../../aws/client-options';

const settings = readPrepareSettings();
const cloudwatch = new CloudWatchClient(awsClientOptions());
const dynamodb = new DynamoDBClient(awsClientOptions());
const lock = new WorkloadLock(dynamodb, settings.lockTableName);
const canaryLock = new CanaryLock(dynamodb, settings.lockTableName);
const kubernetes = clusterAccessFromEnvironment();
const sfn = new SFNClient(awsClientOptions());
const account = requiredEnv('ACCOUNT_ID');
const region = requiredEnv('AWS_REGION');

export async function handler(event: { execution?: { id?: string } }): Promise<PreparedRun> {
  correlateWithExecution(event.execution?.id);
  const run = await prepareRollback(event, {
    settings,
    cloudwatch,
    lock,
    kubernetes,
    executionIsRunning: (arn) => executionIsRunning(sfn, arn),
    rejectCanaryApproval: async (workload, request) => {
      const answer = await answerApproval({
        lock: canaryLock,
        sfn,
        workload,
        decision: 'reject',
        ...request,
      });
      return answer.outcome === 'delivered';
    },
    account,
    region,
    now: () => new Date(),
  });
  logger.info('rollback prepared', {
    decision: run.decision,
    reason: run.reason,
    target: run.target,
    plan: run.plan,
    lockTakenOverFrom: run.lock?.takenOverFrom,
  });
  return run;
}
