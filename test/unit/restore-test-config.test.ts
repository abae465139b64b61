import { describe, expect, it } from 'vitest';
import {
  databasesSetting,
  type RestoreTestsSection,
  restoreTestRuntime,
  restoreTestTimeoutMinutes,
} from '../../lib/config/restore-tests';
import { configSchema, type RunbooksConfig } from '../../lib/config/schema';

const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders/reader-AbCdEf';
const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f';

const twoZones = {
  vpcId: 'vpc-0123456789abcdef0',
  subnets: [
    { id: 'subnet-0aaaaaaaaaaaaaaa1', availabilityZone: 'eu-west-1a' },
    { id: 'subnet-0bbbbbbbbbbbbbbb2', availabilityZone: 'eu-west-1b' },
  ],
};

/** One database with only what has no default. */
const database = (fields: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'orders',
  instance: 'orders-prod',
  credentialsSecretArn: SECRET,
  checks: { tables: [{ name: 'orders', minRows: 1 }] },
  ...fields,
});

/** A configuration with the restore test alone, in a two-zone network unless told otherwise (null: none). */
const raw = (
  restoreTests: Record<string, unknown> = { databases: [database()] },
  network: Record<string, unknown> | null = twoZones,
): Record<string, unknown> => ({
  environment: 'prod',
  slack: { webhookSecretName: 'platform-runbooks/slack-webhook' },
  eksClusters: [{ name: 'prod-eks', namespaces: ['checkout'] }],
  ...(network && { network }),
  restoreTests,
});

interface Issue {
  /** The field path as dotted text, e.g. `restoreTests.databases.0.name`. */
  path: string;
  message: string;
}

/** The issues the whole configuration schema finds, or fails the test when it accepts the configuration. */
function issuesOf(config: unknown): Issue[] {
  const result = configSchema.safeParse(config);
  if (result.success) throw new Error('the configuration was accepted');
  return result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
}

/** The messages of the issues on `path`. */
const messagesAt = (config: unknown, path: string): string[] =>
  issuesOf(config)
    .filter((issue) => issue.path === path)
    .map((issue) => issue.message);

/** The parsed configuration, or fails the test with the issues. */
function accepted(config: unknown): RunbooksConfig {
  const result = configSchema.safeParse(config);
  if (!result.success) throw new Error(`refused: ${JSON.stringify(result.error.issues)}`);
  return result.data;
}

function section(config: unknown): RestoreTestsSection {
  const { restoreTests } = accepted(config);
  if (!restoreTests) throw new Error('the configuration has no restoreTests section');
  return restoreTests;
}

