import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { RunbookFunction, RunbookFunctionPlatform } from './runbook-function';

/**
 * What every runbook construct receives from the stack besides its own configuration section: the pieces
 * all runbooks share, created once by `RunbooksStack`.
 */
export interface RunbookSharedResources extends RunbookFunctionPlatform {
  /** Short environment name: in resource names and every message. */
  readonly environment: string;
  /** Where runbooks publish their lifecycle (`RunbookStarted`, `RunbookSucceeded`…). */
  readonly eventBus: IEventBus;
  /** Pages on-call when a runbook cannot finish, and receives the runbooks' own alarms. */
  readonly onCallTopic: ITopic;
  /**
   * The key encrypting `onCallTopic`, when the stack created it: publishing needs it.
   * @default - the topic is not encrypted with a key of this stack
   */
  readonly onCallTopicKey?: IKey;
  /** The Slack notifier every workflow calls at its milestones (`${NotifySlackFunctionArn}`). */
  readonly notifier: RunbookFunction;
  /** The workload lock: one item per workload, shared by the runbooks that act on Deployments. */
  readonly lockTable: ITable;
  /** The role with an EKS access entry in each configured cluster, for the Lambdas that talk to Kubernetes. */
  readonly kubernetesRole: IRole;
}
