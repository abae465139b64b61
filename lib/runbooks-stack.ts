import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { CanaryRunbook } from './canary-runbook';
import { CertificateCheckRunbook } from './certificate-check-runbook';
import type { Construct } from 'constructs';
import type { RunbooksConfig } from './config/schema';
import type { LifecycleEventBus } from './lifecycle-event-bus';
import type { OnCallTopic } from './on-call-topic';
import { RestoreTestRunbook } from './restore-test-runbook';
import { RightsizingReportRunbook } from './rightsizing-report-runbook';
import { RollbackRunbook } from './rollback-runbook';
import { createRunbookCommons } from './runbook-commons';
import type { RunbookLogs } from './runbook-logs';
import type { RunbookNetwork } from './runbook-network';
import type { SlackNotifier } from './slack-notifier';
import type { WorkloadLockTable } from './workload-lock-table';

export interface RunbooksStackProps extends StackProps {
  /** The validated configuration (`loadConfig`). */
  readonly config: RunbooksConfig;
}

/**
 * The runbooks and what they share: the log settings, the VPC placement, the lifecycle bus, the on-call
 * topic, the Slack notifier and the workload lock table; each runbook creates its Kubernetes steps' roles
 * and access entries through the shared factory. `env` defaults to the configuration's account and region
 * (both optional: without them the stack is environment-agnostic).
 */
export class RunbooksStack extends Stack {
  /** Retention and key of every log group. */
  public readonly logs: RunbookLogs;
  /** The VPC placement; undefined without a `network` section. */
  public readonly network?: RunbookNetwork;
  public readonly eventBus: LifecycleEventBus;
  public readonly onCall: OnCallTopic;
  public readonly slackNotifier: SlackNotifier;
  public readonly lockTable: WorkloadLockTable;
  /** Deployed when the configuration has a `rollback` section. */
  public readonly rollback?: RollbackRunbook;
  /** Deployed when the configuration has a `certificates` section. */
  public readonly certificates?: CertificateCheckRunbook;
  /** Deployed when the configuration has a `restoreTests` section (which needs `network`). */
  public readonly restoreTests?: RestoreTestRunbook;
  /** Deployed when the configuration has a `rightsizing` section. */
  public readonly rightsizing?: RightsizingReportRunbook;
  /** Deployed when the configuration has a `canary` section. */
  public readonly canary?: CanaryRunbook;

  constructor(scope: Construct, id: string, props: RunbooksStackProps) {
    const { config, ...stackProps } = props;
    super(scope, id, {
      description: `Platform runbooks (${config.environment}): Step Functions workflows started by EventBridge`,
      env: { account: config.account, region: config.region },
      ...stackProps,
    });

    const commons = createRunbookCommons(this, config);
    this.logs = commons.logs;
    if (commons.network) this.network = commons.network;
    this.eventBus = commons.eventBus;
    this.onCall = commons.onCall;
    this.slackNotifier = commons.slackNotifier;
    this.lockTable = commons.lockTable;
    const shared = commons.resources;

    // Each runbook receives the shared resources and its own configuration section, nothing more.
    if (config.rollback) {
      this.rollback = new RollbackRunbook(this, 'RollbackRunbook', {
        shared,
        settings: config.rollback,
        clusters: config.eksClusters,
      });
    }

    if (config.certificates) {
      this.certificates = new CertificateCheckRunbook(this, 'CertificateCheckRunbook', {
        shared,
        settings: config.certificates,
        clusters: config.eksClusters,
      });
    }

    if (config.restoreTests) {
      this.restoreTests = new RestoreTestRunbook(this, 'RestoreTestRunbook', {
        shared,
        settings: config.restoreTests,
      });
    }

    if (config.rightsizing) {
      this.rightsizing = new RightsizingReportRunbook(this, 'RightsizingReportRunbook', {
        shared,
        settings: config.rightsizing,
        clusters: config.eksClusters,
      });
    }

    if (config.canary) {
      this.canary = new CanaryRunbook(this, 'CanaryRunbook', {
        shared,
        settings: config.canary,
        clusters: config.eksClusters,
        webhookSecretName: config.slack.webhookSecretName,
        slackApp: config.slack.app,
      });
    }

    // Once every function exists: the endpoints follow what the VPC-placed ones reach.
    commons.network?.createEndpoints();

    new CfnOutput(this, 'LifecycleEventBusName', {
      description: 'Custom EventBridge bus the runbooks publish their lifecycle to',
      value: this.eventBus.bus.eventBusName,
    });
    new CfnOutput(this, 'WorkloadLockTableName', {
      description:
        'DynamoDB table of the workload locks (rollback, canary) and of the canary status: `npm run canary -- status|approve|reject|abort --table <this>`',
      value: this.lockTable.table.tableName,
    });
    new CfnOutput(this, 'OnCallTopicArn', {
      description: 'SNS topic that pages on-call',
      value: this.onCall.topic.topicArn,
    });
    if (this.network?.functionSecurityGroup) {
      new CfnOutput(this, 'FunctionSecurityGroupId', {
        description:
          "Security group of the runbooks' Lambdas: the source to admit on 443 at a cluster's endpoint",
        value: this.network.functionSecurityGroup.securityGroupId,
      });
    }
    if (this.certificates) {
      new CfnOutput(this, 'CertificateCheckStateMachineArn', {
        description: 'State machine of the certificate check',
        value: this.certificates.workflow.stateMachine.stateMachineArn,
      });
    }
    if (this.restoreTests) {
      new CfnOutput(this, 'RestoreTestStateMachineArn', {
        description: 'State machine of the backup-restore test (and its janitor)',
        value: this.restoreTests.workflow.stateMachine.stateMachineArn,
      });
    }
    if (this.rightsizing) {
      new CfnOutput(this, 'RightsizingStateMachineArn', {
        description: 'State machine of the cost right-sizing report',
        value: this.rightsizing.workflow.stateMachine.stateMachineArn,
      });
    }
    // One bucket per stack, created by the first runbook that writes reports.
    const reports = this.certificates?.reports ?? this.restoreTests?.reports ?? this.rightsizing?.reports;
    if (reports) {
      new CfnOutput(this, 'ReportsBucketName', {
        description:
          "Bucket of the runbooks' reports (certificate-check/reports/…, restore-test/reports/…, rightsizing/reports/…)",
        value: reports.bucket.bucketName,
      });
    }
    if (this.rollback) {
      new CfnOutput(this, 'RollbackStateMachineArn', {
        description: 'State machine of the rollback runbook',
        value: this.rollback.workflow.stateMachine.stateMachineArn,
      });
    }
    if (this.canary) {
      new CfnOutput(this, 'CanaryStateMachineArn', {
        description: 'State machine of the canary promotion',
        value: this.canary.workflow.stateMachine.stateMachineArn,
      });
    }
    if (this.canary?.approvalUrl) {
      new CfnOutput(this, 'CanaryApprovalUrl', {
        description: "The canary's Slack approval endpoint: the Slack app's Interactivity Request URL",
        value: this.canary.approvalUrl.url,
      });
    }
  }
}
