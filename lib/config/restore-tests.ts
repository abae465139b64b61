import * as z from 'zod/mini';
import { validationChecksSchema } from '../../lambdas/restore-test/checks';
import { boundedInt } from './fields';
import type { NetworkSettings } from './network';

// The backup-restore test's section of the configuration (`restoreTests:`), its checks against the shared
// sections, and what the runbook is deployed with, derived from it. The Lambdas read the same schema: the
// database settings reach them through the state machine definition (`${Databases}`), not the environment,
// whose 4 KB would not hold a database's SQL assertions.

/** RDS instance and cluster identifiers: a letter, then letters, digits and single hyphens, at most 63. */
export const rdsIdentifier = z
  .string()
  .check(
    z.regex(
      /^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)$/,
      'must be an RDS identifier (a letter, then letters, digits and single hyphens, at most 63, no trailing hyphen)',
    ),
  );

const arnOf = (service: string, resource: string, example: string) =>
  z
    .string()
    .check(
      z.regex(
        new RegExp(`^arn:aws[a-z-]*:${service}:[a-z0-9-]+:\\d{12}:${resource}$`),
        `must be an ARN such as ${example}`,
      ),
    );

const kmsKeyArn = arnOf('kms', 'key/[0-9a-f-]{36}', 'arn:aws:kms:eu-west-1:123456789012:key/<uuid>');
const secretArn = arnOf(
  'secretsmanager',
  'secret:[A-Za-z0-9/_+=.@!-]+',
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders/reader-AbCdEf',
);

export const SNAPSHOT_KINDS = ['automated', 'manual', 'awsbackup'] as const;

const scheduleExpression = z
  .string()
  .check(z.regex(/^(cron|rate)\(.+\)$/, 'must be a cron(…) or rate(…) expression'));

/** The RTO and RPO a restore test is held to: a run that misses one is reported and alarms. */
export const restoreTargetsSchema = z.strictObject({
  /** Restore start → data validated. */
  rtoMinutes: z.optional(boundedInt(1, 7 * 24 * 60)),
  /** Age of the newest data (the freshness check), else of the snapshot, when the run starts. */
  rpoMinutes: z.optional(boundedInt(1, 31 * 24 * 60)),
});

/** One database whose backups are restored and checked on a schedule. */
export const restoreDatabaseSchema = z.strictObject({
  /** What people call it: in resource names, metrics, reports and messages. */
  name: z
    .string()
    .check(z.regex(/^[a-z][a-z0-9-]{0,29}$/, 'must be 1-30 of a-z, 0-9, "-", starting with a letter')),
  /** The RDS instance whose backups are tested (PostgreSQL); exactly one of `instance` and `cluster`. */
  instance: z.optional(rdsIdentifier),
  /** The Aurora PostgreSQL cluster whose backups are tested; exactly one of `instance` and `cluster`. */
  cluster: z.optional(rdsIdentifier),
  /** An EventBridge Scheduler expression. @default 'cron(0 3 1 * ? *)' (monthly, the 1st at 03:00) */
  schedule: z._default(scheduleExpression, 'cron(0 3 1 * ? *)'),
  /** IANA time zone of the schedule. @default 'UTC' */
  timeZone: z._default(z.string().check(z.minLength(1)), 'UTC'),
  /**
   * `snapshot`: the newest available snapshot of `snapshotKinds`. `point-in-time`: the latest restorable
   * time (about five minutes behind; needs automated backups). @default 'snapshot'
   */
  restoreFrom: z._default(z.enum(['snapshot', 'point-in-time']), 'snapshot'),
  /** The snapshot kinds to choose from. @default ['automated', 'manual', 'awsbackup'] */
  snapshotKinds: z._default(z.array(z.enum(SNAPSHOT_KINDS)).check(z.minLength(1), z.maxLength(3)), [
    ...SNAPSHOT_KINDS,
  ]),
  /** The temporary instance's class: small, it only has to serve the checks. @default 'db.t4g.medium' */
  instanceClass: z._default(
    z
      .string()
      .check(z.regex(/^db\.[a-z0-9-]+\.[a-z0-9-]+$/, 'must be an RDS instance class such as db.t4g.medium')),
    'db.t4g.medium',
  ),
  /**
   * The KMS key the snapshots (or the cluster) are encrypted with: the restore is granted exactly
   * `kms:CreateGrant` (for RDS only) and `kms:DescribeKey` on it. Omitted: unencrypted, or the AWS managed key.
   */
  kmsKeyArn: z.optional(kmsKeyArn),
  /**
   * The Secrets Manager secret with the credentials to connect with (`{"username", "password"}`, as RDS
   * writes it): the restored copy keeps the snapshot's users and passwords.
   */
  credentialsSecretArn: secretArn,
  /** The key of that secret, when it is a customer managed one: the validation gets `kms:Decrypt` on it. */
  credentialsKmsKeyArn: z.optional(kmsKeyArn),
  /** The database the checks connect to. @default 'postgres' */
  databaseName: z._default(
    z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/, 'must be a PostgreSQL database name')),
    'postgres',
  ),
  /** @default 5432 */
  port: z._default(boundedInt(1150, 65_535), 5432),
  /** How long the restored instance may take to become available before the run gives up. @default 120 */
  availableTimeoutMinutes: z._default(boundedInt(10, 12 * 60), 120),
  /** TCP, TLS and authentication. @default 30 */
  connectTimeoutSeconds: z._default(boundedInt(1, 300), 30),
  /** Each check's statement: restored volumes load lazily from S3, first reads are slow. @default 300 */
  statementTimeoutSeconds: z._default(boundedInt(1, 600), 300),
  /** What proves the data came back: tables and row counts, SQL assertions, freshness (the RPO). */
  checks: validationChecksSchema,
  /** RTO/RPO targets. @default - figures are reported without a target */
  targets: z._default(restoreTargetsSchema, {}),
});
export type RestoreDatabase = z.output<typeof restoreDatabaseSchema>;
export type RestoreDatabaseInput = z.input<typeof restoreDatabaseSchema>;

