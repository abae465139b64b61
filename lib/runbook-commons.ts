import type { Construct } from 'constructs';
import type { SharedConfig } from './config/shared';
import { EksRunbookAccess } from './eks-runbook-access';
import { LifecycleEventBus } from './lifecycle-event-bus';
import { OnCallTopic } from './on-call-topic';
import { RunbookLogs } from './runbook-logs';
import { RunbookNetwork } from './runbook-network';
import { RunbookReportsBucket } from './runbook-reports-bucket';
import type { KubernetesStepAccessFactory, RunbookSharedResources } from './runbook-shared-resources';
import { SlackNotifier } from './slack-notifier';
import { WorkloadLockTable } from './workload-lock-table';

/** What every runbook shares, created once per stack. */
export interface RunbookCommons {
  readonly logs: RunbookLogs;
  /** The VPC placement; undefined without a `network` section. */
  readonly network?: RunbookNetwork;
  readonly eventBus: LifecycleEventBus;
  readonly onCall: OnCallTopic;
  readonly slackNotifier: SlackNotifier;
  readonly lockTable: WorkloadLockTable;
  /** The typed handles a runbook construct takes as its `shared` prop. */
  readonly resources: RunbookSharedResources;
}

/**
 * Creates the log settings, the VPC placement, the lifecycle bus, the on-call topic, the Slack notifier and
 * the workload lock table directly in `scope` (the stack), from the shared sections of the configuration,
 * and the factory of the Kubernetes steps' roles, which each runbook calls in its own scope. A
 * function rather than a construct on purpose: their construct paths, so their logical ids, stay what they
 * were before the kit, and an update never replaces the retained lock table or the on-call key.
 */
export function createRunbookCommons(scope: Construct, config: SharedConfig): RunbookCommons {
  const environment = config.environment;
  const logs = new RunbookLogs(scope, 'Logs', { environment, settings: config.logs });
  const network =
    config.network &&
    new RunbookNetwork(scope, 'Network', {
      environment,
      settings: config.network,
      clusters: config.eksClusters,
    });
  const platform = { logs, ...(network && { network }) };
  const eventBus = new LifecycleEventBus(scope, 'LifecycleEventBus', { environment });
  const onCall = new OnCallTopic(scope, 'OnCall', {
    environment,
    existingTopicArn: config.onCall.existingTopicArn,
    existingTopicKeyArn: config.onCall.existingTopicKeyArn,
    emails: config.onCall.emails,
  });
  const slackNotifier = new SlackNotifier(scope, 'SlackNotifier', {
    platform,
    environment,
    webhookSecretName: config.slack.webhookSecretName,
    dashboardUrl: config.dashboardUrl,
  });
  const lockTable = new WorkloadLockTable(scope, 'WorkloadLocks');
  const kubernetesAccess: KubernetesStepAccessFactory = (stepScope, id, options) =>
    new EksRunbookAccess(stepScope, id, {
      ...options,
      clusters:
        options.clusterNames === undefined
          ? config.eksClusters
          : config.eksClusters.filter((cluster) => options.clusterNames?.includes(cluster.name)),
    });
  let reports: RunbookReportsBucket | undefined;
  const reportsBucket = (): RunbookReportsBucket =>
    (reports ??= new RunbookReportsBucket(scope, 'Reports', { environment }));
  return {
    logs,
    ...(network && { network }),
    eventBus,
    onCall,
    slackNotifier,
    lockTable,
    resources: {
      ...platform,
      environment,
      eventBus: eventBus.bus,
      onCallTopic: onCall.topic,
      onCallTopicKey: onCall.key,
      notifier: slackNotifier.fn,
      lockTable: lockTable.table,
      kubernetesAccess,
      reportsBucket,
    },
  };
}
