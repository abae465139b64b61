import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { arnOf, idOf, present, ref } from './helpers';
import { exampleConfig, synth, type Synthesized } from './synth';

describe('the rollback runbook trigger', () => {
  let synthesized: Synthesized;
  beforeAll(() => {
    synthesized = synth();
  });

  it('starts only on alarms entering ALARM, matched by mapped name or tag-discovery prefix', () => {
    synthesized.template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: Match.absent(),
      EventPattern: {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        detail: {
          state: { value: ['ALARM'] },
          alarmName: ['checkout-api-5xx-rate', 'payments-worker-error-rate', { prefix: 'rollback-' }],
        },
      },
    });
  });

  it('passes the whole event to the state machine, with a dead-letter queue, 4 retries and a 2-hour maximum age', () => {
    const { rollback } = synthesized;
    synthesized.template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        {
          Arn: ref(idOf(synthesized, rollback.workflow.stateMachine)),
          Input: Match.absent(),
          InputPath: Match.absent(),
          InputTransformer: Match.absent(),
          DeadLetterConfig: { Arn: arnOf(idOf(synthesized, rollback.workflow.deadLetterQueue)) },
          RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 7200 },
        },
      ],
    });
  });

  it('keeps undelivered events 14 days in an encrypted queue that refuses plain HTTP', () => {
    const queueId = idOf(synthesized, synthesized.rollback.workflow.deadLetterQueue);
    synthesized.template.hasResourceProperties('AWS::SQS::Queue', {
      MessageRetentionPeriod: 14 * 24 * 3600,
      SqsManagedSseEnabled: true,
    });
    synthesized.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [ref(queueId)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Action: 'sqs:SendMessage',
            Principal: { Service: 'events.amazonaws.com' },
            Condition: {
              ArnEquals: {
                'aws:SourceArn': arnOf(
                  idOf(synthesized, present(synthesized.rollback.workflow.rule, 'the alarm rule')),
                ),
              },
            },
          }),
        ]),
      },
    });
  });

  it('pages on-call as soon as one event is in the dead-letter queue', () => {
    const { rollback } = synthesized;
    const { onCall } = synthesized.stack;
    synthesized.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [idOf(synthesized, rollback.workflow.deadLetterQueue), 'QueueName'] },
        },
      ],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [ref(idOf(synthesized, onCall.topic))],
    });
  });

  it('listens for mapped names only when no prefix is configured', () => {
    const raw = exampleConfig();
    (raw.rollback as Record<string, unknown>).tagDiscoveryAlarmPrefixes = [];
    synth(raw).template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { detail: { alarmName: ['checkout-api-5xx-rate', 'payments-worker-error-rate'] } },
    });
  });

  it('refuses more mapped alarms than fit in the prepare Lambda environment, pointing at tag discovery', () => {
    const raw = exampleConfig();
    (raw.rollback as Record<string, unknown>).targets = Array.from({ length: 40 }, (_, index) => ({
      alarmName: `checkout-api-${index}-p99-latency-above-slo-for-five-minutes`,
      cluster: 'prod-eks',
      namespace: 'checkout',
      deployment: `checkout-api-${index}`,
    }));
    expect(() => synth(raw)).toThrow(/rollback\.targets .*bytes.*rollback\.tagDiscoveryAlarmPrefixes/s);
  });

  it('counts the clusters and prefixes the prepare Lambda also carries against that room', () => {
    const raw = exampleConfig();
    const targets = Array.from({ length: 26 }, (_, index) => ({
      alarmName: `checkout-api-${index}-error-rate-high`,
      cluster: 'prod-eks',
      namespace: 'checkout',
      deployment: `checkout-api-${index}`,
    }));
    const clusters = Array.from({ length: 12 }, (_, index) => ({
      name: `prod-eks-${index}`,
      namespaces: ['checkout', 'payments', 'search', 'inventory'],
    }));
    expect(Buffer.byteLength(JSON.stringify(targets))).toBeLessThan(3_500);
    (raw.rollback as Record<string, unknown>).targets = targets;
    raw.eksClusters = [{ name: 'prod-eks', namespaces: ['checkout', 'payments', 'search'] }, ...clusters];
    expect(() => synth(raw)).toThrow(
      /eksClusters \(\d+\) take \d+ bytes in the prepare Lambda's environment/,
    );
  });

  it('refuses a configuration in which no alarm could start it', () => {
    const raw = exampleConfig();
    Object.assign(raw.rollback as Record<string, unknown>, { targets: [], tagDiscoveryAlarmPrefixes: [] });
    expect(() => synth(raw)).toThrow(/rollback: targets and tagDiscoveryAlarmPrefixes are both empty/);
  });
});
