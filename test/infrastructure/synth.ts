import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parse } from 'yaml';
import { parseConfig } from '../../lib/config/load';
import type { RollbackRunbook } from '../../lib/rollback-runbook';
import { RunbooksStack } from '../../lib/runbooks-stack';

/** One unacknowledged cdk-nag finding. */
export interface NagFinding {
  rule: string;
  severity: string;
  path: string;
}

export interface Synthesized {
  stack: RunbooksStack;
  /** The rollback runbook (every configuration these tests synthesize has the section). */
  rollback: RollbackRunbook;
  template: Template;
  /** cdk-nag AwsSolutions findings left after the constructs' acknowledgements. */
  findings: NagFinding[];
}

const examplePath = new URL('../../lib/config/example.yaml', import.meta.url);

/** The example configuration as raw YAML data, a fresh copy each time, for a test to vary. */
export function exampleConfig(): Record<string, unknown> {
  return parse(readFileSync(examplePath, 'utf8')) as Record<string, unknown>;
}

/** The example configuration's synthesis, shared by the files of one worker (vitest.config.ts: not isolated). */
let example: Synthesized | undefined;

/**
 * Builds the runbooks stack from a raw configuration (validated like `bin/app.ts` does), with bundling
 * skipped, and runs the cdk-nag AwsSolutions pack over it. Without a configuration: the example one,
 * synthesized once per worker (tests only read it).
 */
export function synth(raw?: unknown): Synthesized {
  if (raw === undefined) {
    example ??= synthesize(exampleConfig());
    return example;
  }
  return synthesize(raw);
}

function synthesize(raw: unknown): Synthesized {
  const config = parseConfig(raw, 'test configuration');
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new RunbooksStack(app, `PlatformRunbooks-${config.environment}`, { config });
  const template = Template.fromStack(stack);
  const report = new AwsSolutionsChecks().validateScope(app);
  const findings = report.violations.flatMap((violation) =>
    violation.violatingResources.map((resource) => ({
      rule: violation.ruleName,
      severity: violation.severity ?? 'error',
      path: resource.constructPath ?? resource.resourceLogicalId ?? '(unknown)',
    })),
  );
  if (!stack.rollback) throw new Error('the test configuration has no rollback section');
  return { stack, rollback: stack.rollback, template, findings };
}

/** Every IAM policy statement of the template, with the logical id of the policy holding it. */
export function policyStatements(template: Template): { policy: string; statement: Statement }[] {
  return Object.entries(template.findResources('AWS::IAM::Policy')).flatMap(([policy, resource]) =>
    (resource.Properties.PolicyDocument.Statement as Statement[]).map((statement) => ({ policy, statement })),
  );
}

export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

export const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
