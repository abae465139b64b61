import { readFileSync } from 'node:fs';
import { Duration, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { type EventPattern, type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import { Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { LogGroup } from 'aws-cdk-lib/aws-logs';
import {
  Schedule,
  type ScheduleExpression,
  ScheduleTargetInput,
  TimeWindow,
} from 'aws-cdk-lib/aws-scheduler';
import { StepFunctionsStartExecution } from 'aws-cdk-lib/aws-scheduler-targets';
import { Queue, QueueEncryption, RedrivePermission } from 'aws-cdk-lib/aws-sqs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { nagResource } from './nag-resource';
import type { RunbookFunction } from './runbook-function';
import type { RunbookSharedResources } from './runbook-shared-resources';
import { StateMachineAlarms } from './state-machine-alarms';

/** Started by an EventBridge rule (alarm state changes and ACM events on the default bus, CI's on the lifecycle bus). */
export interface RunbookEventTrigger {
  readonly kind: 'event';
  /** Which events start the runbook. The state machine receives the whole event. */
  readonly eventPattern: EventPattern;
  /**
   * The bus the rule listens on.
   * @default - the account's default bus, where AWS services put their events
   */
  readonly eventBus?: IEventBus;
  /** The rule's description. */
  readonly description: string;
  /**
   * Events older than this are not delivered but dead-lettered: a runbook started hours late acts on a
   * world that has moved on.
   * @default Duration.hours(2)
   */
  readonly maxEventAge?: Duration;
  /** @default 4 */
  readonly retryAttempts?: number;
}

/** Started by an EventBridge Scheduler schedule (cron in a time zone), for the drills and reports. */
export interface RunbookScheduleTrigger {
  readonly kind: 'schedule';
  /** When, e.g. `ScheduleExpression.cron({ hour: '3', minute: '0', timeZone: TimeZone.EUROPE_BERLIN })`. */
  readonly schedule: ScheduleExpression;
  /** The schedule's description. */
  readonly description: string;
  /**
   * Lets Scheduler start the run anywhere within this window, to spread load.
   * @default - off: the run starts at the scheduled minute
   */
  readonly flexibleWindow?: Duration;
  /**
   * The execution's input.
   * @default - `{}`
   */
  readonly input?: Record<string, unknown>;
  /** @default Duration.hours(2) */
  readonly maxEventAge?: Duration;
  /** @default 4 */
  readonly retryAttempts?: number;
}

export type RunbookTrigger = RunbookEventTrigger | RunbookScheduleTrigger;

export interface RunbookStateMachineProps {
  /** The runbook's short name (`rollback`): the state machine is `platform-runbooks-<environment>-<runbook>`. */
  readonly runbook: string;
  /** The shared resources: lifecycle bus, on-call topic, notifier, lock table. */
  readonly shared: RunbookSharedResources;
  /** The ASL file (JSONPath), absolute path. */
  readonly definitionPath: string;
  /**
   * The runbook's own Lambdas: each one's ARN is substituted under its function-table key, and the state
   * machine may invoke it. The notifier is added by this construct.
   */
  readonly functions: readonly RunbookFunction[];
  /**
   * Further `definitionSubstitutions` (timings, limits). `EnvironmentName`, `EventBusName`,
   * `OnCallTopicArn`, `LockTableName` and `NotifySlackFunctionArn` are always provided.
   * @default - none
   */
  readonly substitutions?: Record<string, string>;
  /** The execution timeout; it overrides any `TimeoutSeconds` in the file. */
  readonly timeout: Duration;
  /** What starts the runbook: one trigger, or several (a schedule and events). */
  readonly trigger: RunbookTrigger | readonly RunbookTrigger[];
  /**
   * Permissions of the workflow's own service integrations beyond the kit's (e.g. `rds:DeleteDBInstance`).
   * @default - none
   */
  readonly statements?: readonly PolicyStatement[];
}

/**
 * A runbook's workflow with everything the kit promises around it:
 * - the ASL file with `definitionSubstitutions` (every `${…}` it uses must be provided: synth fails
 *   otherwise) and the execution timeout;
 * - STANDARD type, X-Ray tracing, ALL-events logging with execution data to its own log group
 *   (`/aws/vendedlogs/states/…`, one month);
 * - grants written here, since a definition from a file brings none: invoke its functions and the notifier,
 *   publish lifecycle events, page on-call (and use the topic's key), `dynamodb:UpdateItem` (and `GetItem` for a
 *   definition that reads it) on the lock
 *   table only when the ASL names `${LockTableName}` (it releases the lock itself);
 * - the triggers: EventBridge rules and Scheduler schedules, sharing a dead-letter queue, each with a retry policy
 *   and a maximum event age; a message in that queue pages;
 * - alarms paging on failed, timed-out, throttled and aborted executions.
 */
export class RunbookStateMachine extends Construct {
  public readonly stateMachine: StateMachine;
  /** The execution log group (level ALL, with execution data). */
  public readonly logGroup: LogGroup;
  /** The permissions the workflow uses, attached to the state machine's role. */
  public readonly policy: Policy;
  /** Starts the workflow: the first event trigger's rule. */
  public readonly rule?: Rule;
  /** Starts the workflow: the first schedule trigger's schedule. */
  public readonly schedule?: Schedule;
  /** Every event trigger's rule, in the order of `trigger`. */
  public readonly rules: readonly Rule[];
  /** Every schedule trigger's schedule, in the order of `trigger`. */
  public readonly schedules: readonly Schedule[];
  /** What the trigger could not deliver. */
  public readonly deadLetterQueue: Queue;
  /** Pages when a start lands in the dead-letter queue: a run did not happen. */
  public readonly deadLetterAlarm: Alarm;
  /** Failed, timed-out, throttled and aborted executions page on-call. */
  public readonly alarms: StateMachineAlarms;

  constructor(scope: Construct, id: string, props: RunbookStateMachineProps) {
    super(scope, id);
    const { shared, runbook } = props;
    const name = `platform-runbooks-${shared.environment}-${runbook}`;
    const functions: RunbookFunction[] = [...props.functions, shared.notifier];

    const text = readDefinition(props.definitionPath);
    const kit: Record<string, string> = {
      EnvironmentName: shared.environment,
      EventBusName: shared.eventBus.eventBusName,
      OnCallTopicArn: shared.onCallTopic.topicArn,
      LockTableName: shared.lockTable.tableName,
      [shared.notifier.definition.substitution]: shared.notifier.functionArn,
    };
    const substitutions: Record<string, string> = {
      ...props.substitutions,
      ...kit,
      ...Object.fromEntries(props.functions.map((fn) => [fn.definition.substitution, fn.functionArn])),
    };
    const used = substitutionsUsed(text);
    const missing = [...used].filter((key) => !(key in substitutions));
    if (missing.length > 0) {
      throw new Error(
        `${props.definitionPath} uses ${missing.map((key) => `\${${key}}`).join(', ')}, which the ${runbook} runbook does not provide (kit: ${Object.keys(kit).join(', ')}; functions: ${props.functions.map((fn) => fn.definition.substitution).join(', ') || 'none'}).`,
      );
    }

    // The /aws/vendedlogs/ prefix keeps CloudWatch Logs' resource policy small (Step Functions guide).
    this.logGroup = shared.logs.createLogGroup(this, 'Logs', `/aws/vendedlogs/states/${name}`);
    this.stateMachine = new StateMachine(this, 'Resource', {
      stateMachineName: name,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: definitionWithTimeout(text, props.definitionPath, props.timeout),
      definitionSubstitutions: substitutions,
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
        resources: [shared.eventBus.eventBusArn],
      }),
      new PolicyStatement({
        sid: 'PageOnCall',
        actions: ['sns:Publish'],
        resources: [shared.onCallTopic.topicArn],
      }),
    ];
    if (used.has('LockTableName')) {
      statements.push(
        new PolicyStatement({
          sid: 'ReleaseLock',
          actions: ['dynamodb:UpdateItem'],
          resources: [shared.lockTable.tableArn],
        }),
      );
      // A workflow that reads the lock itself (the canary's hold looks for an abort request each minute).
      if (text.includes('"arn:aws:states:::dynamodb:getItem"')) {
        statements.push(
          new PolicyStatement({
            sid: 'ReadLock',
            actions: ['dynamodb:GetItem'],
            resources: [shared.lockTable.tableArn],
          }),
        );
      }
    }
    if (shared.onCallTopicKey) {
      statements.push(
        new PolicyStatement({
          sid: 'EncryptPages',
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [shared.onCallTopicKey.keyArn],
        }),
      );
    }
    statements.push(...(props.statements ?? []));
    this.policy = new Policy(this, 'Policy', { statements });
    this.policy.attachToRole(this.stateMachine.role);
    // On the state machine resource only: its role is a child, and the policy depends on the role.
    this.stateMachine.node.defaultChild?.node.addDependency(this.policy);

    for (const fn of functions) {
      Validations.of(this.policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagResource(this, `${fn.functionArn}:*`)}]`,
        reason:
          'The ":*" suffix matches the versions and aliases of this one function (qualified invocations), not other functions.',
      });
    }
    Validations.of(this.stateMachine.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Added by CDK for tracing and logging: xray:PutTraceSegments/PutTelemetryRecords/GetSamplingRules/GetSamplingTargets and the CloudWatch Logs log-delivery actions (CreateLogDelivery…, DescribeLogGroups) define no resource types, so Step Functions documents them with Resource "*". The runbook\'s own grants are scoped, in its Policy.',
    });

    // Trigger ---------------------------------------------------------------------------------------------
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // Declares it a dead-letter queue (CT.SQS.PR.1 asks every other queue for one of its own).
      redriveAllowPolicy: { redrivePermission: RedrivePermission.ALLOW_ALL },
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is itself the dead-letter queue of the runbook's trigger; nothing consumes it to fail again, and a message in it pages on-call (DeadLetterAlarm).",
    });
    const triggers: readonly RunbookTrigger[] = isTriggerList(props.trigger)
      ? props.trigger
      : [props.trigger];
    if (triggers.length === 0) throw new Error(`The ${runbook} runbook has no trigger`);
    const rules: Rule[] = [];
    const schedules: Schedule[] = [];
    for (const trigger of triggers) {
      const delivery = {
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: trigger.retryAttempts ?? 4,
        maxEventAge: trigger.maxEventAge ?? Duration.hours(2),
      };
      if (trigger.kind === 'event') {
        // The first keeps the id it had when a runbook had one trigger: its logical id does not change.
        const rule = new Rule(this, rules.length === 0 ? 'Rule' : `Rule${rules.length + 1}`, {
          description: trigger.description,
          eventPattern: trigger.eventPattern,
          ...(trigger.eventBus && { eventBus: trigger.eventBus }),
        });
        // No `input`: the state machine receives the whole event.
        rule.addTarget(new SfnStateMachine(this.stateMachine, delivery));
        rules.push(rule);
      } else {
        const index = schedules.length;
        schedules.push(
          new Schedule(this, index === 0 ? 'Schedule' : `Schedule${index + 1}`, {
            scheduleName: index === 0 ? name : `${name}-${index + 1}`,
            description: trigger.description,
            schedule: trigger.schedule,
            timeWindow:
              trigger.flexibleWindow === undefined
                ? TimeWindow.off()
                : TimeWindow.flexible(trigger.flexibleWindow),
            target: new StepFunctionsStartExecution(this.stateMachine, {
              ...delivery,
              input: ScheduleTargetInput.fromObject(trigger.input ?? {}),
            }),
          }),
        );
      }
    }
    this.rules = rules;
    this.schedules = schedules;
    if (rules[0]) this.rule = rules[0];
    if (schedules[0]) this.schedule = schedules[0];

    // Alarms ----------------------------------------------------------------------------------------------
    this.deadLetterAlarm = new Alarm(this, 'DeadLetterAlarm', {
      alarmName: `${name}-undelivered`,
      alarmDescription: `A start of the ${runbook} runbook could not be delivered: read the message in the dead-letter queue and do by hand what the runbook would have done.`,
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: 'Maximum',
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.deadLetterAlarm.addAlarmAction(new SnsAction(shared.onCallTopic));

    this.alarms = new StateMachineAlarms(this, 'Alarms', {
      stateMachine: this.stateMachine,
      alarmTopic: shared.onCallTopic,
      alarmNamePrefix: name,
    });
  }
}

function isTriggerList(trigger: RunbookStateMachineProps['trigger']): trigger is readonly RunbookTrigger[] {
  return Array.isArray(trigger);
}

function readDefinition(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read the state machine definition ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** The `${Name}` placeholders of an ASL file. */
export function substitutionsUsed(text: string): Set<string> {
  return new Set([...text.matchAll(/\$\{(\w+)\}/g)].map((match) => match[1] as string));
}

/**
 * The ASL file with the execution timeout set. `DefinitionBody.fromFile` would upload the file as is: CDK
 * applies a state machine's `timeout` only to definitions built in code, so it would be silently dropped.
 * The configuration decides the timeout (a lock's TTL may depend on it), so it overrides any in the file.
 */
function definitionWithTimeout(text: string, path: string, timeout: Duration): DefinitionBody {
  let definition: Record<string, unknown>;
  try {
    definition = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`The state machine definition ${path} is not JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return DefinitionBody.fromString(
    JSON.stringify({ ...definition, TimeoutSeconds: timeout.toSeconds() }, null, 2),
  );
}
