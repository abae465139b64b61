import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load';
import { RunbooksStack } from '../../lib/runbooks-stack';
import { arnOf, idOf, present, ref } from './helpers';
import { exampleConfig, synth, type Synthesized } from './synth';

describe('the resources the runbooks share', () => {
  let synthesized: Synthesized;
  beforeAll(() => {
    synthesized = synth();
  });

  it('publish lifecycle events on a bus named after the environment, archived 30 days', () => {
    const busId = idOf(synthesized, synthesized.stack.eventBus.bus);
    synthesized.template.hasResourceProperties('AWS::Events::EventBus', { Name: 'platform-runbooks-prod' });
    synthesized.template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: arnOf(busId),
      RetentionDays: 30,
    });
  });

  it('page on-call through a topic encrypted with a rotated key, that refuses plain HTTP and mails on-call', () => {
    const { onCall } = synthesized.stack;
    const topicId = idOf(synthesized, onCall.topic);
    synthesized.template.hasResourceProperties('AWS::SNS::Topic', {
      TopicName: 'platform-runbooks-prod-on-call',
      KmsMasterKeyId: arnOf(idOf(synthesized, present(onCall.key, 'the on-call topic key'))),
    });
    synthesized.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    synthesized.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [ref(topicId)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
    synthesized.template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: ref(topicId),
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
  });

  it('let CloudWatch alarms of this account use the topic key', () => {
    synthesized.template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ]),
      },
    });
  });

  it('keep rollback cooldowns and locks in an on-demand table with TTL and point-in-time recovery, retained', () => {
    synthesized.template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        KeySchema: [{ AttributeName: 'workload', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'workload', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('are named in the stack outputs', () => {
    const { rollback } = synthesized;
    const { eventBus, onCall } = synthesized.stack;
    synthesized.template.hasOutput('LifecycleEventBusName', { Value: ref(idOf(synthesized, eventBus.bus)) });
    synthesized.template.hasOutput('OnCallTopicArn', { Value: ref(idOf(synthesized, onCall.topic)) });
    synthesized.template.hasOutput('RollbackStateMachineArn', {
      Value: ref(idOf(synthesized, rollback.workflow.stateMachine)),
    });
  });

  it('page an existing topic when the configuration names one', () => {
    const raw = exampleConfig();
    raw.onCall = { existingTopicArn: 'arn:aws:sns:eu-west-1:123456789012:pagerduty-platform' };
    const existing = synth(raw);
    existing.template.hasOutput('OnCallTopicArn', {
      Value: 'arn:aws:sns:eu-west-1:123456789012:pagerduty-platform',
    });
    existing.template.allResourcesProperties('AWS::CloudWatch::Alarm', {
      AlarmActions: ['arn:aws:sns:eu-west-1:123456789012:pagerduty-platform'],
    });
  });
});

describe('a stack whose configuration leaves a runbook out', () => {
  it('deploys the shared resources and none of that runbook', () => {
    const config = { ...parseConfig(exampleConfig(), 'example'), rollback: undefined };
    const stack = new RunbooksStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'NoRollback', {
      config,
    });
    const template = Template.fromStack(stack);
    expect(stack.rollback).toBeUndefined();
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 0);
    template.resourceCountIs('AWS::Events::EventBus', 1);
    expect(Object.keys(template.toJSON().Outputs ?? {})).not.toContain('RollbackStateMachineArn');
  });
});