describe('the restoreTests section', () => {
  it('fills in every default, for the section and for a database', () => {
    expect(section(raw())).toEqual({
      databases: [
        {
          name: 'orders',
          instance: 'orders-prod',
          schedule: 'cron(0 3 1 * ? *)',
          timeZone: 'UTC',
          restoreFrom: 'snapshot',
          snapshotKinds: ['automated', 'manual', 'awsbackup'],
          instanceClass: 'db.t4g.medium',
          credentialsSecretArn: SECRET,
          databaseName: 'postgres',
          port: 5432,
          availableTimeoutMinutes: 120,
          connectTimeoutSeconds: 30,
          statementTimeoutSeconds: 300,
          checks: { tables: [{ schema: 'public', name: 'orders', minRows: 1 }], assertions: [] },
          targets: {},
        },
      ],
      pollSeconds: 60,
      janitor: { schedule: 'rate(1 hour)', maxAgeHours: 24 },
      reportRetentionDays: 400,
    });
  });

  it('is a runbook section of its own: a configuration may deploy the restore test alone', () => {
    const config = accepted(raw());
    expect(config.rollback).toBeUndefined();
    expect(config.certificates).toBeUndefined();
    expect(config.restoreTests?.databases.map((entry) => entry.name)).toEqual(['orders']);
  });

  it('accepts an Aurora cluster instead of an instance', () => {
    const [aurora] = section(
      raw({ databases: [database({ instance: undefined, cluster: 'payments-aurora-prod' })] }),
    ).databases;
    expect(aurora).toMatchObject({ cluster: 'payments-aurora-prod' });
    expect(aurora?.instance).toBeUndefined();
  });

  it.each([
    ['both an instance and a cluster', { cluster: 'orders-aurora' }],
    ['neither an instance nor a cluster', { instance: undefined }],
  ])('refuses a database naming %s', (_case, fields) => {
    expect(messagesAt(raw({ databases: [database(fields)] }), 'restoreTests.databases.0')).toEqual([
      'must name exactly one of instance (RDS) and cluster (Aurora)',
    ]);
  });

  it('refuses an identifier RDS would refuse', () => {
    expect(
      messagesAt(
        raw({ databases: [database({ instance: 'orders--prod' })] }),
        'restoreTests.databases.0.instance',
      ),
    ).toEqual([expect.stringMatching(/must be an RDS identifier/)]);
  });

  it('needs a network: the validation runs in the VPC and the copies live in its subnets', () => {
    expect(messagesAt(raw(undefined, null), 'restoreTests')).toEqual([
      expect.stringMatching(/^needs a network section/),
    ]);
  });

  it('needs subnets in two availability zones, as a DB subnet group does', () => {
    const oneZone = { ...twoZones, subnets: [twoZones.subnets[0]] };
    expect(messagesAt(raw(undefined, oneZone), 'network.subnets')).toEqual([
      expect.stringMatching(/must span at least two availability zones for restoreTests/),
    ]);
  });

  it('leaves room for the validator group among the five a Lambda takes', () => {
    const groups = (count: number) => ({
      ...twoZones,
      securityGroupIds: Array.from({ length: count }, (_, index) => `sg-0000000000000000${index}`),
    });
    expect(messagesAt(raw(undefined, groups(5)), 'network.securityGroupIds')).toEqual([
      expect.stringMatching(/at most 4 groups with restoreTests/),
    ]);
    expect(accepted(raw(undefined, groups(4))).network?.securityGroupIds).toHaveLength(4);
  });

  it('refuses a database listed twice, by name', () => {
    expect(
      messagesAt(
        raw({ databases: [database(), database({ instance: 'orders-replica' })] }),
        'restoreTests.databases.1.name',
      ),
    ).toEqual(['"orders" is listed twice']);
  });

  it('keeps the janitor from deleting the copy of a run still going', () => {
    // The longest run: the slowest restore (120 minutes by default) and 90 minutes more, 3.5 hours.
    expect(restoreTestTimeoutMinutes(section(raw()))).toBe(210);
    expect(
      messagesAt(
        raw({ databases: [database()], janitor: { maxAgeHours: 3 } }),
        'restoreTests.janitor.maxAgeHours',
      ),
    ).toEqual([expect.stringMatching(/^must be more than 3\.5 hours, the longest a run may last/)]);
    expect(section(raw({ databases: [database()], janitor: { maxAgeHours: 4 } })).janitor.maxAgeHours).toBe(
      4,
    );
    // A slower restore moves the bound.
    expect(
      messagesAt(
        raw({ databases: [database({ availableTimeoutMinutes: 12 * 60 })], janitor: { maxAgeHours: 12 } }),
        'restoreTests.janitor.maxAgeHours',
      ),
    ).toEqual([expect.stringMatching(/^must be more than 13\.5 hours/)]);
  });

  it('refuses an RTO target a run could not meet before it is stopped', () => {
    expect(
      messagesAt(
        raw({ databases: [database({ targets: { rtoMinutes: 211 } })] }),
        'restoreTests.databases.0.targets.rtoMinutes',
      ),
    ).toEqual(['must be at most 210 minutes: a run is stopped before then']);
  });

  it('refuses "${" anywhere in a database, since the definition substitutions would read it', () => {
    const config = raw({
      databases: [
        database({
          checks: {
            assertions: [
              {
                name: 'no template left',
                sql: "SELECT NOT EXISTS (SELECT 1 FROM pages WHERE body LIKE '%${%')",
              },
              { name: 'cost ${total}', sql: 'SELECT true' },
            ],
          },
        }),
      ],
    });
    const issues = issuesOf(config).filter((issue) => issue.message.startsWith('must not contain "${"'));
    expect(issues.map((issue) => issue.path)).toEqual([
      'restoreTests.databases.0.checks.assertions.0.sql',
      'restoreTests.databases.0.checks.assertions.1.name',
    ]);
    // A lone "$" or "{" is fine.
    expect(
      section(
        raw({
          databases: [
            database({
              checks: {
                assertions: [{ name: 'price $ {x}', sql: "SELECT '{}'::jsonb = '{}' AND '$' = '$'" }],
              },
            }),
          ],
        }),
      ).databases[0]?.checks.assertions,
    ).toHaveLength(1);
  });

  it('refuses a database that checks nothing', () => {
    expect(
      messagesAt(raw({ databases: [database({ checks: {} })] }), 'restoreTests.databases.0.checks'),
    ).toEqual([expect.stringMatching(/name at least one table, assertion or freshness check/)]);
  });

  it('takes key and secret ARNs, not names or aliases', () => {
    const config = raw({
      databases: [database({ kmsKeyArn: 'alias/rds', credentialsSecretArn: 'orders/reader' })],
    });
    expect(messagesAt(config, 'restoreTests.databases.0.kmsKeyArn')).toEqual([
      expect.stringMatching(/must be an ARN such as arn:aws:kms:/),
    ]);
    expect(messagesAt(config, 'restoreTests.databases.0.credentialsSecretArn')).toEqual([
      expect.stringMatching(/must be an ARN such as arn:aws:secretsmanager:/),
    ]);
    expect(section(raw({ databases: [database({ kmsKeyArn: KEY })] })).databases[0]?.kmsKeyArn).toBe(KEY);
  });
});

describe('what the restore test is deployed with', () => {
  const settings = section(
    raw({
      databases: [
        database({ targets: { rtoMinutes: 60 } }),
        database({
          name: 'payments',
          instance: undefined,
          cluster: 'payments-aurora',
          availableTimeoutMinutes: 180,
        }),
      ],
      pollSeconds: 45,
      janitor: { maxAgeHours: 30 },
    }),
  );
  const runtime = restoreTestRuntime({ environment: 'prod', settings });

  it('writes the databases by name into the definition, as a JSON document inside an ASL string', () => {
    // What Step Functions hands the prepare step once "${Databases}" is replaced inside the quotes.
    const asDelivered = JSON.parse(`"${runtime.substitutions.Databases}"`) as string;
    expect(JSON.parse(asDelivered)).toEqual(databasesSetting(settings));
    expect(Object.keys(JSON.parse(asDelivered) as object)).toEqual(['orders', 'payments']);
    expect(runtime.substitutions.PollSeconds).toBe('45');
  });

  it('bounds a run by the slowest restore, and gives the janitor its age', () => {
    expect(runtime.timeoutMinutes).toBe(180 + 90);
    expect(runtime.janitorEnvironment).toEqual({ MAX_AGE_HOURS: '30' });
  });
});
