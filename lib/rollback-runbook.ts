import { fileURLToPath } from 'node:url';
import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Policy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { rollbackFunctions } from '../lambdas/rollback/functions';
import type { RollbackSection } from './config/rollback';
import { rollbackRuntime } from './config/rollback';
import type { EksCluster } from './config/shared';
import { nagResource } from './nag-resource';
import { RunbookFunction } from './runbook-function';
import type { RunbookSharedResources } from './runbook-shared-resources';
import { RunbookStateMachine } from './runbook-state-machine';

export interface RollbackRunbookProps {
  /** The shared resources: the Kubernetes role, lock table, lifecycle bus, on-call topic and notifier. */
  readonly shared: RunbookSharedResources;
  /** The `rollback` section of the configuration: mapped alarms, tag-discovery prefixes, timings. */
  readonly settings: RollbackSection;
  /** The clusters and namespaces the runbook may act in (`eksClusters`). */
  readonly clusters: EksCluster[];
  /**
   * The ASL definition (JSONPath), absolute path.
   * @default - `state-machines/rollback.asl.json` in the repository
   */
  readonly definitionPath?: string;
}

/**
 * "Roll back an EKS Deployment when its CloudWatch alarm fires": an EventBridge rule on the default bus
 * (alarm → ALARM, for mapped names and tag-discovery prefixes) starts the workflow, which prepares (maps the
 * alarm, takes the lock, honours the cooldown), undoes the rollout, waits for it, waits for the alarm to
 * recover and pages on-call otherwise. The workflow, its trigger and its alarms are the kit's
 * `RunbookStateMachine`; this construct adds the four Lambdas (`rollbackFunctions`) and their permissions.
 */
export class RollbackRunbook extends Construct {
  /** Maps the alarm to a workload, checks cooldown and lock. */
  public readonly prepareFunction: RunbookFunction;
  /** `kubectl rollout undo` semantics. */
  public readonly undoFunction: RunbookFunction;
  /** Reads the rollout's progress. */
  public readonly rolloutStatusFunction: RunbookFunction;
  /** Reads the alarm's state while waiting for recovery; no Kubernetes access. */
  public readonly alarmStatusFunction: RunbookFunction;
  /** The alarm-status function's own role: it only reads alarms. */
  public readonly alarmStatusRole: Role;
  /** The permissions the rollback Lambdas use, attached to the shared Kubernetes role. */
  public readonly kubernetesRolePolicy: Policy;
  /** The workflow with its trigger (the alarm rule), dead-letter queue and alarms. */
  public readonly workflow: RunbookStateMachine;