/** What one database's settings may take in the definition (its SQL included): the state holds 256 KB. */
export const MAX_DATABASE_SETTINGS_BYTES = 32_000;
export const MAX_DATABASES = 20;

export const restoreTestsSectionSchema = z.strictObject({
  databases: z
    .array(restoreDatabaseSchema)
    .check(z.minLength(1), z.maxLength(MAX_DATABASES, `must list at most ${MAX_DATABASES} databases`)),
  /** Seconds between two reads of the restored instance's status. @default 60 */
  pollSeconds: z._default(boundedInt(30, 600), 60),
  /**
   * Deletes, on a schedule, every instance or cluster tagged as this stack's restore test that is older than
   * `maxAgeHours` (a run killed mid-way leaves one), and reports it.
   */
  janitor: z._default(
    z.strictObject({
      /** @default 'rate(1 hour)' */
      schedule: z._default(scheduleExpression, 'rate(1 hour)'),
      /** Older than this is left behind: it must be longer than a run may last. @default 24 */
      maxAgeHours: z._default(boundedInt(2, 24 * 14), 24),
    }),
    { schedule: 'rate(1 hour)', maxAgeHours: 24 },
  ),
  /** How long reports stay in the bucket. @default 400 */
  reportRetentionDays: z._default(boundedInt(7, 3_650), 400),
});
export type RestoreTestsSection = z.output<typeof restoreTestsSectionSchema>;

/** The tags every resource a restore test creates carries; the delete permissions are conditioned on the first. */
export const RestoreTestTag = {
  /** Value: the environment. Only resources with it can be deleted by the runbook. */
  marker: 'platform-runbooks:restore-test',
  /** Value: the execution that created it; a run deletes only what it created itself. */
  execution: 'platform-runbooks:execution',
  /** Value: the database's `name`. */
  database: 'platform-runbooks:database',
  /** Value: ISO 8601 time of creation; the janitor reads ages from it. */
  createdAt: 'platform-runbooks:created-at',
} as const;

/**
 * How long the longest run may last: the slowest restore, then validation (retries of an unreachable
 * instance included), cleanup (with its retries on an instance not yet deletable) and the report.
 */
export function restoreTestTimeoutMinutes(section: RestoreTestsSection): number {
  const slowest = Math.max(...section.databases.map((database) => database.availableTimeoutMinutes));
  return slowest + 90;
}

/** A Lambda takes at most 5 security groups; the validation Lambda adds the validator's to the shared ones. */
const MAX_SHARED_SECURITY_GROUPS = 4;

