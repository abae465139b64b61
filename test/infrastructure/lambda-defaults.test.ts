import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { RunbookLogs } from '../../lib/runbook-logs';
import { RunbookFunction } from '../../lib/runbook-function';
import { notifySlackFunction } from '../../lambdas/notify/functions';
import { idOf, present } from './helpers';
import { functionEntries, synth, type Synthesized } from './synth';

interface DeployedFunction {
  Timeout: number;
  MemorySize: number;
  Environment: { Variables: Record<string, string | undefined> };
}

const deployedFunctions = (synthesized: Synthesized): DeployedFunction[] =>
  Object.values(synthesized.template.findResources('AWS::Lambda::Function')).map(
    (resource) => (resource as { Properties: DeployedFunction }).Properties,
  );

describe('every runbook Lambda', () => {
  let synthesized: Synthesized;
  beforeAll(() => {
    synthesized = synth();
  });

  /** Each deployed function's properties, by its POWERTOOLS_SERVICE_NAME. */
  const deployed = (): Map<string, DeployedFunction> =>
    new Map(
      deployedFunctions(synthesized).map((fn) => [
        present(fn.Environment.Variables.POWERTOOLS_SERVICE_NAME, 'POWERTOOLS_SERVICE_NAME'),
        fn,
      ]),
    );

  it('runs Node.js 22 on arm64 with active tracing, and 256 MB unless its table entry sets memoryMb', () => {
    synthesized.template.resourceCountIs('AWS::Lambda::Function', functionEntries.length);
    synthesized.template.allResourcesProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
    });
    const functions = deployed();
    for (const entry of functionEntries) {
      const fn = present(functions.get(entry.serviceName), entry.serviceName);
      expect(fn.MemorySize, entry.serviceName).toBe(entry.memoryMb ?? 256);
    }
  });

  it("gives each its table entry's timeoutSeconds, else 30 s, except the Slack notifier, which needs 40 s for its bounded retries", () => {
    const functions = deployed();
    for (const entry of functionEntries) {
      const fn = present(functions.get(entry.serviceName), entry.serviceName);
      expect(fn.Timeout, entry.serviceName).toBe(
        entry === notifySlackFunction ? 40 : (entry.timeoutSeconds ?? 30),
      );
    }
    const notifier = present(functions.get(notifySlackFunction.serviceName), 'the notifier');
    expect(notifier.Environment.Variables.WEBHOOK_SECRET_ID).toBeDefined();
  });

  it("names its Powertools service after its table entry's serviceName, logs at INFO and maps stack traces to the sources", () => {
    synthesized.template.allResourcesProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: Match.anyValue(),
          POWERTOOLS_LOG_LEVEL: 'INFO',
          NODE_OPTIONS: '--enable-source-maps',
        }),
      },
    });
    // Every table entry once, and no function whose service name is in no table.
    const names = deployedFunctions(synthesized).map(
      (fn) => fn.Environment.Variables.POWERTOOLS_SERVICE_NAME,
    );
    expect(names.sort()).toEqual(functionEntries.map((entry) => entry.serviceName).sort());
  });

  it('logs to its own log group, kept a year, encrypted with the logs key and deleted with the stack', () => {
    const logsKey = idOf(synthesized, synthesized.stack.logs.key);
    const logGroups = synthesized.template.findResources('AWS::Logs::LogGroup');
    const functions = Object.values(synthesized.template.findResources('AWS::Lambda::Function'));
    for (const fn of functions) {
      const logGroupId = (fn.Properties.LoggingConfig.LogGroup as { Ref: string }).Ref;
      expect(logGroups[logGroupId]).toMatchObject({
        Properties: { RetentionInDays: 365, KmsKeyId: { 'Fn::GetAtt': [logsKey, 'Arn'] } },
        DeletionPolicy: 'Delete',
        UpdateReplacePolicy: 'Delete',
      });
    }
  });

  it('gets the settings its handler reads', () => {
    synthesized.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'notify-slack',
          WEBHOOK_SECRET_ID: 'platform-runbooks/slack-webhook',
          ENVIRONMENT_NAME: 'prod',
          DASHBOARD_URL: 'https://grafana.example.com/d/platform-runbooks',
        }),
      },
    });
    synthesized.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'rollback-prepare',
          ROLLBACK_TARGETS: Match.serializedJson([
            {
              alarmName: 'checkout-api-5xx-rate',
              cluster: 'prod-eks',
              namespace: 'checkout',
              deployment: 'checkout-api',
            },
            {
              alarmName: 'payments-worker-error-rate',
              cluster: 'prod-eks',
              namespace: 'payments',
              deployment: 'payments-worker',
            },
          ]),
          TAG_DISCOVERY_PREFIXES: '["rollback-"]',
          COOLDOWN_SECONDS: '1800',
          LOCK_TABLE_NAME: { Ref: Match.anyValue() },
          ENVIRONMENT_NAME: 'prod',
          ACCOUNT_ID: { Ref: 'AWS::AccountId' },
        }),
      },
    });
    synthesized.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'rollback-undo',
          LOCK_TABLE_NAME: { Ref: Match.anyValue() },
        }),
      },
    });
  });
});

describe('a RunbookFunction bundle', () => {
  it('is built by the local esbuild as minified ESM (index.mjs) with a require shim and a source map of mappings only', () => {
    const app = new App();
    const stack = new Stack(app, 'BundlingTest');
    const role = new Role(stack, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    new RunbookFunction(stack, 'Hello', {
      definition: {
        handler: 'test/infrastructure/fixtures/hello-handler.ts',
        serviceName: 'hello',
        substitution: 'HelloFunctionArn',
        description: 'Bundling test',
        reaches: [],
      },
      platform: {
        logs: new RunbookLogs(stack, 'Logs', { environment: 'test', settings: { retentionDays: 365 } }),
      },
      role,
    });
    const assembly = app.synth();
    const bundles = readdirSync(assembly.directory)
      .filter((name) => name.startsWith('asset.'))
      .map((name) => join(assembly.directory, name))
      .filter((dir) => existsSync(join(dir, 'index.mjs')));
    expect(bundles).toHaveLength(1);
    const [bundle] = bundles as [string];
    const code = readFileSync(join(bundle, 'index.mjs'), 'utf8');
    expect(
      code.startsWith(
        "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
      ),
    ).toBe(true);
    expect(code).toMatch(/export\s*\{/);
    expect(code.split('\n').length).toBeLessThan(10);
    expect(code).toMatch(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
    // Mappings only: Node reads the whole map at every cold start, and a trace needs no source text.
    const map = JSON.parse(readFileSync(join(bundle, 'index.mjs.map'), 'utf8')) as Record<string, unknown>;
    expect(map.sources).toEqual([
      expect.stringMatching(/test\/infrastructure\/fixtures\/hello-handler\.ts$/),
    ]);
    expect(map).not.toHaveProperty('sourcesContent');
  });
});
