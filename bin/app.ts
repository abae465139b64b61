import { App, Tags, Validations } from 'aws-cdk-lib';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, loadConfig } from '../lib/config/load';
import { PlatformStack } from '../lib/platform-stack';
import { RunbooksStack } from '../lib/runbooks-stack';

// Context and configuration are read here, once; everything below receives typed props.
const app = new App();
const configPath: unknown = app.node.tryGetContext('config');

try {
  if (typeof configPath !== 'string' || configPath === '') {
    throw new ConfigError(
      'No configuration given: pass -c config=<file> (cdk.json defaults to lib/config/example.yaml).',
    );
  }
  const config = loadConfig(configPath);
  new RunbooksStack(app, `PlatformRunbooks-${config.environment}`, { config });
  // The core platform, when the configuration has a `platform` section: its own stack, which the runbooks
  // stack does not reference (it finds the cluster, database and alarms by name). Deploy it first.
  if (config.platform) {
    new PlatformStack(app, `Platform-${config.environment}`, {
      environment: config.environment,
      settings: config.platform,
      env: { account: config.account, region: config.region },
    });
  }
  Tags.of(app).add('app', 'platform-runbooks');
  Tags.of(app).add('environment', config.environment);
} catch (error) {
  // A configuration error names the field: print it alone, not a stack trace, and stop synth.
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

// cdk-nag AwsSolutions and AWS's Control Tower proactive-control rules (cfn-guard) run at synth; an
// unacknowledged finding of either fails it.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new CfnGuardValidator());
app.synth();
