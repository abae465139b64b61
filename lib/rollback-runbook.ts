import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import { type IRole, Policy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { rollbackRuntime } from './config/rollback-runtime';
import type { RunbooksConfig } from './config/schema';
import { RunbookFunction } from './runbook-function';
import { StateMachineAlarms } from './state-machine-alarms';

export interface RollbackRunbookProps {
  /**
   * The validated configuration: the environment, `rollback` (mapped alarms, tag-discovery prefixes, timings)
   * and `eksClusters` (where the prepare function may act), turned into settings by `rollbackRuntime`.
   */
  readonly config: RunbooksConfig;
  /**
   * The role shared by the Lambdas that talk to Kubernetes (`EksRunbookAccess.role`); this runbook attaches
   * the AWS permissions its Lambdas need to it.
   */
  readonly kubernetesRole: IRole;
  /** Holds the rollback cooldown and the workload lock. */
  readonly lockTable: ITable;
  /** Where the runbook publishes its lifecycle (`RollbackPerformed`…). */
  readonly eventBus: IEventBus;
  /** Pages on-call when the runbook cannot finish, and receives the runbook's own alarms. */
  readonly onCallTopic: ITopic;
  /**
   * The key encrypting `onCallTopic`, when the stack created it: publishing needs it.
   * @default - the topic is not encrypted with a key of this stack
   */
  readonly onCallTopicKey?: IKey;
  /** The Slack notifier Lambda the workflow calls at each milestone. */
  readonly notifier: IFunction;
  /**
   * The ASL definition (JSONPath), absolute path.
   * @default - `state-machines/rollback.asl.json` in the repository
   */
  readonly definitionPath?: string;
}

/**
 * "Roll back an EKS Deployment when its CloudWatch alarm fires": an EventBridge rule on the default bus
 * (alarm → ALARM, for mapped names and tag-discovery prefixes) starts a STANDARD state machine that prepares
 * (maps the alarm, takes the lock, honours the cooldown), undoes the rollout, waits for it, waits for the
 * alarm to recover and pages on-call otherwise. The definition is the ASL file (with the execution timeout
 * set) and `definitionSubstitutions`; a definition from a file brings no grants, so every permission is
 * written here, scoped to the resources used.
 */
export class RollbackRunbook extends Construct {
  /** Maps the alarm to a workload, checks cooldown and lock (`lambdas/rollback-prepare.ts`). */
  public readonly prepareFunction: RunbookFunction;
  /** `kubectl rollout undo` semantics (`lambdas/rollback-undo.ts`). */
  public readonly undoFunction: RunbookFunction;
  /** Reads the rollout's progress (`lambdas/rollback-rollout-status.ts`). */
  public readonly rolloutStatusFunction: RunbookFunction;
  /** Reads the alarm's state while waiting for recovery (`lambdas/rollback-alarm-status.ts`); no Kubernetes access. */
  public readonly alarmStatusFunction: RunbookFunction;
  /** The alarm-status function's own role: it only reads alarms. */
  public readonly alarmStatusRole: Role;
  /** The workflow. */
  public readonly stateMachine: StateMachine;
  /** The state machine's execution log group (level ALL, with execution data). */
  public readonly logGroup: LogGroup;
  /** The permissions the workflow uses, attached to the state machine's role. */
  public readonly stateMachinePolicy: Policy;
  /** The permissions the rollback Lambdas use, attached to the shared Kubernetes role. */
  public readonly kubernetesRolePolicy: Policy;
  /** Starts the workflow on `CloudWatch Alarm State Change` → ALARM for the configured alarms. */
  public readonly rule: Rule;
  /** Alarm events EventBridge could not deliver to the state machine. */
  public readonly deadLetterQueue: Queue;
  /** Pages when an alarm event lands in the dead-letter queue: a rollback did not start. */
  public readonly deadLetterAlarm: Alarm;
  /** Failed, timed-out and throttled executions page on-call. */
  public readonly alarms: StateMachineAlarms;

  constructor(scope: Construct, id: string, props: RollbackRunbookProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { config } = props;
    const { environment, rollback: settings } = config;

    const alarmNames = settings.targets.map((target) => target.alarmName);
    const prefixes = settings.tagDiscoveryAlarmPrefixes;
    const runtime = rollbackRuntime(config);
    const timeout = Duration.seconds(runtime.stateMachineTimeoutSeconds);

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
    const role = props.kubernetesRole;
    this.prepareFunction = new RunbookFunction(this, 'PrepareFunction', {
      entry: 'lambdas/rollback-prepare.ts',
      serviceName: 'rollback-prepare',
      description: 'Rollback runbook: maps the alarm to a Deployment, takes the lock, honours the cooldown',
      role,
      // ENVIRONMENT_NAME, ROLLBACK_TARGETS, TAG_DISCOVERY_PREFIXES, EKS_CLUSTERS, COOLDOWN_SECONDS and
      // LOCK_TTL_SECONDS (the state machine timeout: a lock outlives no execution).
      environment: { ...runtime.prepareEnvironment, LOCK_TABLE_NAME: props.lockTable.tableName },
    });
    this.undoFunction = new RunbookFunction(this, 'UndoFunction', {
      entry: 'lambdas/rollback-undo.ts',
      serviceName: 'rollback-undo',
      description: 'Rollback runbook: rolls the Deployment back to its previous revision',
      role,
      environment: { LOCK_TABLE_NAME: props.lockTable.tableName },
    });
    this.rolloutStatusFunction = new RunbookFunction(this, 'RolloutStatusFunction', {
      entry: 'lambdas/rollback-rollout-status.ts',
      serviceName: 'rollback-rollout-status',
      description: "Rollback runbook: reads the Deployment's rollout status",
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
      entry: 'lambdas/rollback-alarm-status.ts',
      serviceName: 'rollback-alarm-status',
      description: "Rollback runbook: reads the alarm's state while waiting for recovery",
      role: this.alarmStatusRole,
    });

    this.kubernetesRolePolicy = new Policy(this, 'KubernetesRolePolicy', {
      statements: [
        new PolicyStatement({
          sid: 'LockAndCooldown',
          actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
          resources: [props.lockTable.tableArn],
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

    // State machine ---------------------------------------------------------------------------------------
    this.logGroup = new LogGroup(this, 'StateMachineLogs', {
      // The /aws/vendedlogs/ prefix keeps CloudWatch Logs' resource policy small (Step Functions guide).
      logGroupName: `/aws/vendedlogs/states/platform-runbooks-${environment}-rollback`,
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const functions: IFunction[] = [
      this.prepareFunction,
      this.undoFunction,
      this.rolloutStatusFunction,
      this.alarmStatusFunction,
      props.notifier,
    ];
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: `platform-runbooks-${environment}-rollback`,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: definitionWithTimeout(
        props.definitionPath ??
          fileURLToPath(new URL('../state-machines/rollback.asl.json', import.meta.url)),
        timeout,
      ),
      definitionSubstitutions: {
        PrepareFunctionArn: this.prepareFunction.functionArn,
        UndoFunctionArn: this.undoFunction.functionArn,
        RolloutStatusFunctionArn: this.rolloutStatusFunction.functionArn,
        AlarmStatusFunctionArn: this.alarmStatusFunction.functionArn,
        NotifySlackFunctionArn: props.notifier.functionArn,
        LockTableName: props.lockTable.tableName,
        EventBusName: props.eventBus.eventBusName,
        OnCallTopicArn: props.onCallTopic.topicArn,
        // EnvironmentName, RolloutPollSeconds, RolloutMaxPolls, RecoveryPollSeconds, RecoveryMaxPolls,
        // RecoveryWindowMinutes, CooldownMinutes
        ...runtime.substitutions,
      },
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: true },
    });

    const statements = [
      new PolicyStatement({
        sid: 'InvokeRunbookFunctions',
        actions: ['lambda:InvokeFunction'],
        // ":*" is the qualifier (version or alias) of these same functions.
        resources: functions.flatMap((fn) => [fn.functionArn, `${fn.functionArn}:*`]),
      }),
      new PolicyStatement({
        sid: 'PublishLifecycleEvents',
        actions: ['events:PutEvents'],
        resources: [props.eventBus.eventBusArn],
      }),
      new PolicyStatement({
        sid: 'PageOnCall',
        actions: ['sns:Publish'],
        resources: [props.onCallTopic.topicArn],
      }),
      new PolicyStatement({
        sid: 'ReleaseLock',
        actions: ['dynamodb:UpdateItem'],
        resources: [props.lockTable.tableArn],
      }),
    ];
    if (props.onCallTopicKey) {
      statements.push(
        new PolicyStatement({
          sid: 'EncryptPages',
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [props.onCallTopicKey.keyArn],
        }),
      );
    }
    this.stateMachinePolicy = new Policy(this, 'StateMachinePolicy', { statements });
    this.stateMachinePolicy.attachToRole(this.stateMachine.role);
    // On the state machine resource only: its role is a child, and the policy depends on the role.
    this.stateMachine.node.defaultChild?.node.addDependency(this.stateMachinePolicy);

    for (const fn of functions) {
      Validations.of(this.stateMachinePolicy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagResource(this, `${fn.functionArn}:*`)}]`,
        reason:
          'The ":*" suffix matches the versions and aliases of this one function (qualified invocations), not other functions.',
      });
    }
    Validations.of(this.stateMachine.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Added by CDK for tracing and logging: xray:PutTraceSegments/PutTelemetryRecords/GetSamplingRules/GetSamplingTargets and the CloudWatch Logs log-delivery actions (CreateLogDelivery…, DescribeLogGroups) define no resource types, so Step Functions documents them with Resource "*". The runbook\'s own grants are scoped, in StateMachinePolicy.',
    });

    // Trigger ---------------------------------------------------------------------------------------------
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is itself the dead-letter queue of the alarm rule's target; nothing consumes it to fail again, and a message in it pages on-call (DeadLetterAlarm).",
    });
    this.rule = new Rule(this, 'AlarmRule', {
      description: `Starts the rollback runbook (${environment}) when a mapped alarm enters ALARM`,
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        detail: {
          state: { value: ['ALARM'] },
          alarmName: [...alarmNames, ...prefixes.map((prefix) => ({ prefix }))],
        },
      },
    });
    // No `input`: the state machine receives the whole event.
    this.rule.addTarget(
      new SfnStateMachine(this.stateMachine, {
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: 4,
        // A rollback started hours after its alarm would act on a state that has moved on.
        maxEventAge: Duration.hours(2),
      }),
    );

    // Alarms ----------------------------------------------------------------------------------------------
    this.deadLetterAlarm = new Alarm(this, 'DeadLetterAlarm', {
      alarmName: `platform-runbooks-${environment}-rollback-undelivered`,
      alarmDescription:
        'An alarm event could not start the rollback runbook: read the message in the dead-letter queue and roll back by hand if needed.',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: 'Maximum',
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.deadLetterAlarm.addAlarmAction(new SnsAction(props.onCallTopic));

    this.alarms = new StateMachineAlarms(this, 'StateMachineAlarms', {
      stateMachine: this.stateMachine,
      alarmTopic: props.onCallTopic,
      alarmNamePrefix: `platform-runbooks-${environment}-rollback`,
    });
  }
}

/**
 * The ASL file with the execution timeout set. `DefinitionBody.fromFile` would upload the file as is: CDK
 * applies a state machine's `timeout` only to definitions built in code, so it would be silently dropped.
 * The configuration decides the timeout (the lock TTL depends on it), so it overrides any in the file.
 */
function definitionWithTimeout(path: string, timeout: Duration): DefinitionBody {
  let definition: Record<string, unknown>;
  try {
    definition = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`Cannot read the state machine definition ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return DefinitionBody.fromString(
    JSON.stringify({ ...definition, TimeoutSeconds: timeout.toSeconds() }, null, 2),
  );
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

/** The resource as cdk-nag names it in a finding: tokens resolved and flattened (`<Logical.Arn>`, `<AWS::Region>`). */
function nagResource(scope: Construct, value: string): string {
  const flatten = (node: unknown): string => {
    if (typeof node === 'string') return node;
    if (Array.isArray(node)) return node.map(flatten).join('');
    if (node !== null && typeof node === 'object') {
      const record = node as Record<string, unknown>;
      if ('Fn::Join' in record) {
        const [delimiter, parts] = record['Fn::Join'] as [string, unknown[]];
        return parts.map(flatten).join(delimiter);
      }
      if ('Fn::GetAtt' in record) {
        const [resource, attribute] = record['Fn::GetAtt'] as [string, string];
        return `<${resource}.${attribute}>`;
      }
      if ('Ref' in record) return `<${String(record['Ref'])}>`;
    }
    return JSON.stringify(node);
  };
  return flatten(Stack.of(scope).resolve(value));
}