/** Every string in a parsed settings value, with its path. */
function stringsIn(value: unknown, path: (string | number)[] = []): [(string | number)[], string][] {
  if (typeof value === 'string') return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((item, index) => stringsIn(item, [...path, index]));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, item]) => stringsIn(item, [...path, key]));
  }
  return [];
}

export function checkRestoreTestsSection(
  { restoreTests, network }: { restoreTests: RestoreTestsSection; network?: NetworkSettings },
  ctx: z.core.$RefinementCtx,
): void {
  const path = ['restoreTests'];
  if (network === undefined) {
    ctx.addIssue({
      code: 'custom',
      path,
      message:
        'needs a network section: the validation Lambda runs in the VPC and the restored instances are placed in its subnets',
    });
  } else if (new Set(network.subnets.map((subnet) => subnet.availabilityZone)).size < 2) {
    ctx.addIssue({
      code: 'custom',
      path: ['network', 'subnets'],
      message: 'must span at least two availability zones for restoreTests: an RDS DB subnet group needs two',
    });
  }
  const names = new Set<string>();
  restoreTests.databases.forEach((database, index) => {
    const at = [...path, 'databases', index];
    if (names.has(database.name)) {
      ctx.addIssue({ code: 'custom', path: [...at, 'name'], message: `"${database.name}" is listed twice` });
    }
    names.add(database.name);
    if ((database.instance === undefined) === (database.cluster === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: at,
        message: 'must name exactly one of instance (RDS) and cluster (Aurora)',
      });
    }
    for (const [where, value] of stringsIn(database)) {
      if (value.includes('${')) {
        ctx.addIssue({
          code: 'custom',
          path: [...at, ...where],
          message:
            "must not contain \"${\": the settings reach the workflow through its definition substitutions, which would read it as a placeholder (in SQL, write '$' || '{' instead)",
        });
      }
    }
    const size = JSON.stringify(database).length;
    if (size > MAX_DATABASE_SETTINGS_BYTES) {
      ctx.addIssue({
        code: 'custom',
        path: at,
        message: `its settings take ${size} bytes, more than ${MAX_DATABASE_SETTINGS_BYTES}: they travel in the workflow's state (256 KB)`,
      });
    }
    const { rtoMinutes } = database.targets;
    if (rtoMinutes !== undefined && rtoMinutes > restoreTestTimeoutMinutes(restoreTests)) {
      ctx.addIssue({
        code: 'custom',
        path: [...at, 'targets', 'rtoMinutes'],
        message: `must be at most ${restoreTestTimeoutMinutes(restoreTests)} minutes: a run is stopped before then`,
      });
    }
  });
  if (
    network?.securityGroupIds !== undefined &&
    network.securityGroupIds.length > MAX_SHARED_SECURITY_GROUPS
  ) {
    ctx.addIssue({
      code: 'custom',
      path: ['network', 'securityGroupIds'],
      message: `must list at most ${MAX_SHARED_SECURITY_GROUPS} groups with restoreTests: the validation Lambda also gets the validator group, and a Lambda takes 5`,
    });
  }
  const runHours = restoreTestTimeoutMinutes(restoreTests) / 60;
  if (restoreTests.janitor.maxAgeHours <= runHours) {
    ctx.addIssue({
      code: 'custom',
      path: [...path, 'janitor', 'maxAgeHours'],
      message: `must be more than ${Number(runHours.toFixed(2))} hours, the longest a run may last: the janitor would delete the instance of a run still going`,
    });
  }
}

/** The settings as the workflow hands them to the prepare step: the databases by name. */
export function databasesSetting(section: RestoreTestsSection): Record<string, RestoreDatabase> {
  return Object.fromEntries(section.databases.map((database) => [database.name, database]));
}

/** What the construct and the rehearsal derive from the section, the same way. */
export function restoreTestRuntime({
  environment,
  settings,
}: {
  environment: string;
  settings: RestoreTestsSection;
}) {
  return {
    substitutions: {
      // A JSON document inside an ASL string: the prepare step parses it with restoreDatabaseSchema.
      Databases: JSON.stringify(JSON.stringify(databasesSetting(settings))).slice(1, -1),
      PollSeconds: String(settings.pollSeconds),
    },
    janitorEnvironment: {
      MAX_AGE_HOURS: String(settings.janitor.maxAgeHours),
    },
    timeoutMinutes: restoreTestTimeoutMinutes(settings),
    environment,
  };
}
