import { ArnFormat, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CONTROL_TOWER_MIN_RETENTION_DAYS, type LogSettings } from './config/network';
import { restrictGrantsToAwsServices } from './kms-key-policy';

export interface RunbookLogsProps {
  /** Short environment name, in the key's alias and description. */
  readonly environment: string;
  /** The `logs` section: retention, and an existing key to use instead of creating one. */
  readonly settings: LogSettings;
}

/**
 * How every log group of the stack is kept (Lambda and state machine logs): the configured retention, and
 * encryption with a customer managed key whose policy lets CloudWatch Logs use it for this account's log
 * groups only (Control Tower CT.CLOUDWATCH.PR.2 and PR.3). `RunbookFunction` and `RunbookStateMachine`
 * create their log groups with `createLogGroup`.
 */
export class RunbookLogs extends Construct {
  /** Retention of every log group. */
  public readonly retention: RetentionDays;
  /** The key encrypting every log group. */
  public readonly key: IKey;

  constructor(scope: Construct, id: string, props: RunbookLogsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    // RetentionDays' values are the day counts themselves.
    this.retention = props.settings.retentionDays as RetentionDays;
    if (props.settings.kmsKeyArn !== undefined) {
      this.key = Key.fromKeyArn(this, 'Key', props.settings.kmsKeyArn);
      return;
    }
    const key = new Key(this, 'Key', {
      description: `Encrypts the platform-runbooks log groups (${props.environment})`,
      alias: `alias/platform-runbooks-${props.environment}-logs`,
      enableKeyRotation: true,
    });
    // CloudWatch Logs uses the key as its regional service principal, for log groups of this account only
    // (CloudWatch Logs user guide, "Encrypt log data using AWS KMS").
    key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchLogsForThisAccountsLogGroups',
        principals: [new ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
              service: 'logs',
              resource: 'log-group',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    restrictGrantsToAwsServices(key);
    this.key = key;
  }

  /**
   * A log group with this retention and key, removed with the stack: logs of a torn-down stack are noise;
   * the runbooks' record of what they did is the event bus archive. A retention below Control Tower's year
   * (CT.CLOUDWATCH.PR.2) is the configuration's choice, acknowledged with that reason.
   */
  createLogGroup(scope: Construct, id: string, logGroupName?: string): LogGroup {
    const logGroup = new LogGroup(scope, id, {
      ...(logGroupName !== undefined && { logGroupName }),
      retention: this.retention,
      encryptionKey: this.key,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    if (this.retention < CONTROL_TOWER_MIN_RETENTION_DAYS) {
      Validations.of(logGroup).acknowledge({
        id: 'cdk-validator-cfnguard::cloudwatch_log_group_retention_period_check',
        reason: `logs.retentionDays is ${this.retention} in the configuration, below Control Tower's ${CONTROL_TOWER_MIN_RETENTION_DAYS} days (CT.CLOUDWATCH.PR.2), by the team's choice; an account that enforces that control refuses this stack.`,
      });
    }
    return logGroup;
  }
}
