import { fileURLToPath } from 'node:url';
import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Policy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { rollbackFunctions } from '../lambdas/rollback/functions';
import type { RollbackSection } from './config/rollback';
import { rollbackRuntime } from './config/rollback';
import type { EksCluster } from './config/shared';
import type { EksRunbookAccess } from './eks-runbook-access';
import { nagResource } from './nag-resource';
import { RunbookFunction } from './runbook-function';
import type { RunbookSharedResources } from './runbook-shared-resources';
import { RunbookStateMachine } from './runbook-state-machine';

export interface RollbackRunbookProps {
  /** The shared resources: the Kubernetes access factory, lock table, lifecycle bus, on-call topic, notifier. */
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
 * `RunbookStateMachine`; this construct adds the four Lambdas (`rollbackFunctions`), each with its own role
 * and only the permissions it uses.
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
  /** Prepare's role, with a `view` access entry per cluster: it reads the Deployment to plan the undo. */
  public readonly prepareAccess: EksRunbookAccess;
  /** Undo's role, with an `edit` access entry per cluster: the only step that patches a Deployment. */
  public readonly undoAccess: EksRunbookAccess;
  /** Rollout status's role, with a `view` access entry per cluster. */
  public readonly rolloutStatusAccess: EksRunbookAccess;
  /**
   * Prepare's AWS permissions: the lock, the target alarms and their tags, the lock holder's execution, and the
   * rejection of a canary's pending approval (the alarm aborts a canary that waits for a person).
   */
  public readonly preparePolicy: Policy;
  /** Undo's AWS permissions: recording the rollback in the lock table. */
  public readonly undoPolicy: Policy;
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
    const lockHolderExecutions = stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `platform-runbooks-${environment}-*:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    // A canary of the workload waiting for approval is aborted by rejecting that approval: only the canary
    // state machine of this environment issues those tokens.
    const canaryStateMachine = stack.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: `platform-runbooks-${environment}-canary`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    // Lambdas ---------------------------------------------------------------------------------------------
    // Each Kubernetes step runs as its own role, with the least EKS access policy and AWS permissions it uses.
    this.prepareAccess = shared.kubernetesAccess(this, 'PrepareAccess', {
      accessLevel: 'view',
      description: `Rollback prepare Lambda (${environment}): reads alarms, the lock and Deployments`,
    });
    this.undoAccess = shared.kubernetesAccess(this, 'UndoAccess', {
      accessLevel: 'edit',
      description: `Rollback undo Lambda (${environment}): patches Deployments, records the rollback`,
    });
    this.rolloutStatusAccess = shared.kubernetesAccess(this, 'RolloutStatusAccess', {
      accessLevel: 'view',
      description: `Rollback rollout-status Lambda (${environment}): reads Deployments`,
    });

    this.preparePolicy = new Policy(this, 'PreparePolicy', {
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
        // The alarm's current state and configuration; "*" because DescribeAlarms returns composite alarms
        // only to a permission on "*" (CloudWatch API reference).
        new PolicyStatement({
          sid: 'ReadAlarms',
          actions: ['cloudwatch:DescribeAlarms'],
          resources: ['*'],
        }),
        // Whether the execution holding a lock still runs (a stale lock is taken over). Any runbook of
        // this environment may hold it, so the executions of every state machine named for it.
        new PolicyStatement({
          sid: 'ReadLockHolderExecutions',
          actions: ['states:DescribeExecution'],
          resources: [lockHolderExecutions],
        }),
        new PolicyStatement({
          sid: 'RejectCanaryApproval',
          actions: ['states:SendTaskFailure'],
          resources: [canaryStateMachine],
        }),
      ],
    });
    this.preparePolicy.attachToRole(this.prepareAccess.role);
    acknowledgePrefixes(this.preparePolicy, prefixArns, 'cloudwatch:ListTagsForResource');
    Validations.of(this.preparePolicy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResource(this.preparePolicy, lockHolderExecutions)}]`,
      reason: `states:DescribeExecution (read-only) on the executions of the state machines named platform-runbooks-${environment}-*: the lock holder may be any runbook of this environment, and execution names are generated per run.`,
    });
    Validations.of(this.preparePolicy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only cloudwatch:DescribeAlarms (read-only) uses Resource "*": prepare reads the alarm that fired, metric or composite, and DescribeAlarms returns composite alarms only to a permission scoped to "*" (CloudWatch API reference).',
    });
    // recordRollback is the undo's only lock call: a conditional UpdateItem, no read.
    this.undoPolicy = new Policy(this, 'UndoPolicy', {
      statements: [
        new PolicyStatement({
          sid: 'RecordRollback',
          actions: ['dynamodb:UpdateItem'],
          resources: [shared.lockTable.tableArn],
        }),
      ],
    });
    this.undoPolicy.attachToRole(this.undoAccess.role);

    this.prepareFunction = new RunbookFunction(this, 'PrepareFunction', {
      definition: rollbackFunctions.prepare,
      platform: shared,
      role: this.prepareAccess.role,
      // ENVIRONMENT_NAME, ROLLBACK_TARGETS, TAG_DISCOVERY_PREFIXES, EKS_CLUSTERS, COOLDOWN_SECONDS and
      // LOCK_TTL_SECONDS (the state machine timeout: a lock outlives no execution).
      // ACCOUNT_ID: prepare acts only on alarm events of this account (resolved at deploy).
      environment: {
        ...runtime.prepareEnvironment,
        LOCK_TABLE_NAME: shared.lockTable.tableName,
        ACCOUNT_ID: stack.account,
      },
    });
    this.undoFunction = new RunbookFunction(this, 'UndoFunction', {
      definition: rollbackFunctions.undo,
      platform: shared,
      role: this.undoAccess.role,
      environment: { LOCK_TABLE_NAME: shared.lockTable.tableName },
    });
    this.rolloutStatusFunction = new RunbookFunction(this, 'RolloutStatusFunction', {
      definition: rollbackFunctions.rolloutStatus,
      platform: shared,
      role: this.rolloutStatusAccess.role,
    });
    // The functions must not run before their permissions exist (CDK only orders them after the role's
    // DefaultPolicy); the access entries wait for the functions, which prove the roles have propagated.
    this.prepareFunction.node.defaultChild?.node.addDependency(this.preparePolicy);
    this.undoFunction.node.defaultChild?.node.addDependency(this.undoPolicy);
    this.prepareAccess.createEntriesAfter(this.prepareFunction);
    this.undoAccess.createEntriesAfter(this.undoFunction);
    this.rolloutStatusAccess.createEntriesAfter(this.rolloutStatusFunction);

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
      // RolloutPollSeconds, RolloutTimeoutSeconds, RecoveryPollSeconds (the recovery window and cooldown are
      // per target, in Prepare's answer)
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
