import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ConfigError, loadConfig, parseConfig } from '../../lib/config/load';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const examplePath = join(repoRoot, 'lib/config/example.yaml');
interface RawConfig {
  [key: string]: unknown;
  rollback: { targets: Record<string, unknown>[] };
}
/** The example as raw YAML data, a fresh copy for each test to break. */
const example = (): RawConfig => parse(readFileSync(examplePath, 'utf8')) as RawConfig;
/** The raw target at `index`, which the example has. */
function target(raw: RawConfig, index: number): Record<string, unknown> {
  const found = raw.rollback.targets[index];
  if (!found) throw new Error(`the example has no rollback.targets[${index}]`);
  return found;
}

/** The ConfigError message for a raw configuration, or fails the test. */
function errorFor(raw: unknown): string {
  try {
    parseConfig(raw, 'test.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('the configuration was accepted');
}

describe('the configuration', () => {
  it('accepts the example, with defaults filled in', () => {
    const config = loadConfig(examplePath);
    expect(config.environment).toBe('prod');
    expect(config.eksClusters).toEqual([
      { name: 'prod-eks', namespaces: ['checkout', 'payments', 'search'] },
    ]);
    expect(config.rollback?.targets).toHaveLength(2);
    expect(config.rollback?.tagDiscoveryAlarmPrefixes).toEqual(['rollback-']);
    expect(config.onCall.existingTopicArn).toBeUndefined();
  });

  it('names an unknown key and where it is', () => {
    const raw = example();
    target(raw, 0).team = 'checkout';
    expect(errorFor(raw)).toMatch(/rollback\.targets\[0\]: .*team/);
  });

  it('names an alarm target whose cluster is not configured', () => {
    const raw = example();
    target(raw, 0).cluster = 'staging-eks';
    expect(errorFor(raw)).toMatch(
      /rollback\.targets\[0\]\.cluster: cluster "staging-eks" is not listed in eksClusters/,
    );
  });

  it('names an alarm target in a namespace the runbooks have no access to', () => {
    const raw = example();
    target(raw, 1).namespace = 'inventory';
    expect(errorFor(raw)).toMatch(
      /rollback\.targets\[1\]\.namespace: namespace "inventory" is not in eksClusters/,
    );
  });

  it('names an alarm mapped twice', () => {
    const raw = example();
    target(raw, 1).alarmName = target(raw, 0).alarmName;
    expect(errorFor(raw)).toMatch(
      /rollback\.targets\[1\]\.alarmName: alarm "checkout-api-5xx-rate" is mapped twice/,
    );
  });

  it('names a malformed account id', () => {
    const raw = example();
    raw.account = '1234';
    expect(errorFor(raw)).toMatch(/account: must be a 12-digit AWS account id/);
  });

  it('refuses a configuration with no runbook section, since it would deploy nothing', () => {
    const raw: Record<string, unknown> = example();
    delete raw.rollback;
    delete raw.certificates;
    delete raw.rightsizing;
    delete raw.canary;
    expect(errorFor(raw)).toMatch(
      /\(root\): no runbook is configured: add a runbook section \(rollback, certificates, restoreTests, rightsizing, canary\)/,
    );
  });

  it.each(['rollback', 'certificates'])(
    'accepts a configuration whose only runbook section is %s',
    (kept) => {
      const left = kept === 'rollback' ? 'certificates' : 'rollback';
      const raw = Object.fromEntries(Object.entries(example()).filter(([key]) => key !== left));
      const config = parseConfig(raw, 'test.yaml');
      expect(config.rollback !== undefined).toBe(kept === 'rollback');
      expect(config.certificates !== undefined).toBe(kept === 'certificates');
    },
  );

  it('names the file it could not read', () => {
    expect(() => loadConfig(join(tmpdir(), 'no-such-runbooks-config.yaml'))).toThrow(
      /Cannot read configuration file .*no-such-runbooks-config\.yaml/,
    );
  });
});

const vpcExamplePath = join(repoRoot, 'lib/config/example-vpc.yaml');
/** The private-cluster example with its network section changed. */
function withNetwork(network: Record<string, unknown>): RawConfig {
  const raw = parse(readFileSync(vpcExamplePath, 'utf8')) as RawConfig;
  return { ...raw, network: { ...(raw.network as Record<string, unknown>), ...network } };
}

describe('the network and logs sections', () => {
  it('accepts the private-cluster example, with defaults filled in', () => {
    const config = loadConfig(vpcExamplePath);
    expect(config.network).toMatchObject({ internetAccess: true, createEndpoints: true });
    expect(config.network?.subnets).toHaveLength(2);
    expect(config.eksClusters[0]?.securityGroupId).toBe('sg-0c1a2b3c4d5e6f789');
  });

  it('keeps logs a year by default, as Control Tower asks', () => {
    expect(loadConfig(examplePath).logs).toEqual({ retentionDays: 365 });
  });

  it('names a retention CloudWatch Logs does not offer', () => {
    expect(errorFor({ ...example(), logs: { retentionDays: 45 } })).toMatch(
      /logs\.retentionDays: must be one of CloudWatch Logs' retention periods: 1, 3, 5/,
    );
  });

  it('names a malformed subnet id and where it is', () => {
    const raw = withNetwork({ subnets: [{ id: 'subnet-XYZ', availabilityZone: 'eu-west-1a' }] });
    expect(errorFor(raw)).toMatch(/network\.subnets\[0\]\.id: must be an id such as subnet-/);
  });

  it('names a subnet listed twice', () => {
    const subnet = { id: 'subnet-0aaaaaaaaaaaaaaa1', availabilityZone: 'eu-west-1a' };
    const raw = withNetwork({ subnets: [subnet, subnet], createEndpoints: false });
    expect(errorFor(raw)).toMatch(
      /network\.subnets\[1\]\.id: subnet subnet-0aaaaaaaaaaaaaaa1 is listed twice/,
    );
  });

  it('needs a route table per subnet to create the DynamoDB gateway endpoint', () => {
    const raw = withNetwork({
      subnets: [{ id: 'subnet-0aaaaaaaaaaaaaaa1', availabilityZone: 'eu-west-1a' }],
    });
    expect(errorFor(raw)).toMatch(/network\.subnets\[0\]\.routeTableId: is required with createEndpoints/);
  });

  it('needs one subnet per availability zone to create interface endpoints', () => {
    const raw = withNetwork({
      subnets: [
        {
          id: 'subnet-0aaaaaaaaaaaaaaa1',
          availabilityZone: 'eu-west-1a',
          routeTableId: 'rtb-0aaaaaaaaaaaaaaa1',
        },
        {
          id: 'subnet-0aaaaaaaaaaaaaaa2',
          availabilityZone: 'eu-west-1a',
          routeTableId: 'rtb-0aaaaaaaaaaaaaaa1',
        },
      ],
    });
    expect(errorFor(raw)).toMatch(
      /network\.subnets\[1\]\.availabilityZone: eu-west-1a already has subnet subnet-0aaaaaaaaaaaaaaa1/,
    );
  });

  it("needs the VPC's CIDR to bound egress without internet access", () => {
    expect(errorFor(withNetwork({ internetAccess: false }))).toMatch(
      /network\.vpcCidr: is required with internetAccess: false/,
    );
    expect(() =>
      parseConfig(withNetwork({ internetAccess: false, vpcCidr: '10.20.0.0/16' }), 't'),
    ).not.toThrow();
  });

  it('refuses a cluster security group without a network', () => {
    const raw = example();
    raw.eksClusters = [
      { name: 'prod-eks', namespaces: ['checkout', 'payments'], securityGroupId: 'sg-0c1a2b3c4d5e6f789' },
    ];
    expect(errorFor(raw)).toMatch(/eksClusters\[0\]\.securityGroupId: is used only with network/);
  });
});

describe('bin/app.ts with a bad configuration', () => {
  it('prints the field at fault and exits non-zero, without a stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'runbooks-config-'));
    const raw = example();
    raw.account = '1234';
    const configPath = join(dir, 'bad.yaml');
    writeFileSync(configPath, stringify(raw));

    // The CDK CLI hands `-c` context to the app through CDK_CONTEXT_JSON.
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: {
        ...process.env,
        CDK_CONTEXT_JSON: JSON.stringify({ config: configPath }),
        CDK_OUTDIR: join(dir, 'cdk.out'),
      },
      timeout: 60_000,
    });

    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`Invalid configuration in ${configPath}`);
    expect(run.stderr).toContain('account: must be a 12-digit AWS account id');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('says how to give one when none is given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'runbooks-config-'));
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, CDK_CONTEXT_JSON: '{}', CDK_OUTDIR: join(dir, 'cdk.out') },
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('-c config=<file>');
  });
});
