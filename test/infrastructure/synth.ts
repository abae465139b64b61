import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { App, Validations } from 'aws-cdk-lib';
import { FAIL_SYNTH_ON_VALIDATION_ERRORS_CONTEXT, VALIDATION_REPORT_FILE } from 'aws-cdk-lib/cx-api';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parse } from 'yaml';
import { canaryApprovalEndpoint, canaryFunctions } from '../../lambdas/canary/functions';
import { certificateFunctions } from '../../lambdas/certificates/functions';
import { rightsizingFunctions } from '../../lambdas/rightsizing/functions';
import { notifySlackFunction } from '../../lambdas/notify/functions';
import { rollbackFunctions } from '../../lambdas/rollback/functions';
import type { RunbookFunctionEntry } from '../../lambdas/shared/function-table';
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

/**
 * Every Lambda the example configuration's stack deploys (its rollback, certificates, rightsizing and canary
 * sections): the Slack notifier and the entries of each runbook's function table; of the canary's, all but
 * the smoke test (no example service has one), and the Slack approval endpoint (`slack.app` and an approval).
 */
export const functionEntries: readonly RunbookFunctionEntry[] = [
  notifySlackFunction,
  ...Object.values(rollbackFunctions),
  ...Object.values(certificateFunctions),
  ...Object.values(rightsizingFunctions),
  ...Object.values(canaryFunctions).filter((entry) => entry !== canaryFunctions.smokeTest),
  canaryApprovalEndpoint,
];

/**
 * The state machines of the example configuration's stack: the rollback, the certificate check, the right-sizing
 * report, the canary promotion.
 */
export const STATE_MACHINE_COUNT = 4;

const examplePath = new URL('../../lib/config/example.yaml', import.meta.url);
const vpcExamplePath = new URL('../../lib/config/example-vpc.yaml', import.meta.url);

/** The example configuration as raw YAML data, a fresh copy each time, for a test to vary. */
export function exampleConfig(): Record<string, unknown> {
  return parse(readFileSync(examplePath, 'utf8')) as Record<string, unknown>;
}

/** The private-cluster example (`lib/config/example-vpc.yaml`), a fresh copy each time. */
export function vpcExampleConfig(): Record<string, unknown> {
  return parse(readFileSync(vpcExamplePath, 'utf8')) as Record<string, unknown>;
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

interface ValidationReport {
  pluginReports: {
    pluginName: string;
    violations: {
      ruleName: string;
      description: string;
      severity?: string;
      violatingConstructs: { constructPath?: string; cloudFormationResource?: { logicalId?: string } }[];
    }[];
  }[];
}

/**
 * AWS's Control Tower proactive-control rules (cfn-guard), as `bin/app.ts` runs them: a real synth with the
 * validator plugin, then the findings the report keeps after the constructs' acknowledgements. The rule is
 * the control id (`CT.SQS.PR.1`) followed by the guard rule name.
 */
export function controlTowerFindings(build: (app: App) => void): NagFinding[] {
  const outdir = mkdtempSync(join(tmpdir(), 'control-tower-'));
  try {
    const app = new App({
      outdir,
      context: { 'aws:cdk:bundling-stacks': [], [FAIL_SYNTH_ON_VALIDATION_ERRORS_CONTEXT]: false },
    });
    build(app);
    Validations.of(app).addPlugins(new CfnGuardValidator());
    app.synth();
    const report = JSON.parse(readFileSync(join(outdir, VALIDATION_REPORT_FILE), 'utf8')) as ValidationReport;
    return report.pluginReports.flatMap((plugin) =>
      plugin.violations.flatMap((violation) =>
        violation.violatingConstructs.map((construct) => ({
          rule: `${/\[(CT\.[A-Z0-9.]+)\]/.exec(violation.description)?.[1] ?? '?'} ${violation.ruleName}`,
          severity: violation.severity ?? 'error',
          path: construct.constructPath ?? construct.cloudFormationResource?.logicalId ?? '(unknown)',
        })),
      ),
    );
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** The runbooks stack for a raw configuration, checked with the Control Tower rules. */
export function stackControlTowerFindings(raw: unknown): NagFinding[] {
  const config = parseConfig(raw, 'test configuration');
  return controlTowerFindings(
    (app) => new RunbooksStack(app, `PlatformRunbooks-${config.environment}`, { config }),
  );
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
