import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { awsClientOptions } from '../../aws/client-options';
import { jsonEnv, requiredEnv } from '../../shared/env';
import { CanaryLock } from '../../workload-lock/canary-lock';
import {
  approversSchema,
  createSigningSecretSource,
  handleSlackApproval,
  type FunctionUrlResponse,
} from '../approval';
import { createSlackResponder } from '../slack-response';

// Slack waits 3 s for the answer: short timeouts and one retry, so a slow call still ends in a sentence.
const clientOptions = {
  ...awsClientOptions({ connectionTimeoutMs: 500, requestTimeoutMs: 1_000 }),
  maxAttempts: 2,
};
const lock = new CanaryLock(new DynamoDBClient(clientOptions), requiredEnv('LOCK_TABLE_NAME'));
const sfn = new SFNClient(clientOptions);
const signingSecret = createSigningSecretSource({
  secrets: new SecretsManagerClient(clientOptions),
  secretId: requiredEnv('SLACK_SIGNING_SECRET_ID'),
});
const approvers = jsonEnv('CANARY_APPROVERS', approversSchema);
// One attempt of 1 s at most, after the decision: a slow Slack costs the clicker their reply, never the decision.
const respond = createSlackResponder({ timeoutMs: 1_000 });

/** The Slack approval endpoint: a Lambda function URL that Slack's Approve and Reject buttons post to. */
export async function handler(event: unknown): Promise<FunctionUrlResponse> {
  return handleSlackApproval(event, { signingSecret, approvers, lock, sfn, respond, now: () => new Date() });
}
