import { Duration, Validations } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { notifySlackFunction } from '../lambdas/notify/functions';
import { RunbookFunction, type RunbookFunctionPlatform } from './runbook-function';

/**
 * The notifier's timeout: Slack's retries may take 4 attempts × 5 s + 8 s of backoff
 * (lambdas/notify/slack-webhook.ts), room for them. Every notify Task's `TimeoutSeconds` is at least this
 * (test/conventions/asl.test.ts).
 */
export const notifierTimeout = Duration.seconds(40);

export interface SlackNotifierProps {
  /** The stack's log settings and network placement. */
  readonly platform: RunbookFunctionPlatform;
  /** Short environment name, shown in every message (ENVIRONMENT_NAME). */
  readonly environment: string;
  /**
   * Name of the Secrets Manager secret holding the incoming-webhook URL (WEBHOOK_SECRET_ID). The secret is
   * expected to be encrypted with the AWS-managed `aws/secretsmanager` key.
   */
  readonly webhookSecretName: string;
  /**
   * Link shown in every message (DASHBOARD_URL).
   * @default - no link
   */
  readonly dashboardUrl?: string;
}

/**
 * The Lambda every runbook calls to post to Slack (Block Kit through an incoming webhook), with its own
 * role: logs, X-Ray and `secretsmanager:GetSecretValue` on the webhook secret, nothing else.
 */
export class SlackNotifier extends Construct {
  /** The notifier function (`notifySlackFunction`: `lambdas/notify/handlers/notify-slack.ts`). */
  public readonly fn: RunbookFunction;
  /** Its execution role. */
  public readonly role: Role;

  constructor(scope: Construct, id: string, props: SlackNotifierProps) {
    super(scope, id);
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Slack notifier of the platform runbooks (${props.environment})`,
    });
    this.fn = new RunbookFunction(this, 'Function', {
      definition: notifySlackFunction,
      platform: props.platform,
      role: this.role,
      timeout: notifierTimeout,
      environment: {
        WEBHOOK_SECRET_ID: props.webhookSecretName,
        ENVIRONMENT_NAME: props.environment,
        ...(props.dashboardUrl !== undefined && { DASHBOARD_URL: props.dashboardUrl }),
      },
    });

    const secret = Secret.fromSecretNameV2(this, 'WebhookSecret', props.webhookSecretName);
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        // A secret's ARN ends in "-" and 6 random characters, unknown here: match exactly those six.
        resources: [`${secret.secretArn}-??????`],
      }),
    );
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Added by active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords define no resource types (Service Authorization Reference), so they cannot be scoped.',
    });
  }
}
