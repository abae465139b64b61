import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parse } from 'yaml';
import { parseConfig } from '../../lib/config/load';
import type { RunbooksConfig } from '../../lib/config/schema';
import { PlatformStack } from '../../lib/platform-stack';
import { RunbooksStack } from '../../lib/runbooks-stack';
import { controlTowerFindings, type NagFinding } from './synth';

/** The example environments, each with its configuration file `lib/config/platform-<environment>.yaml`. */
export const PLATFORM_ENVIRONMENTS = ['dev', 'staging', 'production'] as const;
export type PlatformEnvironment = (typeof PLATFORM_ENVIRONMENTS)[number];

/** The raw example configuration of an environment, a fresh copy each time. */
export function platformExample(environment: PlatformEnvironment): Record<string, unknown> {
  const path = new URL(`../../lib/config/platform-${environment}.yaml`, import.meta.url);
  return parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

export interface SynthesizedPlatform {
  config: RunbooksConfig;
  platform: PlatformStack;
  runbooks: RunbooksStack;
  app: App;
  template: Template;
  runbooksTemplate: Template;
  /** cdk-nag AwsSolutions findings of both stacks left after the acknowledgements. */
  findings: NagFinding[];
}

/** Both stacks of one configuration, as `bin/app.ts` builds them, bundling skipped. */
export function buildApp(
  app: App,
  config: RunbooksConfig,
): { platform: PlatformStack; runbooks: RunbooksStack } {
  const runbooks = new RunbooksStack(app, `PlatformRunbooks-${config.environment}`, { config });
  if (!config.platform) throw new Error('the configuration has no platform section');
  const platform = new PlatformStack(app, `Platform-${config.environment}`, {
    environment: config.environment,
    settings: config.platform,
    env: { account: config.account, region: config.region },
  });
  return { platform, runbooks };
}

const cache = new Map<PlatformEnvironment, SynthesizedPlatform>();

/** The example environment's app, synthesized once per worker; or a raw configuration's. */
export function synthPlatform(environment: PlatformEnvironment, raw?: unknown): SynthesizedPlatform {
  if (raw === undefined) {
    const cached = cache.get(environment);
    if (cached) return cached;
  }
  const config = parseConfig(raw ?? platformExample(environment), `platform-${environment}`);
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const { platform, runbooks } = buildApp(app, config);
  const template = Template.fromStack(platform);
  const runbooksTemplate = Template.fromStack(runbooks);
  const report = new AwsSolutionsChecks().validateScope(app);
  const findings = report.violations.flatMap((violation) =>
    violation.violatingResources.map((resource) => ({
      rule: violation.ruleName,
      severity: violation.severity ?? 'error',
      path: resource.constructPath ?? resource.resourceLogicalId ?? '(unknown)',
    })),
  );
  const synthesized = { config, platform, runbooks, app, template, runbooksTemplate, findings };
  if (raw === undefined) cache.set(environment, synthesized);
  return synthesized;
}

/** The Control Tower findings of an example environment's two stacks. */
export function platformControlTowerFindings(environment: PlatformEnvironment): NagFinding[] {
  const config = parseConfig(platformExample(environment), `platform-${environment}`);
  return controlTowerFindings((app) => buildApp(app, config));
}
