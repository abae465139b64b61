import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRunbookCommons } from '../../lib/runbook-commons';
import { Rehearsal } from '../harness/rehearsal';
import { arnOf } from '../infrastructure/helpers';
import type { HeartbeatConfig } from './heartbeat/config';
import { HeartbeatRunbook } from './heartbeat/heartbeat-runbook';
import { heartbeatConfig, rehearsedRunbook } from './heartbeat/rehearsal';

// A test-only runbook, "heartbeat", wired through the kit end to end: if it works with nothing but its own
// slice, so will the next real runbook.
const root = fileURLToPath(new URL('../../', import.meta.url));
const slice = fileURLToPath(new URL('heartbeat/', import.meta.url));

describe('a new runbook built on the kit', () => {
  it('consists of its ASL file, its folder (handler, domain, function table), construct, config section and scenarios only', () => {
    const files = readdirSync(slice, { recursive: true, encoding: 'utf8' }).sort();
    expect(files).toEqual([
      'check.ts',
      'config.ts',
      'functions.ts',
      'handlers',
      'handlers/check.ts',
      'heartbeat-runbook.ts',
      'heartbeat.asl.json',
      'rehearsal.ts',
    ]);
  });

  it('needed no change to any shared code: nothing outside its folder names it', () => {
    // git grep exits 1 when nothing matches, which is the point.
    const matches = (() => {
      try {
        return execFileSync(
          'git',
          ['grep', '-il', 'heartbeat', '--', 'lib', 'lambdas', 'bin', 'state-machines', 'test/harness'],
          { cwd: root, encoding: 'utf8' },
        );
      } catch (error) {
        if ((error as { status?: number }).status === 1) return '';
        throw error;
      }
    })();
    expect(matches.trim().split('\n').filter(Boolean)).toEqual([]);
  });

  describe('synthesized with the shared resources', () => {
    let template: Template;
    let runbook: HeartbeatRunbook;
    let findings: string[];
    beforeAll(() => {
      const config: HeartbeatConfig = heartbeatConfig();
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      const stack = new Stack(app, 'KitTest');
      const commons = createRunbookCommons(stack, config);
      runbook = new HeartbeatRunbook(stack, 'Heartbeat', {
        shared: commons.resources,
        settings: config.heartbeat,
      });
      template = Template.fromStack(stack);
      findings = new AwsSolutionsChecks()
        .validateScope(app)
        .violations.flatMap((violation) =>
          violation.violatingResources.map(
            (resource) => `${violation.ruleName} ${resource.constructPath ?? ''}`,
          ),
        );
    });

    it('gets a logged, traced state machine with its function substituted by the table key', () => {
      template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        StateMachineName: 'platform-runbooks-kit-heartbeat',
        TracingConfiguration: { Enabled: true },
        LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
        DefinitionSubstitutions: Match.objectLike({
          CheckFunctionArn: arnOf(
            Stack.of(runbook).getLogicalId(runbook.checkFunction.node.defaultChild as never),
          ),
          Greeting: 'hello',
          EnvironmentName: 'kit',
        }),
        DefinitionString: Match.serializedJson(Match.objectLike({ TimeoutSeconds: 300 })),
      });
    });

    it('is started by a Scheduler schedule in its time zone, with a flexible window, a DLQ and a retry policy', () => {
      template.hasResourceProperties('AWS::Scheduler::Schedule', {
        Name: 'platform-runbooks-kit-heartbeat',
        ScheduleExpression: 'cron(0 3 * * ? *)',
        ScheduleExpressionTimezone: 'Europe/Berlin',
        FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 },
        Target: Match.objectLike({
          DeadLetterConfig: { Arn: Match.anyValue() },
          RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 7200 },
        }),
      });
      expect(runbook.workflow.rule).toBeUndefined();
    });

    it('pages on failed, timed-out, throttled and aborted executions and on an undelivered start', () => {
      for (const metric of [
        'ExecutionsFailed',
        'ExecutionsTimedOut',
        'ExecutionThrottled',
        'ExecutionsAborted',
      ]) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: metric,
          Namespace: 'AWS/States',
          AlarmActions: [Match.anyValue()],
        });
      }
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: 'platform-runbooks-kit-heartbeat-undelivered',
      });
    });

    it('grants no lock access when the ASL does not release a lock', () => {
      const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
        (policy) => policy.Properties.PolicyDocument.Statement as Array<{ Sid?: string }>,
      );
      expect(statements.map((statement) => statement.Sid)).not.toContain('ReleaseLock');
      expect(statements.map((statement) => statement.Sid)).toContain('InvokeRunbookFunctions');
    });

    it('leaves cdk-nag nothing unacknowledged', () => {
      expect(findings).toEqual([]);
    });
  });

  describe('rehearsed', () => {
    let rehearsal: Rehearsal<HeartbeatConfig>;
    beforeAll(async () => {
      process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
      rehearsal = await Rehearsal.start(rehearsedRunbook);
    });
    afterAll(() => rehearsal?.close());

    it('runs its real ASL and handler, tells Slack and publishes its lifecycle', async () => {
      const [result] = await rehearsal.runScenario('healthy');
      expect(result?.status).toBe('SUCCEEDED');
      expect(result?.lambdaInvocations.map((call) => call.name)).toEqual(['heartbeat-check', 'notify-slack']);
      expect(rehearsal.slack.messages).toHaveLength(1);
      expect(JSON.stringify(rehearsal.slack.messages[0]?.body)).toContain('Heartbeat succeeded');
      expect(rehearsal.account.events.map((event) => event.detailType)).toEqual(['RunbookSucceeded']);
      expect(rehearsal.account.pages).toHaveLength(0);
    });

    it('pages on-call and reports the named error when its check fails', async () => {
      const [result] = await rehearsal.runScenario('check-fails');
      expect(result?.status).toBe('FAILED');
      expect(result?.error?.name).toBe('HeartbeatFailed');
      expect(rehearsal.account.pages).toHaveLength(1);
      expect(JSON.stringify(rehearsal.slack.messages[0]?.body)).toContain('the kit is not well');
      expect(rehearsal.account.events.map((event) => event.detailType)).toEqual(['RunbookFailed']);
    });
  });
});
