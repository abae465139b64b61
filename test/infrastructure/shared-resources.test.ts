import { App, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { canaryApprovalEndpoint, canaryFunctions } from '../../lambdas/canary/functions';
import { certificateFunctions } from '../../lambdas/certificates/functions';
import { notifySlackFunction } from '../../lambdas/notify/functions';
import { rightsizingFunctions } from '../../lambdas/rightsizing/functions';
import { rollbackFunctions } from '../../lambdas/rollback/functions';
import type { RunbookFunctionEntry } from '../../lambdas/shared/function-table';
import { parseConfig } from '../../lib/config/load';
import { RunbooksStack } from '../../lib/runbooks-stack';
import { alarmArn, arnOf, idOf, present, ref } from './helpers';
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

  it('page on-call through a topic encrypted with a rotated key, that mails on-call', () => {
    const { onCall } = synthesized.stack;
    const topicId = idOf(synthesized, onCall.topic);
    synthesized.template.hasResourceProperties('AWS::SNS::Topic', {
      TopicName: 'platform-runbooks-prod-on-call',
      KmsMasterKeyId: arnOf(idOf(synthesized, present(onCall.key, 'the on-call topic key'))),
    });
    synthesized.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    synthesized.template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: ref(topicId),
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
  });

  it("let this account's alarms publish to the topic, and refuse anyone publishing without TLS", () => {
    const topic = ref(idOf(synthesized, synthesized.stack.onCall.topic));
    const policies = Object.values(synthesized.template.findResources('AWS::SNS::TopicPolicy'));
    expect(policies).toHaveLength(1);
    // A topic policy replaces SNS's default one: these two statements are all the topic allows and denies.
    expect(policies[0]?.Properties).toEqual({
      Topics: [topic],
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'AllowPublishThroughSSLOnly',
            Effect: 'Deny',
            Principal: '*',
            Action: 'sns:Publish',
            Resource: topic,
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
          {
            Sid: 'AllowCloudWatchAlarmsOfThisAccountToPublish',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: topic,
            Condition: {
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
              ArnLike: { 'aws:SourceArn': alarmArn('*') },
            },
          },
        ],
      },
    });
  });

  it('archive lifecycle events without an empty KMS key, which some regions refuse', () => {
    const archives = Object.values(synthesized.template.findResources('AWS::Events::Archive'));
    expect(archives).toHaveLength(1);
    for (const archive of archives) expect(archive.Properties).not.toHaveProperty('KmsKeyIdentifier');
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

describe('the on-call topic key in the configuration', () => {
  const keyArn = 'arn:aws:kms:eu-west-1:123456789012:key/1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d';

  it('is refused without an existing topic, naming the field', () => {
    const raw = { ...exampleConfig(), onCall: { existingTopicKeyArn: keyArn } };
    expect(() => parseConfig(raw, 'test')).toThrow(
      /onCall\.existingTopicKeyArn: is used only with onCall\.existingTopicArn/,
    );
  });

  it('must be a key ARN, not an alias', () => {
    const raw = {
      ...exampleConfig(),
      onCall: {
        existingTopicArn: 'arn:aws:sns:eu-west-1:123456789012:pagerduty-platform',
        existingTopicKeyArn: 'arn:aws:kms:eu-west-1:123456789012:alias/pagerduty',
      },
    };
    expect(() => parseConfig(raw, 'test')).toThrow(/onCall\.existingTopicKeyArn: must be a KMS key ARN/);
  });
});

describe('a stack whose configuration leaves a runbook out', () => {
  /**
   * Each runbook section of the example, what it deploys, and how the stack and its template name it.
   * `writesReports`: it writes to the reports bucket (the stack's first such runbook creates it and the
   * `ReportsBucketName` output).
   */
  interface RunbookSection {
    construct: (stack: RunbooksStack) => unknown;
    stateMachine: string;
    functions: readonly RunbookFunctionEntry[];
    outputs: string[];
    writesReports: boolean;
  }
  type Section = 'rollback' | 'certificates' | 'rightsizing' | 'canary';
  const runbooks: Record<Section, RunbookSection> = {
    rollback: {
      construct: (stack: RunbooksStack) => stack.rollback,
      stateMachine: 'platform-runbooks-prod-rollback',
      functions: Object.values(rollbackFunctions),
      outputs: ['RollbackStateMachineArn'],
      writesReports: false,
    },
    certificates: {
      construct: (stack: RunbooksStack) => stack.certificates,
      stateMachine: 'platform-runbooks-prod-certificates',
      functions: Object.values(certificateFunctions),
      outputs: ['CertificateCheckStateMachineArn'],
      writesReports: true,
    },
    rightsizing: {
      construct: (stack: RunbooksStack) => stack.rightsizing,
      stateMachine: 'platform-runbooks-prod-rightsizing',
      functions: Object.values(rightsizingFunctions),
      outputs: ['RightsizingStateMachineArn'],
      writesReports: true,
    },
    canary: {
      construct: (stack: RunbooksStack) => stack.canary,
      stateMachine: 'platform-runbooks-prod-canary',
      // No example service has a smoke test; the example's Slack app and approval bring the endpoint.
      functions: [
        ...Object.values(canaryFunctions).filter((entry) => entry !== canaryFunctions.smokeTest),
        canaryApprovalEndpoint,
      ],
      outputs: ['CanaryStateMachineArn', 'CanaryApprovalUrl'],
      writesReports: false,
    },
  };
  const sections = Object.keys(runbooks) as Section[];

  /** The example without some runbook sections, validated as `bin/app.ts` does. */
  const stackWithout = (...left: Section[]) => {
    const example = exampleConfig();
    for (const section of sections) expect(example[section], section).toBeDefined();
    const raw = Object.fromEntries(
      Object.entries(example).filter(([key]) => !(left as string[]).includes(key)),
    );
    const config = parseConfig(raw, `example without ${left.join(', ')}`);
    const stack = new RunbooksStack(
      new App({ context: { 'aws:cdk:bundling-stacks': [] } }),
      `Without-${left.join('-')}`,
      { config },
    );
    return { stack, template: Template.fromStack(stack) };
  };

  it.each(sections)(
    'without a %s section: deploys the shared resources and none of that runbook',
    (section) => {
      const { stack, template } = stackWithout(section);
      const left = runbooks[section];
      const kept = sections.filter((other) => other !== section).map((other) => runbooks[other]);

      expect(left.construct(stack)).toBeUndefined();
      for (const other of kept) expect(other.construct(stack)).toBeDefined();
      // The shared resources: lifecycle bus, on-call topic, lock table (the notifier: below).
      template.resourceCountIs('AWS::Events::EventBus', 1);
      template.resourceCountIs('AWS::SNS::Topic', 1);
      template.resourceCountIs('AWS::DynamoDB::Table', 1);
      const stateMachines = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).map(
        (machine) => machine.Properties.StateMachineName as string,
      );
      expect(stateMachines.sort()).toEqual(kept.map((other) => other.stateMachine).sort());
      const services = Object.values(template.findResources('AWS::Lambda::Function')).map(
        (fn) => fn.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME as string,
      );
      expect(services.sort()).toEqual(
        [notifySlackFunction, ...kept.flatMap((other) => other.functions)]
          .map((entry) => entry.serviceName)
          .sort(),
      );
      const outputs = Object.keys(template.toJSON().Outputs ?? {});
      expect(outputs).toEqual(expect.arrayContaining(['LifecycleEventBusName', 'OnCallTopicArn']));
      for (const other of kept) expect(outputs).toEqual(expect.arrayContaining(other.outputs));
      for (const output of left.outputs) expect(outputs).not.toContain(output);
      // The reports bucket stays as long as a kept runbook writes reports.
      expect(outputs.includes('ReportsBucketName')).toBe(kept.some((other) => other.writesReports));
    },
  );

  it('creates no reports bucket (nor its key or access-logs bucket) when no runbook writes reports', () => {
    const writers = sections.filter((section) => runbooks[section].writesReports);
    const { stack, template } = stackWithout(...writers);
    template.resourceCountIs('AWS::S3::Bucket', 0);
    expect(template.findOutputs('ReportsBucketName')).toEqual({});
    expect(Object.keys(template.findResources('AWS::KMS::Key')).sort()).toEqual(
      [
        stack.getLogicalId(stack.logs.key.node.defaultChild as CfnElement),
        stack.getLogicalId(present(stack.onCall.key, 'the on-call key').node.defaultChild as CfnElement),
      ].sort(),
    );
    // Each of those runbooks alone has it: the bucket and its access-logs bucket, and the output.
    for (const writer of writers) {
      const alone = stackWithout(...writers.filter((other) => other !== writer)).template;
      alone.resourceCountIs('AWS::S3::Bucket', 2);
      expect(Object.keys(alone.findOutputs('ReportsBucketName'))).toEqual(['ReportsBucketName']);
    }
  });
});
