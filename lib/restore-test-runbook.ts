import { fileURLToPath } from 'node:url';
import { ArnFormat, Duration, RemovalPolicy, Stack, TimeZone } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Port, SecurityGroup } from 'aws-cdk-lib/aws-ec2';
import { type Policy, PolicyStatement, type Role } from 'aws-cdk-lib/aws-iam';
import { SubnetGroup } from 'aws-cdk-lib/aws-rds';
import { ContextAttribute, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { restoreTestFunctions } from '../lambdas/restore-test/functions';
import {
  HISTORY_PREFIX,
  REPORTS_PREFIX,
  RESTORE_TEST_METRICS_NAMESPACE,
  RestoreTestDimension,
  RestoreTestMetric,
} from '../lambdas/restore-test/metric-names';
import {
  type RestoreDatabase,
  type RestoreTestsSection,
  RestoreTestTag,
  restoreTestRuntime,
} from './config/restore-tests';
import { acknowledgeResource, stepPolicy, stepRole } from './runbook-step-roles';
import { RunbookFunction } from './runbook-function';
import type { RunbookReportsBucket } from './runbook-reports-bucket';
import type { RunbookSharedResources } from './runbook-shared-resources';
import { type RunbookTrigger, RunbookStateMachine } from './runbook-state-machine';

export interface RestoreTestRunbookProps {
  /** The shared resources; `network` is required: the checks run in the VPC, the copies live in its subnets. */
  readonly shared: RunbookSharedResources;
  /** The `restoreTests` section: the databases, their schedules, checks and targets, the janitor. */
  readonly settings: RestoreTestsSection;
  /**
   * The ASL definition (JSONPath), absolute path.
   * @default - `state-machines/restore-test.asl.json` in the repository
   */
  readonly definitionPath?: string;
}

/** The alarms of one database, all paging on-call. */
export interface RestoreTestAlarms {
  /** The run did not prove the backup restorable (no snapshot, restore failed, a check failed). */
  readonly failed: Alarm;
  /** Restore start → validated took longer than `targets.rtoMinutes`; only with that target. */
  readonly rto?: Alarm;
  /** The newest data was older than `targets.rpoMinutes`; only with that target. */
  readonly rpo?: Alarm;
}

/**
 * What a restore test names its instances and clusters: `restoredIdentifier` in
 * lambdas/restore-test/naming.ts (`restore-test-<source>-<8 hex of the execution>`). The write permissions
 * are scoped to this prefix; test/infrastructure/restore-test.test.ts checks the two agree.
 */
export const RESTORED_IDENTIFIER_PREFIX = 'restore-test-';

/** Where the Node.js Lambda runtime keeps its CA bundle, which includes the Amazon RDS CAs (reference.md). */
export const LAMBDA_CA_BUNDLE_PATH = '/var/runtime/ca-cert.pem';

const RESTORE_INSTANCE_ACTIONS = [
  'rds:RestoreDBInstanceFromDBSnapshot',
  'rds:RestoreDBInstanceToPointInTime',
];
/** Aurora: the cluster is restored, then its instance created in it (`CreateDBInstance`). */
const RESTORE_CLUSTER_ACTIONS = [
  'rds:RestoreDBClusterFromSnapshot',
  'rds:RestoreDBClusterToPointInTime',
  'rds:CreateDBInstance',
];
/** The actions that create an instance, which take the rds:PubliclyAccessible condition key. */
const INSTANCE_CREATE_ACTIONS = new Set([...RESTORE_INSTANCE_ACTIONS, 'rds:CreateDBInstance']);

/**
 * "Prove the backups restore": each configured database's schedule starts the workflow, which restores its
 * newest snapshot (or latest restorable time) into a temporary instance (or Aurora cluster and instance)
 * in a DB subnet group of the configured subnets, behind a security group that admits only the
 * validation Lambda and lets nothing out; validates the data with SQL from inside the VPC; measures RTO and
 * RPO; always deletes what it created; and reports (S3, metrics, Slack). A janitor schedule deletes what a
 * killed run left behind.
 *
 * Each step runs as its own role with only what it uses (RDS actions and resource types from the Service
 * Authorization Reference, "Actions, resources, and condition keys for Amazon RDS"):
 * - restores create only `restore-test-*` instances and clusters, and only with the tag
 *   `platform-runbooks:restore-test` = the environment in the request;
 * - deletes apply only to `restore-test-*` resources that carry that tag, so the runbook cannot delete a
 *   production database even by a bug in its own code;
 * - the sources are only read (described, and restored from);
 * - KMS: `kms:CreateGrant` for RDS only, on exactly the configured keys; the credentials secret exactly.
 * Alarms per database, paging on-call: a failed test, a missed RTO or RPO target, something left behind.
 */
export class RestoreTestRunbook extends Construct {
  public readonly prepareFunction: RunbookFunction;
  public readonly restoreFunction: RunbookFunction;
  public readonly checkRestoreFunction: RunbookFunction;
  public readonly validateFunction: RunbookFunction;
  public readonly cleanupFunction: RunbookFunction;
  public readonly reportFunction: RunbookFunction;
  public readonly janitorFunction: RunbookFunction;
  /** The restore step's role: creates `restore-test-*` instances and clusters, tagged, from the sources. */
  public readonly restoreRole: Role;
  /** The validation step's role: reads the configured credentials secrets, nothing else. */
  public readonly validateRole: Role;
  /** The cleanup step's role: deletes tagged `restore-test-*` instances and clusters only. */
  public readonly cleanupRole: Role;
  /** The janitor's role: the cleanup's deletes, and listing instances and clusters to find leftovers. */
  public readonly janitorRole: Role;
  /** The DB subnet group the copies are restored into: the network's subnets. */
  public readonly subnetGroup: SubnetGroup;
  /** The restored instances' group: ingress on the database ports from the validator group only, no egress. */
  public readonly restoredSecurityGroup: SecurityGroup;
  /** The validation Lambda's own group (besides the network's): egress to the restored instances only. */
  public readonly validatorSecurityGroup: SecurityGroup;
  public readonly reports: RunbookReportsBucket;
  public readonly workflow: RunbookStateMachine;
  /** By database name. */
  public readonly alarms: ReadonlyMap<string, RestoreTestAlarms>;

  constructor(scope: Construct, id: string, props: RestoreTestRunbookProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { shared, settings } = props;
    const { environment, network } = shared;
    if (network === undefined) {
      throw new Error(
        'The restore test needs a network section: the validation Lambda runs in the VPC and the restored instances are placed in its subnets',
      );
    }
    const runtime = restoreTestRuntime({ environment, settings });
    const { databases } = settings;
    const instances = databases.flatMap((database) => (database.instance ? [database.instance] : []));
    const clusters = databases.flatMap((database) => (database.cluster ? [database.cluster] : []));

    // Network ---------------------------------------------------------------------------------------------
    const subnetGroupName = `platform-runbooks-${environment}-restore-test`;
    this.subnetGroup = new SubnetGroup(this, 'SubnetGroup', {
      vpc: network.vpc,
      vpcSubnets: { subnets: network.subnets },
      subnetGroupName,
      description: `platform-runbooks restore tests (${environment}): the temporary instances`,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.restoredSecurityGroup = new SecurityGroup(this, 'RestoredSecurityGroup', {
      vpc: network.vpc,
      description: `platform-runbooks restore tests (${environment}): restored instances, validator in only, nothing out`,
      // No egress rule at all: a restored copy of production data reaches nothing.
      allowAllOutbound: false,
    });
    this.validatorSecurityGroup = new SecurityGroup(this, 'ValidatorSecurityGroup', {
      vpc: network.vpc,
      description: `platform-runbooks restore tests (${environment}): validation Lambda to the restored instances`,
      allowAllOutbound: false,
    });
    for (const port of [...new Set(databases.map((database) => database.port))].sort((a, b) => a - b)) {
      // An egress rule on the validator group and the matching ingress rule on the restored group.
      this.validatorSecurityGroup.connections.allowTo(
        this.restoredSecurityGroup,
        Port.tcp(port),
        `PostgreSQL on ${port} from the restore test validation to the restored instances`,
      );
    }

    // ARNs ------------------------------------------------------------------------------------------------
    // RDS ARNs are arn:<partition>:rds:<region>:<account>:<type>:<name> (resource types table of the
    // Service Authorization Reference for Amazon RDS).
    const rds = (resource: string, name: string): string =>
      stack.formatArn({
        service: 'rds',
        resource,
        resourceName: name,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
    const restoredInstances = rds('db', `${RESTORED_IDENTIFIER_PREFIX}*`);
    const restoredClusters = rds('cluster', `${RESTORED_IDENTIFIER_PREFIX}*`);
    const sourceInstances = instances.map((identifier) => rds('db', identifier));
    const sourceClusters = clusters.map((identifier) => rds('cluster', identifier));
    // Snapshots are chosen at run time, and their names do not all carry the source's: automated ones are
    // rds:<id>-<date>, AWS Backup's awsbackup:job-<uuid>, manual ones anything.
    const snapshots = rds('snapshot', '*');
    const clusterSnapshots = rds('cluster-snapshot', '*');
    const subnetGroupArn = rds('subgrp', subnetGroupName);
    // The restore names no option or parameter group: RDS uses the engine's defaults (default:postgres-16,
    // default.postgres16, default.aurora-postgresql16), which the restore actions list as required resources.
    const defaultGroups = [
      rds('og', 'default:*'),
      rds('pg', 'default.*'),
      ...(clusters.length > 0 ? [rds('cluster-pg', 'default.*')] : []),
    ];
    const tagged = { StringEquals: { [`aws:RequestTag/${RestoreTestTag.marker}`]: environment } };
    const taggedResource = { StringEquals: { [`aws:ResourceTag/${RestoreTestTag.marker}`]: environment } };

    this.reports = shared.reportsBucket();
    this.reports.addRetention({
      prefix: REPORTS_PREFIX,
      expireAfter: Duration.days(settings.reportRetentionDays),
      archiveAfter: Duration.days(90),
    });
    // HISTORY_PREFIX has no expiry: one small document per database, rewritten each run (the bucket keeps
    // overwritten versions 30 days); the next run compares its row counts with it.
    const bucketEnvironment = { REPORT_BUCKET: this.reports.bucket.bucketName };
    const environmentName = { ENVIRONMENT_NAME: environment };
    const lambdaRole = (roleId: string, description: string): Role =>
      stepRole(this, roleId, description, environment);
    const policy = (policyId: string, role: Role, statements: PolicyStatement[]): Policy =>
      stepPolicy(this, policyId, role, statements);
    const acknowledge = acknowledgeResource;
    const restoredReason =
      'Only the temporary instances and clusters: they are named per run (restore-test-<source>-<hash of the database and its scheduled time>, lambdas/restore-test/naming.ts), so only their prefix is known here.';
    const snapshotsReason =
      'Read (describe, restore from) only: the newest snapshot of a source is chosen at run time, and snapshot names do not all carry the source identifier (automated ones are rds:<id>-<date>, AWS Backup ones awsbackup:job-<uuid>).';

    // Prepare: chooses the snapshot (or the latest restorable time), reads the previous run's counts. ----
    const prepareRole = lambdaRole('PrepareRole', 'Restore test: chooses the snapshot to restore');
    const prepareStatements: PolicyStatement[] = [];
    if (instances.length > 0) {
      prepareStatements.push(
        new PolicyStatement({
          sid: 'DescribeInstanceSnapshots',
          actions: ['rds:DescribeDBSnapshots'],
          resources: [...sourceInstances, snapshots],
        }),
        new PolicyStatement({
          sid: 'DescribeSourceInstances',
          // LatestRestorableTime, for point-in-time restores.
          actions: ['rds:DescribeDBInstances'],
          resources: sourceInstances,
        }),
      );
    }
    if (clusters.length > 0) {
      prepareStatements.push(
        new PolicyStatement({
          sid: 'DescribeClusterSnapshots',
          actions: ['rds:DescribeDBClusterSnapshots'],
          resources: [...sourceClusters, clusterSnapshots],
        }),
        new PolicyStatement({
          sid: 'DescribeSourceClusters',
          actions: ['rds:DescribeDBClusters'],
          resources: sourceClusters,
        }),
      );
    }
    const preparePolicy = policy('PreparePolicy', prepareRole, prepareStatements);
    for (const resource of [
      ...(instances.length > 0 ? [snapshots] : []),
      ...(clusters.length > 0 ? [clusterSnapshots] : []),
    ]) {
      acknowledge(preparePolicy, resource, snapshotsReason);
    }
    this.reports.grantRead(prepareRole, HISTORY_PREFIX);
    this.prepareFunction = new RunbookFunction(this, 'PrepareFunction', {
      definition: restoreTestFunctions.prepare,
      platform: shared,
      role: prepareRole,
      environment: { ...environmentName, ...bucketEnvironment },
    });
    this.prepareFunction.node.defaultChild?.node.addDependency(preparePolicy);

    // Restore: creates the tagged copy from a source. ---------------------------------------------------
    this.restoreRole = lambdaRole(
      'RestoreRole',
      'Restore test: restores into a temporary, isolated instance',
    );
    const createActions = [
      ...(instances.length > 0 ? RESTORE_INSTANCE_ACTIONS : []),
      ...(clusters.length > 0 ? RESTORE_CLUSTER_ACTIONS : []),
    ];
    const instanceCreateActions = createActions.filter((action) => INSTANCE_CREATE_ACTIONS.has(action));
    // CreateDBInstance is authorized on the cluster the instance joins, too (its optional `cluster` type).
    const clusterCreateActions = clusters.length > 0 ? RESTORE_CLUSTER_ACTIONS : [];
    const restoreStatements = [
      new PolicyStatement({
        sid: 'CreateTaggedPrivateInstances',
        actions: instanceCreateActions,
        resources: [restoredInstances],
        // The step asks for PubliclyAccessible false; a request for a public copy is refused here too.
        conditions: { ...tagged, BoolIfExists: { 'rds:PubliclyAccessible': 'false' } },
      }),
      ...(clusterCreateActions.length > 0
        ? [
            new PolicyStatement({
              sid: 'CreateTaggedClusters',
              // A cluster has no public access of its own (its instances have: the statement above).
              actions: clusterCreateActions,
              resources: [restoredClusters],
              conditions: tagged,
            }),
          ]
        : []),
      new PolicyStatement({
        sid: 'TagOnCreate',
        // Tags given at create are authorized as rds:AddTagsToResource too (reference.md).
        actions: ['rds:AddTagsToResource'],
        resources: [restoredInstances, ...(clusters.length > 0 ? [restoredClusters] : [])],
        conditions: tagged,
      }),
      new PolicyStatement({
        sid: 'RestoreFromTheSources',
        // The other resource types each create action is authorized on (Service Authorization Reference,
        // Amazon RDS; * = required): RestoreDBInstanceFromDBSnapshot db*, og*, pg*, subgrp*, snapshot;
        // RestoreDBInstanceToPointInTime db* (target and source), og*, pg*, subgrp*;
        // RestoreDBClusterFromSnapshot cluster*, cluster-pg*, og*, subgrp*, cluster-snapshot;
        // RestoreDBClusterToPointInTime cluster* (target and source), cluster-pg*, og*, subgrp*;
        // CreateDBInstance db*, cluster, og, pg, subgrp. aws:RequestTag/${TagKey} is a condition key of
        // every one of them, so the request still has to carry the tag.
        actions: createActions,
        resources: [
          ...(instances.length > 0 ? [...sourceInstances, snapshots] : []),
          ...(clusters.length > 0 ? [...sourceClusters, clusterSnapshots] : []),
          subnetGroupArn,
          ...defaultGroups,
        ],
        conditions: tagged,
      }),
    ];
    restoreStatements.push(
      new PolicyStatement({
        sid: 'ReadTemporaryCopies',
        // A retried step that meets an existing copy reads its tags: its own, or a duplicate run's.
        actions: ['rds:DescribeDBInstances', ...(clusters.length > 0 ? ['rds:DescribeDBClusters'] : [])],
        resources: [restoredInstances, ...(clusters.length > 0 ? [restoredClusters] : [])],
      }),
    );
    const restoreKeys = [
      ...new Set(databases.flatMap((database) => (database.kmsKeyArn ? [database.kmsKeyArn] : []))),
    ].sort();
    if (restoreKeys.length > 0) {
      // Restoring an encrypted snapshot: RDS creates a grant on its key (reference.md), for itself only.
      restoreStatements.push(
        new PolicyStatement({
          sid: 'LetRdsUseTheSnapshotKeys',
          actions: ['kms:CreateGrant'],
          resources: restoreKeys,
          conditions: {
            Bool: { 'kms:GrantIsForAWSResource': 'true' },
            StringEquals: { 'kms:ViaService': `rds.${stack.region}.amazonaws.com` },
          },
        }),
        new PolicyStatement({
          sid: 'DescribeTheSnapshotKeys',
          actions: ['kms:DescribeKey'],
          resources: restoreKeys,
        }),
      );
    }
    const restorePolicy = policy('RestorePolicy', this.restoreRole, restoreStatements);
    acknowledge(restorePolicy, restoredInstances, restoredReason);
    if (clusters.length > 0) acknowledge(restorePolicy, restoredClusters, restoredReason);
    if (instances.length > 0) acknowledge(restorePolicy, snapshots, snapshotsReason);
    if (clusters.length > 0) acknowledge(restorePolicy, clusterSnapshots, snapshotsReason);
    for (const group of defaultGroups) {
      acknowledge(
        restorePolicy,
        group,
        "RDS's default option and parameter groups, used (never changed) by a restore that names none; their names carry the engine and version (default:postgres-16, default.postgres16), which the snapshot decides.",
      );
    }
    this.restoreFunction = new RunbookFunction(this, 'RestoreFunction', {
      definition: restoreTestFunctions.restore,
      platform: shared,
      role: this.restoreRole,
      environment: {
        ...environmentName,
        DB_SUBNET_GROUP_NAME: this.subnetGroup.subnetGroupName,
        DB_SECURITY_GROUP_ID: this.restoredSecurityGroup.securityGroupId,
      },
    });
    this.restoreFunction.node.defaultChild?.node.addDependency(restorePolicy);

    // Check restore: reads the copy's status. ------------------------------------------------------------
    const checkRestoreRole = lambdaRole(
      'CheckRestoreRole',
      'Restore test: reads the temporary instance status',
    );
    const checkRestorePolicy = policy('CheckRestorePolicy', checkRestoreRole, [
      new PolicyStatement({
        sid: 'DescribeTemporaryInstances',
        actions: ['rds:DescribeDBInstances'],
        resources: [restoredInstances],
      }),
    ]);
    acknowledge(checkRestorePolicy, restoredInstances, restoredReason);
    this.checkRestoreFunction = new RunbookFunction(this, 'CheckRestoreFunction', {
      definition: restoreTestFunctions.checkRestore,
      platform: shared,
      role: checkRestoreRole,
    });
    this.checkRestoreFunction.node.defaultChild?.node.addDependency(checkRestorePolicy);

    // Validate: in the VPC, the credentials, the checks. -----------------------------------------------
    this.validateRole = lambdaRole('ValidateRole', 'Restore test: validates the restored data');
    const secrets = [...new Set(databases.map((database) => database.credentialsSecretArn))].sort();
    const secretKeys = [
      ...new Set(
        databases.flatMap((database) =>
          database.credentialsKmsKeyArn ? [database.credentialsKmsKeyArn] : [],
        ),
      ),
    ].sort();
    const validateStatements = [
      new PolicyStatement({
        sid: 'ReadTheCredentials',
        // The full ARNs (with Secrets Manager's 6-character suffix), so exactly these secrets.
        actions: ['secretsmanager:GetSecretValue'],
        resources: secrets,
      }),
    ];
    if (secretKeys.length > 0) {
      validateStatements.push(
        new PolicyStatement({
          sid: 'DecryptTheCredentials',
          actions: ['kms:Decrypt'],
          resources: secretKeys,
          conditions: {
            StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.amazonaws.com` },
          },
        }),
      );
    }
    const validatePolicy = policy('ValidatePolicy', this.validateRole, validateStatements);
    this.validateFunction = new RunbookFunction(this, 'ValidateFunction', {
      definition: restoreTestFunctions.validate,
      platform: shared,
      role: this.validateRole,
      securityGroups: [this.validatorSecurityGroup],
      environment: {
        // Verified TLS to RDS: the runtime's bundle has the Amazon RDS CAs, Node does not load it by default.
        CA_BUNDLE_PATH: LAMBDA_CA_BUNDLE_PATH,
      },
    });
    this.validateFunction.node.defaultChild?.node.addDependency(validatePolicy);

    // Cleanup and janitor: delete only what is tagged as this environment's restore test. -------------------
    // rds:DeleteDBInstance and rds:DeleteDBCluster take aws:ResourceTag/${TagKey}. DeleteDBInstance lists no
    // dependent action, so DeleteAutomatedBackups needs no rds:DeleteDBInstanceAutomatedBackup (whose
    // auto-backup ARNs are ids RDS makes up). With SkipFinalSnapshot there is no cluster-snapshot to grant:
    // a final snapshot would be refused, as it should.
    // Both kinds whatever is configured now: a copy of a database since removed from the list is still
    // deleted.
    const deleteTaggedCopies = (): PolicyStatement =>
      new PolicyStatement({
        sid: 'DeleteTaggedTemporaryCopiesOnly',
        actions: ['rds:DeleteDBInstance', 'rds:DeleteDBCluster'],
        resources: [restoredInstances, restoredClusters],
        conditions: taggedResource,
      });
    this.cleanupRole = lambdaRole('CleanupRole', 'Restore test: deletes what its run created');
    const cleanupPolicy = policy('CleanupPolicy', this.cleanupRole, [
      new PolicyStatement({
        sid: 'ReadTemporaryCopies',
        // Tags come with the descriptions (TagList): no rds:ListTagsForResource.
        actions: ['rds:DescribeDBInstances', 'rds:DescribeDBClusters'],
        resources: [restoredInstances, restoredClusters],
      }),
      deleteTaggedCopies(),
    ]);
    this.janitorRole = lambdaRole(
      'JanitorRole',
      'Restore test janitor: deletes leftover restore test copies',
    );
    const allInstances = rds('db', '*');
    const allClusters = rds('cluster', '*');
    const janitorPolicy = policy('JanitorPolicy', this.janitorRole, [
      deleteTaggedCopies(),
      new PolicyStatement({
        sid: 'ListInstancesAndClusters',
        // Listing (no identifier) is authorized on db:* and cluster:* of this account and region.
        actions: ['rds:DescribeDBInstances', 'rds:DescribeDBClusters'],
        resources: [allInstances, allClusters],
      }),
    ]);
    for (const deleting of [cleanupPolicy, janitorPolicy]) {
      for (const resource of [restoredInstances, restoredClusters]) {
        acknowledge(
          deleting,
          resource,
          `${restoredReason} Deletion also needs the tag ${RestoreTestTag.marker}=${environment} on the resource, which only the restore step sets.`,
        );
      }
    }
    for (const resource of [allInstances, allClusters]) {
      acknowledge(
        janitorPolicy,
        resource,
        'rds:DescribeDBInstances and rds:DescribeDBClusters without an identifier (the janitor lists every instance and cluster to find leftovers) are authorized on db:* and cluster:* of this account and region; read-only.',
      );
    }
    this.cleanupFunction = new RunbookFunction(this, 'CleanupFunction', {
      definition: restoreTestFunctions.cleanup,
      platform: shared,
      role: this.cleanupRole,
      environment: environmentName,
    });
    this.cleanupFunction.node.defaultChild?.node.addDependency(cleanupPolicy);
    this.janitorFunction = new RunbookFunction(this, 'JanitorFunction', {
      definition: restoreTestFunctions.janitor,
      platform: shared,
      role: this.janitorRole,
      environment: { ...environmentName, ...runtime.janitorEnvironment },
    });
    this.janitorFunction.node.defaultChild?.node.addDependency(janitorPolicy);

    // Report ----------------------------------------------------------------------------------------------
    const reportRole = lambdaRole(
      'ReportRole',
      'Restore test: writes the report, the history and the metrics',
    );
    this.reports.grantWrite(reportRole, REPORTS_PREFIX);
    this.reports.grantWrite(reportRole, HISTORY_PREFIX);
    this.reports.grantRead(reportRole, HISTORY_PREFIX);
    this.reportFunction = new RunbookFunction(this, 'ReportFunction', {
      definition: restoreTestFunctions.report,
      platform: shared,
      role: reportRole,
      environment: { ...environmentName, ...bucketEnvironment },
    });
    for (const [role, prefixes] of [
      [prepareRole, [HISTORY_PREFIX]],
      [reportRole, [REPORTS_PREFIX, HISTORY_PREFIX]],
    ] as const) {
      for (const prefix of prefixes) {
        acknowledge(
          role,
          this.reports.objectsArn(prefix),
          `Objects under ${prefix} of the reports bucket only: their keys are made per run (database, date) or per database.`,
        );
      }
    }

    // Workflow --------------------------------------------------------------------------------------------
    const triggers: RunbookTrigger[] = databases.map((database) => ({
      kind: 'schedule',
      description: `Restore test of ${database.name} (${environment})`,
      schedule: ScheduleExpression.expression(database.schedule, TimeZone.of(database.timeZone)),
      // Scheduler fills in the scheduled time: two deliveries of one start name the same run.
      input: { task: 'restore-test', database: database.name, scheduledTime: ContextAttribute.scheduledTime },
    }));
    triggers.push({
      kind: 'schedule',
      description: `Restore test janitor: deletes leftover restore test copies (${environment})`,
      schedule: ScheduleExpression.expression(settings.janitor.schedule),
      input: { task: 'janitor' },
    });
    this.workflow = new RunbookStateMachine(this, 'Workflow', {
      runbook: 'restore-test',
      shared,
      definitionPath:
        props.definitionPath ??
        fileURLToPath(new URL('../state-machines/restore-test.asl.json', import.meta.url)),
      functions: [
        this.prepareFunction,
        this.restoreFunction,
        this.checkRestoreFunction,
        this.validateFunction,
        this.cleanupFunction,
        this.reportFunction,
        this.janitorFunction,
      ],
      // Databases: the settings as a JSON document in an ASL string; PollSeconds: the Wait states' interval.
      substitutions: runtime.substitutions,
      // The slowest restore, then validation, cleanup (with its retries) and the report.
      timeout: Duration.minutes(runtime.timeoutMinutes),
      trigger: triggers,
    });

    // Alarms ----------------------------------------------------------------------------------------------
    const page = new SnsAction(shared.onCallTopic);
    const alarms = new Map<string, RestoreTestAlarms>();
    databases.forEach((database, index) => {
      const created = this.databaseAlarms(database, index, environment);
      for (const alarm of [created.failed, created.rto, created.rpo]) {
        alarm?.addAlarmAction(page);
      }
      alarms.set(database.name, created);
    });
    this.alarms = alarms;
  }

  /**
   * One database's alarms. Each run publishes one value of each metric; runs are monthly or so, and every
   * hour without a run has no data, which is NOT_BREACHING: a run that does not start is paged by the
   * workflow's own alarms (undelivered starts, failed or timed-out executions), not by these.
   */
  private databaseAlarms(database: RestoreDatabase, index: number, environment: string): RestoreTestAlarms {
    const metric = (metricName: string) =>
      new Metric({
        namespace: RESTORE_TEST_METRICS_NAMESPACE,
        metricName,
        dimensionsMap: {
          [RestoreTestDimension.environment]: environment,
          [RestoreTestDimension.database]: database.name,
        },
        statistic: 'Maximum',
        period: Duration.hours(1),
      });
    const prefix = `platform-runbooks-${environment}-restore-test-${database.name}`;
    const reports = `the latest report (${REPORTS_PREFIX} in the reports bucket) or the execution`;
    const alarm = (
      alarmId: string,
      suffix: string,
      description: string,
      metricName: string,
      threshold: number,
      comparisonOperator: ComparisonOperator,
    ) =>
      new Alarm(this, `${alarmId}${index}`, {
        alarmName: `${prefix}-${suffix}`,
        alarmDescription: description,
        metric: metric(metricName),
        threshold,
        comparisonOperator,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
    const { rtoMinutes, rpoMinutes } = database.targets;
    return {
      failed: alarm(
        'FailedAlarm',
        'failed',
        `The restore test of ${database.name} did not prove its backup restorable (no snapshot, the restore failed, or a check failed). Read ${reports}.`,
        RestoreTestMetric.failed,
        1,
        ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      ),
      ...(rtoMinutes !== undefined && {
        rto: alarm(
          'RtoAlarm',
          'rto',
          `Restoring ${database.name} until its data was validated took longer than its RTO target of ${rtoMinutes} minutes. Read ${reports}.`,
          RestoreTestMetric.rtoSeconds,
          rtoMinutes * 60,
          ComparisonOperator.GREATER_THAN_THRESHOLD,
        ),
      }),
      ...(rpoMinutes !== undefined && {
        rpo: alarm(
          'RpoAlarm',
          'rpo',
          `The newest data restored from ${database.name} was older than its RPO target of ${rpoMinutes} minutes. Read ${reports}.`,
          RestoreTestMetric.rpoSeconds,
          rpoMinutes * 60,
          ComparisonOperator.GREATER_THAN_THRESHOLD,
        ),
      }),
    };
  }
}