  constructor(scope: Construct, id: string, props: RollbackRunbookProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { shared, settings } = props;
    const { environment } = shared;

    const alarmNames = settings.targets.map((target) => target.alarmName);
    const prefixes = settings.tagDiscoveryAlarmPrefixes;
    const runtime = rollbackRuntime({ environment, settings, clusters: props.clusters });

    // The alarms this runbook may read: mapped names exactly, discovered ones by prefix.
    const alarmArn = (resourceName: string): string =>
      stack.formatArn({
        service: 'cloudwatch',
        resource: 'alarm',
        resourceName,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
    const prefixArns = prefixes.map((prefix) => alarmArn(`${prefix}*`));
    const alarmArns = [...alarmNames.map(alarmArn), ...prefixArns];

    // Lambdas ---------------------------------------------------------------------------------------------
    const role = shared.kubernetesRole;
    this.prepareFunction = new RunbookFunction(this, 'PrepareFunction', {
      definition: rollbackFunctions.prepare,
      platform: shared,
      role,
      // ENVIRONMENT_NAME, ROLLBACK_TARGETS, TAG_DISCOVERY_PREFIXES, EKS_CLUSTERS, COOLDOWN_SECONDS and
      // LOCK_TTL_SECONDS (the state machine timeout: a lock outlives no execution).
      environment: { ...runtime.prepareEnvironment, LOCK_TABLE_NAME: shared.lockTable.tableName },
    });
    this.undoFunction = new RunbookFunction(this, 'UndoFunction', {
      definition: rollbackFunctions.undo,
      platform: shared,
      role,
      environment: { LOCK_TABLE_NAME: shared.lockTable.tableName },
    });
    this.rolloutStatusFunction = new RunbookFunction(this, 'RolloutStatusFunction', {
      definition: rollbackFunctions.rolloutStatus,
      platform: shared,
      role,
    });

    this.alarmStatusRole = new Role(this, 'AlarmStatusRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Alarm-status Lambda of the rollback runbook (${environment})`,
    });
    this.alarmStatusRole.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['cloudwatch:DescribeAlarms'], resources: ['*'] }),
    );
    Validations.of(this.alarmStatusRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'cloudwatch:DescribeAlarms (read-only): the function asks for metric and composite alarms, and DescribeAlarms returns composite alarms only to a permission scoped to "*" (CloudWatch API reference). xray:PutTraceSegments/PutTelemetryRecords (active tracing) define no resource types.',
    });
    this.alarmStatusFunction = new RunbookFunction(this, 'AlarmStatusFunction', {
      definition: rollbackFunctions.alarmStatus,
      platform: shared,
      role: this.alarmStatusRole,
    });

    this.kubernetesRolePolicy = new Policy(this, 'KubernetesRolePolicy', {
      statements: [
        new PolicyStatement({
          sid: 'LockAndCooldown',
          actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
          resources: [shared.lockTable.tableArn],
        }),
        new PolicyStatement({
          sid: 'ReadRollbackTargetTags',
          actions: ['cloudwatch:ListTagsForResource'],
          resources: alarmArns,
        }),
      ],
    });
    this.kubernetesRolePolicy.attachToRole(role);
    // The functions must not run before their permissions exist (CDK only orders them after the role's DefaultPolicy).
    for (const fn of [this.prepareFunction, this.undoFunction, this.rolloutStatusFunction]) {
      fn.node.defaultChild?.node.addDependency(this.kubernetesRolePolicy);
    }
    acknowledgePrefixes(this.kubernetesRolePolicy, prefixArns, 'cloudwatch:ListTagsForResource');

    // Workflow --------------------------------------------------------------------------------------------
    this.workflow = new RunbookStateMachine(this, 'Workflow', {
      runbook: 'rollback',
      shared,
      definitionPath:
        props.definitionPath ??
        fileURLToPath(new URL('../state-machines/rollback.asl.json', import.meta.url)),
      functions: [
        this.prepareFunction,
        this.undoFunction,
        this.rolloutStatusFunction,
        this.alarmStatusFunction,
      ],
      // RolloutPollSeconds, RolloutMaxPolls, RecoveryPollSeconds, RecoveryMaxPolls, RecoveryWindowMinutes,
      // CooldownMinutes
      substitutions: runtime.substitutions,
      timeout: Duration.seconds(runtime.stateMachineTimeoutSeconds),
      trigger: {
        kind: 'event',
        description: `Starts the rollback runbook (${environment}) when a mapped alarm enters ALARM`,
        eventPattern: {
          source: ['aws.cloudwatch'],
          detailType: ['CloudWatch Alarm State Change'],
          detail: {
            state: { value: ['ALARM'] },
            alarmName: [...alarmNames, ...prefixes.map((prefix) => ({ prefix }))],
          },
        },
        // A rollback started hours after its alarm would act on a state that has moved on.
        maxEventAge: Duration.hours(2),
      },
    });
  }
}

/** Alarm-name prefixes are wildcards by design: acknowledge each one, on the policy that grants it. */
function acknowledgePrefixes(policy: Policy, prefixArns: string[], action: string): void {
  for (const arn of prefixArns) {
    Validations.of(policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResource(policy, arn)}]`,
      reason: `${action} on the alarms named with a configured tag-discovery prefix (rollback.tagDiscoveryAlarmPrefixes): teams create those alarms after this stack is deployed, so the prefix is the boundary.`,
    });
  }
}
