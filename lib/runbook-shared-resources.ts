import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { EksRunbookAccess, EksStepAccessOptions } from './eks-runbook-access';
import type { RunbookFunction, RunbookFunctionPlatform } from './runbook-function';
import type { RunbookReportsBucket } from './runbook-reports-bucket';

/**
 * Creates, in `scope`, the role of one runbook step that talks to Kubernetes, with an access entry at the
 * step's level in every configured cluster (`eksClusters`), scoped to that cluster's namespaces.
 */
export type KubernetesStepAccessFactory = (
  scope: Construct,
  id: string,
  options: EksStepAccessOptions,
) => EksRunbookAccess;

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
   * The key encrypting `onCallTopic`: created with it, or `onCall.existingTopicKeyArn`. Publishing needs it.
   * @default - the topic is not encrypted with a customer managed key
   */
  readonly onCallTopicKey?: IKey;
  /** The Slack notifier every workflow calls at its milestones (`${NotifySlackFunctionArn}`). */
  readonly notifier: RunbookFunction;
  /** The workload lock: one item per workload, shared by the runbooks that act on Deployments. */
  readonly lockTable: ITable;
  /**
   * Gives a Kubernetes step its own role and access entries (`EksRunbookAccess`): one per step, with the
   * least access level it needs. The runbook attaches the step's AWS permissions and calls
   * `createEntriesAfter` with the step's function.
   */
  readonly kubernetesAccess: KubernetesStepAccessFactory;
  /**
   * The stack's reports bucket, created by the first call (a stack whose runbooks write no report has none).
   * Each runbook keeps to its own prefix and grants its steps only that.
   */
  readonly reportsBucket: () => RunbookReportsBucket;
}
