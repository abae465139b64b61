import { readFileSync } from 'node:fs';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { arnOf, idOf, ref } from './helpers';
import { synth, type Synthesized } from './synth';

const aslPath = new URL('../../state-machines/rollback.asl.json', import.meta.url);

describe('the rollback state machine', () => {
  let synthesized: Synthesized;
  beforeAll(() => {
    synthesized = synth();
  });

  it('is a STANDARD workflow whose timeout, a last resort, outlasts both wait loops, and bounds the lock', () => {
    const [stateMachine] = Object.values(
      synthesized.template.findResources('AWS::StepFunctions::StateMachine'),
    );
    expect(stateMachine?.Properties).toMatchObject({
      StateMachineName: 'platform-runbooks-prod-rollback',
      StateMachineType: 'STANDARD',
    });
    const timeoutSeconds = (
      JSON.parse(stateMachine?.Properties.DefinitionString as string) as { TimeoutSeconds: number }
    ).TimeoutSeconds;
    // example.yaml: a 15-minute rollout timeout; the recovery window may last up to 60 minutes (default).
    expect(timeoutSeconds).toBeGreaterThan((15 + 60) * 60);
    // A lock outlives no execution.
    synthesized.template.hasResourceProperties('AWS::Lambda::Function', {
      Role: arnOf(idOf(synthesized, synthesized.rollback.prepareAccess.role)),
      Environment: { Variables: Match.objectLike({ LOCK_TTL_SECONDS: String(timeoutSeconds) }) },
    });
  });

  it('logs every event with execution data to its own log group, and traces with X-Ray', () => {
    const logGroupId = idOf(synthesized, synthesized.rollback.workflow.logGroup);
    synthesized.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: true,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: arnOf(logGroupId) } }],
      },
      TracingConfiguration: { Enabled: true },
    });
    synthesized.template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/aws/vendedlogs/states/platform-runbooks-prod-rollback',
      RetentionInDays: 365,
      KmsKeyId: { 'Fn::GetAtt': [idOf(synthesized, synthesized.stack.logs.key), 'Arn'] },
    });
  });

  it('substitutes the functions, the shared resources and the timings into the definition', () => {
    const { rollback } = synthesized;
    const { slackNotifier, lockTable, eventBus, onCall } = synthesized.stack;
    synthesized.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      DefinitionSubstitutions: {
        PrepareFunctionArn: arnOf(idOf(synthesized, rollback.prepareFunction)),
        UndoFunctionArn: arnOf(idOf(synthesized, rollback.undoFunction)),
        RolloutStatusFunctionArn: arnOf(idOf(synthesized, rollback.rolloutStatusFunction)),
        AlarmStatusFunctionArn: arnOf(idOf(synthesized, rollback.alarmStatusFunction)),
        NotifySlackFunctionArn: arnOf(idOf(synthesized, slackNotifier.fn)),
        LockTableName: ref(idOf(synthesized, lockTable.table)),
        EventBusName: ref(idOf(synthesized, eventBus.bus)),
        OnCallTopicArn: ref(idOf(synthesized, onCall.topic)),
        EnvironmentName: 'prod',
        // example.yaml: rollout 15 min polled every 10 s, recovery polled every 30 s.
        RolloutPollSeconds: '10',
        RolloutTimeoutSeconds: '900',
        RecoveryPollSeconds: '30',
      },
    });
  });

  it('has a substitution for every placeholder of the ASL file', () => {
    const placeholders = new Set(
      [...readFileSync(aslPath, 'utf8').matchAll(/\$\{(\w+)\}/g)].map((match) => match[1]),
    );
    const [stateMachine] = Object.values(
      synthesized.template.findResources('AWS::StepFunctions::StateMachine'),
    );
    const substituted = Object.keys(stateMachine?.Properties.DefinitionSubstitutions ?? {});
    expect(placeholders.size).toBeGreaterThan(0);
    expect([...placeholders].filter((name) => !substituted.includes(name as string))).toEqual([]);
  });

  it('pages on-call on failed, timed-out and throttled executions', () => {
    const { rollback } = synthesized;
    const { onCall } = synthesized.stack;
    for (const metricName of ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionThrottled']) {
      synthesized.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/States',
        MetricName: metricName,
        Dimensions: [
          { Name: 'StateMachineArn', Value: ref(idOf(synthesized, rollback.workflow.stateMachine)) },
        ],
        Statistic: 'Sum',
        Period: 60,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
        AlarmActions: [ref(idOf(synthesized, onCall.topic))],
      });
    }
  });
});
