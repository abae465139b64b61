import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HISTORY_PREFIX, REPORTS_PREFIX } from '../../lambdas/restore-test/metric-names';
import type { RestoreTestReport } from '../../lambdas/restore-test/report';
import { RestoreTestTag } from '../../lib/config/restore-tests';
import type { RunbooksConfig } from '../../lib/config/schema';
import { Rehearsal, type RehearsalResult } from '../harness/rehearsal';
import { otherRestoreModes } from '../harness/restore-test/config';
import { DB_SECURITY_GROUP_ID, REPORT_BUCKET, restoreTestPeersOf } from '../harness/restore-test/peers';
import { rehearsedRunbook } from '../harness/restore-test/rehearsal';
import type { SimulatedResource } from '../harness/restore-test/simulated-rds';

// The backup-restore test's real ASL file and handlers against a simulated RDS (snapshots, lifecycle, RDS's
// error classes), the report bucket, Secrets Manager, a real PostgreSQL 18 over verified TLS standing in for
// every restored instance, and a real Slack receiver. Every scenario also proves the account is left as it
// was found: nothing created still running, and every delete without a final snapshot or kept backups.

let rehearsal: Rehearsal<RunbooksConfig>;
const stdout: string[] = [];
const write = process.stdout.write.bind(process.stdout);

beforeAll(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  // The report step's Embedded Metric Format lines, as CloudWatch Logs would receive them.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = String(chunk);
    if (text.includes('"_aws"')) {
      stdout.push(...text.split('\n').filter((line) => line.includes('"_aws"')));
      return true;
    }
    return (write as (chunk: string | Uint8Array, ...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
});
afterAll(() => {
  process.stdout.write = write;
});

const HOUR = 3_600;
const peers = () => restoreTestPeersOf(rehearsal);
const rds = () => peers().rds;

interface Ran {
  results: RehearsalResult[];
  result: RehearsalResult;
  /** The JSON reports written, in order. */
  reports: RestoreTestReport[];
  report: RestoreTestReport | undefined;
}

async function run(name: string): Promise<Ran> {
  stdout.length = 0;
  const results = await rehearsal.runScenario(name);
  const [result] = results;
  if (!result) throw new Error(`scenario ${name} ran nothing`);
  const reports = [...peers().buckets.objects(REPORT_BUCKET).entries()]
    .filter(([key]) => key.startsWith(REPORTS_PREFIX) && key.endsWith('.json'))
    .map(([, object]) => JSON.parse(object.body) as RestoreTestReport);
  return { results, result, reports, report: reports[0] };
}

const emf = () => stdout.map((line) => JSON.parse(line) as Record<string, unknown>);
const slackText = () => rehearsal.slack.messages.map((message) => JSON.stringify(message.body)).join('\n');
const lifecycle = () => rehearsal.account.events.map((event) => event.detailType);
/**
 * A figure measured on the virtual clock: the minutes a scenario sets, give or take the real milliseconds the
 * steps took between two readings of the clock (a few, never seconds). Either side: a step reads the clock
 * before the call whose answer it measures against (prepare's start, then LatestRestorableTime).
 */
function expectSeconds(value: number | undefined, expected: number): void {
  expect(value).toBeGreaterThan(expected - 1);
  expect(value).toBeLessThan(expected + 5);
}

const count = (states: string[], name: string) => states.filter((state) => state === name).length;

/** Nothing a run created is still there, and every delete skipped the final snapshot and deleted backups. */
function expectNothingLeftBehind(): void {
  expect(rds().leftovers()).toEqual([]);
  expectEveryDeleteClean();
}

function expectEveryDeleteClean(): void {
  for (const input of [...rds().callsTo('DeleteDBInstance'), ...rds().callsTo('DeleteDBCluster')]) {
    expect(input).toMatchObject({ SkipFinalSnapshot: true, DeleteAutomatedBackups: true });
    expect(input.FinalDBSnapshotIdentifier).toBeUndefined();
  }
}

/** Deletes RDS accepted, as `kind id`. */
const accepted = () =>
  rds()
    .deletes.filter((record) => record.refused === undefined)
    .map((record) => `${record.kind} ${record.id}`);

const created = () => rds().created();
const only = (resources: SimulatedResource[]): SimulatedResource => {
  expect(resources).toHaveLength(1);
  return resources[0] as SimulatedResource;
};

/** The path from the report on, for a run that reported without paging. */
const REPORTED = ['Report', 'NotifyReport', 'PageNeeded', 'PublishOutcome', 'ReportPageDelivered', 'Done'];

describe('the restore test of the example configuration', () => {
  beforeAll(async () => {
    rehearsal = await Rehearsal.start(rehearsedRunbook);
  });
  afterAll(async () => {
    await rehearsal.close();
  });

  it('restores the newest snapshot, validates it over TLS, deletes the instance and reports RTO and RPO', async () => {
    const { result, report, reports } = await run('success');
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.slice(0, 6)).toEqual([
      'Describe',
      'WhichTask',
      'Prepare',
      'Restore',
      'PublishStarted',
      'WaitForRestore',
    ]);
    // 14 minutes creating and 4 backing up, read once a minute.
    expect(count(result.states, 'CheckRestore')).toBe(18);
    expect(result.states.slice(-8)).toEqual(['Validate', 'Cleanup', ...REPORTED]);

    // The newest snapshot of the tested kinds: the two-hour-old automated one, not the newer manual one.
    const instance = only(created());
    const newestAutomated = [...rds().snapshots.values()]
      .filter((snapshot) => snapshot.of === 'orders-prod' && snapshot.type === 'automated')
      .sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0))[0];
    expect(instance.createdBy).toEqual({
      operation: 'RestoreDBInstanceFromDBSnapshot',
      input: expect.objectContaining({
        DBInstanceIdentifier: instance.id,
        DBSnapshotIdentifier: newestAutomated?.id,
        DBInstanceClass: 'db.t4g.medium',
        DBSubnetGroupName: 'platform-runbooks-prod-restore-test',
        VpcSecurityGroupIds: [DB_SECURITY_GROUP_ID],
        PubliclyAccessible: false,
        DeletionProtection: false,
      }),
    });
    expect(instance.id).toMatch(/^restore-test-orders-prod-[0-9a-f]{8}$/);
    // Tagged on create, with the execution that created it.
    expect(instance.tagsAtCreate).toMatchObject({
      [RestoreTestTag.marker]: 'prod',
      [RestoreTestTag.execution]: report?.execution.id,
      [RestoreTestTag.database]: 'orders',
    });
    expect(accepted()).toEqual([`instance ${instance.id}`]);
    expectNothingLeftBehind();

    expect(reports).toHaveLength(1);
    expect(report).toMatchObject({
      database: 'orders',
      environment: 'prod',
      outcome: 'passed',
      stage: 'complete',
      missed: [],
      restoredFrom: { mode: 'snapshot', snapshotId: newestAutomated?.id, newerInProgress: 0 },
      cleanup: { deleted: [instance.id], leftBehind: [] },
      validation: { passed: true },
    });
    const figures = report?.figures ?? {};
    // Restore start → available (18 minutes) → validated: the virtual clock's minutes and the real milliseconds.
    expect(figures.restoreSeconds).toBeGreaterThanOrEqual(18 * 60);
    expect(figures.restoreSeconds).toBeLessThan(18 * 60 + 5);
    expect(figures.rtoSeconds).toBeGreaterThanOrEqual(figures.restoreSeconds ?? Infinity);
    expect(figures.rtoSeconds).toBeLessThan(18 * 60 + 10);
    // The snapshot is two hours old; its newest order two minutes older (the freshness check's RPO).
    expectSeconds(figures.snapshotAgeSeconds, 2 * HOUR);
    expectSeconds(figures.rpoSeconds, 2 * HOUR + 120);
    expect(report?.validation?.tables.map((table) => [table.name, table.rows])).toEqual([
      ['orders', 1200],
      ['invoices', 120],
    ]);
    const objects = peers().buckets.objects(REPORT_BUCKET);
    expect([...objects.keys()].filter((key) => key.endsWith('.md'))).toHaveLength(1);
    expect(peers().buckets.json(REPORT_BUCKET, `${HISTORY_PREFIX}orders.json`)).toMatchObject({
      database: 'orders',
      runs: [{ passed: true, counts: { 'public.orders': 1200, 'billing.invoices': 120 } }],
    });

    const metrics = emf();
    expect(metrics).toHaveLength(1);
    expect(metrics[0]).toMatchObject({
      Environment: 'prod',
      Database: 'orders',
      RestoreTestFailed: 0,
      LeftBehind: 0,
      RtoSeconds: figures.rtoSeconds,
      RpoSeconds: figures.rpoSeconds,
    });
    expect(rehearsal.slack.messages).toHaveLength(1);
    expect(slackText()).toContain('succeeded');
    expect(lifecycle()).toEqual(['RunbookStarted', 'RunbookSucceeded']);
    expect(rehearsal.account.pages).toEqual([]);
  });

  it('creates nothing when no snapshot of the tested kinds exists, and reports the test failed', async () => {
    const { result, report } = await run('no-snapshot');
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).toEqual(['Describe', 'WhichTask', 'Prepare', ...REPORTED]);
    expect(rds().mutations()).toEqual([]);
    expect(rds().deletes).toEqual([]);
    expect(report).toMatchObject({
      outcome: 'failed',
      stage: 'prepare',
      error: { name: 'NoSnapshotAvailable' },
      cleanup: { deleted: [], leftBehind: [] },
    });
    expect(report?.figures).toEqual({});
    expect(emf()[0]).toMatchObject({ RestoreTestFailed: 1, LeftBehind: 0 });
    expect(slackText()).toContain('NoSnapshotAvailable');
    expect(lifecycle()).toEqual(['RunbookFailed']);
    expect(rehearsal.account.pages).toEqual([]);
    expectNothingLeftBehind();
  });

  it("restores yesterday's snapshot when today's is still being created, and says so", async () => {
    const { result, report } = await run('newest-snapshot-creating');
    expect(result.status).toBe('SUCCEEDED');
    const creating = [...rds().snapshots.values()].find((snapshot) => snapshot.status === 'creating');
    const used = report?.restoredFrom;
    expect(used).toMatchObject({ mode: 'snapshot', snapshotKind: 'automated', newerInProgress: 1 });
    expect(used?.mode === 'snapshot' && used.snapshotId).not.toBe(creating?.id);
    expect(only(created()).createdBy?.input.DBSnapshotIdentifier).toBe(
      used?.mode === 'snapshot' ? used.snapshotId : undefined,
    );
    // A day and ten minutes old: still within the 26-hour RPO target.
    expectSeconds(report?.figures.snapshotAgeSeconds, 24 * HOUR + 600);
    expect(report?.outcome).toBe('passed');
    const markdown = [...peers().buckets.objects(REPORT_BUCKET).entries()].find(([key]) =>
      key.endsWith('.md'),
    );
    expect(markdown?.[1].body).toContain('1 newer still being created');
    expect(slackText()).toContain('1 newer still being created');
    expectNothingLeftBehind();
  });

  it('leaves nothing when RDS refuses the restore', async () => {
    const { result, report } = await run('restore-refused');
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).toEqual(['Describe', 'WhichTask', 'Prepare', 'Restore', 'Cleanup', ...REPORTED]);
    expect(rds().callsTo('RestoreDBInstanceFromDBSnapshot')).toHaveLength(1);
    expect(created()).toEqual([]);
    expect(rds().callsTo('DeleteDBInstance')).toEqual([]);
    expect(report).toMatchObject({
      outcome: 'failed',
      stage: 'restore',
      error: { name: 'RestoreRefused', message: expect.stringContaining('InstanceQuotaExceededFault') },
      cleanup: { deleted: [], leftBehind: [] },
    });
    // Announced only once a restore runs: a refused one has no RunbookStarted without its outcome.
    expect(lifecycle()).toEqual(['RunbookFailed']);
    expectNothingLeftBehind();
  });

  it('goes on with its own instance when the answer to the restore was lost', async () => {
    const { result, report } = await run('restore-answer-lost');
    expect(result.status).toBe('SUCCEEDED');
    expect(result.timeline.filter((entry) => entry.text === '↻ retry Restore')).toHaveLength(1);
    expect(rds().callsTo('RestoreDBInstanceFromDBSnapshot')).toHaveLength(2);
    const instance = only(created());
    expect(result.states).not.toContain('Duplicate');
    expect(report).toMatchObject({ outcome: 'passed', cleanup: { deleted: [instance.id] } });
    expect(accepted()).toEqual([`instance ${instance.id}`]);
    expectNothingLeftBehind();
  });

  it('gives up at the deadline on an instance that never becomes available, and deletes it', async () => {
    const { result, report } = await run('instance-never-available');
    expect(result.status).toBe('SUCCEEDED');
    // availableTimeoutMinutes 120, read once a minute: the 120th read is past the deadline.
    expect(count(result.states, 'CheckRestore')).toBeGreaterThanOrEqual(120);
    expect(count(result.states, 'CheckRestore')).toBeLessThanOrEqual(121);
    expect(result.states).not.toContain('Validate');
    expect(result.states.slice(-7)).toEqual(['Cleanup', ...REPORTED]);
    const instance = only(created());
    expect(report).toMatchObject({
      outcome: 'failed',
      stage: 'restore',
      error: { name: 'RestoreTimedOut' },
      cleanup: { deleted: [instance.id], leftBehind: [] },
    });
    expect(report?.figures.rtoSeconds).toBeUndefined();
    expect(accepted()).toEqual([`instance ${instance.id}`]);
    expectNothingLeftBehind();
  });

  it('deletes an instance RDS could not restore, and reports RestoreFailed', async () => {
    const { result, report } = await run('restore-failed');
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).not.toContain('Validate');
    const instance = only(created());
    expect(report).toMatchObject({
      outcome: 'failed',
      stage: 'restore',
      error: { name: 'RestoreFailed', message: expect.stringContaining('incompatible-restore') },
      cleanup: { deleted: [instance.id] },
    });
    expectNothingLeftBehind();
  });

  it('reports a failed check, names it, and still deletes the instance', async () => {
    const { result, report } = await run('validation-fails');
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.slice(-8)).toEqual(['Validate', 'Cleanup', ...REPORTED]);
    expect(report).toMatchObject({ outcome: 'failed', stage: 'checks', validation: { passed: false } });
    expect(report?.validation?.tables.find((table) => table.name === 'invoices')).toMatchObject({
      schema: 'billing',
      passed: false,
      rows: 40,
      failure: { code: 'too-few-rows' },
    });
    expect(report?.validation?.tables.find((table) => table.name === 'orders')?.passed).toBe(true);
    expect(report?.figures.rtoSeconds).toBeUndefined();
    expect(accepted()).toEqual([`instance ${only(created()).id}`]);
    expect(slackText()).toContain('billing.invoices');
    expect(emf()[0]).toMatchObject({ RestoreTestFailed: 1 });
    expect(lifecycle()).toEqual(['RunbookStarted', 'RunbookFailed']);
    // A failed test pages through its metric's alarm, not by itself.
    expect(rehearsal.account.pages).toEqual([]);
    expectNothingLeftBehind();
  });

  it('retries a throttled delete until RDS takes it', async () => {
    const { result, report } = await run('delete-throttled');
    expect(result.status).toBe('SUCCEEDED');
    expect(result.timeline.filter((entry) => entry.text === '↻ retry Cleanup')).toHaveLength(2);
    expect(rds().callsTo('DeleteDBInstance')).toHaveLength(3);
    const instance = only(created());
    expect(accepted()).toEqual([`instance ${instance.id}`]);
    expect(report).toMatchObject({ outcome: 'passed', cleanup: { deleted: [instance.id], leftBehind: [] } });
    expectNothingLeftBehind();
  });

  it('pages when the cleanup cannot delete the instance, and the janitor deletes it a day later', async () => {
    const { results, report } = await run('cleanup-blocked-then-janitor');
    const [first, janitor] = results;
    const instance = only(created());
    expect(first?.status).toBe('SUCCEEDED');
    expect(first?.states.slice(-8)).toEqual([
      'Cleanup',
      'Report',
      'NotifyReport',
      'PageNeeded',
      'PageLeftBehind',
      'PublishOutcome',
      'ReportPageDelivered',
      'Done',
    ]);
    expect(report?.cleanup).toMatchObject({
      deleted: [],
      leftBehind: [instance.id],
      error: expect.stringContaining('CleanupNotYetPossible'),
    });
    expect(rehearsal.account.pages).toHaveLength(1);
    expect(rehearsal.account.pages[0]?.subject).toBe('[prod] Restore test left a database running');
    expect(JSON.stringify(rehearsal.account.pages[0]?.message)).toContain(instance.id);
    expect(emf()[0]).toMatchObject({ LeftBehind: 1 });
    // The backup restored, but a copy still runs: Slack says it needs a person, not that all is well.
    expect(JSON.stringify(rehearsal.slack.messages[0]?.body)).toContain('needs attention');

    expect(janitor?.status).toBe('SUCCEEDED');
    expect(janitor?.states).toEqual([
      'Describe',
      'WhichTask',
      'Janitor',
      'JanitorFound',
      'NotifyJanitor',
      'JanitorDone',
    ]);
    expect(accepted()).toEqual([`instance ${instance.id}`]);
    expect(rehearsal.slack.messages).toHaveLength(2);
    expect(JSON.stringify(rehearsal.slack.messages[1]?.body)).toContain(instance.id);
    expectNothingLeftBehind();
  });

  it('deletes what stopped runs left behind once old enough, and nothing that is not a leftover', async () => {
    const { result } = await run('killed-run-janitor');
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).toEqual([
      'Describe',
      'WhichTask',
      'Janitor',
      'JanitorFound',
      'NotifyJanitor',
      'JanitorDone',
    ]);
    const ofRun = (name: string) =>
      created().filter((resource) => resource.tagsAtCreate?.[RestoreTestTag.execution]?.endsWith(`:${name}`));
    const orders = only(ofRun('killed-orders-run'));
    const payments = ofRun('killed-payments-run');
    expect(payments.map((resource) => resource.kind).sort()).toEqual(['cluster', 'instance']);
    const paymentsInstance = payments.find((resource) => resource.kind === 'instance');
    const paymentsCluster = payments.find((resource) => resource.kind === 'cluster');
    // Instances first: RDS refuses to delete a cluster whose instance is not being deleted.
    expect(accepted()).toEqual([
      `instance ${orders.id}`,
      `instance ${paymentsInstance?.id}`,
      `cluster ${paymentsCluster?.id}`,
    ]);
    expectEveryDeleteClean();
    // The run still going keeps its instance; the untagged database and staging's leftover are untouched.
    const running = only(ofRun('running-orders-run'));
    expect(
      rds()
        .leftovers()
        .map((leftover) => leftover.id),
    ).toEqual([running.id]);
    expect(rds().instances.get('orders-analytics')?.status).toBe('available');
    expect(rds().instances.get('restore-test-orders-prod-staging1')?.status).toBe('available');
    const text = slackText();
    expect(text).toContain('3 leftover databases deleted');
    expect(text).toContain(orders.id);
    expect(text).not.toContain(running.id);
    expect(rehearsal.account.pages).toEqual([]);
  });

  it('ends a second delivery of the same start as Duplicate, creating and deleting nothing', async () => {
    const { results, reports } = await run('duplicate-start');
    expect(results.map((result) => result.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    const duplicate = results.filter((result) => result.states.includes('Duplicate'));
    const first = results.filter((result) => result.states.includes('Done'));
    expect(duplicate).toHaveLength(1);
    expect(first).toHaveLength(1);
    expect(duplicate[0]?.states).toEqual(['Describe', 'WhichTask', 'Prepare', 'Restore', 'Duplicate']);
    expect(rds().callsTo('RestoreDBInstanceFromDBSnapshot')).toHaveLength(2);
    const instance = only(created());
    // The one instance is the first run's, and the first run deleted it.
    expect(reports).toHaveLength(1);
    expect(instance.tagsAtCreate?.[RestoreTestTag.execution]).toBe(reports[0]?.execution.id);
    expect(reports[0]).toMatchObject({ outcome: 'passed', cleanup: { deleted: [instance.id] } });
    expect(rds().callsTo('DeleteDBInstance')).toHaveLength(1);
    expect(rehearsal.slack.messages).toHaveLength(1);
    // The duplicate announces nothing: every RunbookStarted has its outcome.
    expect(lifecycle()).toEqual(['RunbookStarted', 'RunbookSucceeded']);
    expectNothingLeftBehind();
  });

  it('restores the Aurora cluster to its latest restorable time, adds an instance, and deletes both', async () => {
    const { result, report } = await run('aurora-point-in-time');
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.slice(-8)).toEqual(['Validate', 'Cleanup', ...REPORTED]);
    const cluster = only(created().filter((resource) => resource.kind === 'cluster'));
    const instance = only(created().filter((resource) => resource.kind === 'instance'));
    expect(cluster.createdBy).toEqual({
      operation: 'RestoreDBClusterToPointInTime',
      input: expect.objectContaining({
        DBClusterIdentifier: cluster.id,
        SourceDBClusterIdentifier: 'payments-aurora-prod',
        DBSubnetGroupName: 'platform-runbooks-prod-restore-test',
        VpcSecurityGroupIds: [DB_SECURITY_GROUP_ID],
      }),
    });
    expect(instance.createdBy?.operation).toBe('CreateDBInstance');
    expect(instance.createdBy?.input).toMatchObject({
      DBClusterIdentifier: cluster.id,
      Engine: 'aurora-postgresql',
      DBInstanceClass: 'db.r6g.large',
      PubliclyAccessible: false,
    });
    for (const resource of [cluster, instance])
      expect(resource.tagsAtCreate).toMatchObject({
        [RestoreTestTag.marker]: 'prod',
        [RestoreTestTag.database]: 'payments',
      });
    // To the latest restorable time, about five minutes before the run started.
    expect(cluster.restoredFrom).toMatchObject({ source: 'payments-aurora-prod' });
    expect(report).toMatchObject({
      database: 'payments',
      outcome: 'passed',
      restoredFrom: { mode: 'point-in-time' },
      cleanup: { deleted: [instance.id, cluster.id], leftBehind: [] },
    });
    expectSeconds(report?.figures.snapshotAgeSeconds, 300);
    expectSeconds(report?.figures.rpoSeconds, 420);
    expect(accepted()).toEqual([`instance ${instance.id}`, `cluster ${cluster.id}`]);
    expectNothingLeftBehind();
  });

  it('rejects starts that name no configured database, before any RDS or S3 call', async () => {
    const { results } = await run('malformed-start');
    expect(results).toHaveLength(2);
    for (const result of results) {
      expect(result.status).toBe('SUCCEEDED');
      expect(result.states).toEqual(['Describe', 'WhichTask', 'Prepare', 'NotifyRejected', 'Rejected']);
    }
    expect(rds().calls).toEqual([]);
    expect(peers().buckets.calls).toEqual([]);
    const texts = rehearsal.slack.messages.map((message) => JSON.stringify(message.body));
    expect(texts).toHaveLength(2);
    for (const text of texts) expect(text).toContain('InvalidRestoreTestInput');
    expect(texts[1]).toContain('inventory');
    expect(lifecycle()).toEqual([]);
    expect(rehearsal.account.pages).toEqual([]);
    expectNothingLeftBehind();
  });
});

describe('the restore test with the other restore modes', () => {
  beforeAll(async () => {
    rehearsal = await Rehearsal.start(rehearsedRunbook, otherRestoreModes(rehearsedRunbook.defaultConfig()));
  });
  afterAll(async () => {
    await rehearsal.close();
  });

  it('restores the RDS instance to its latest restorable time', async () => {
    const { result, report } = await run('instance-point-in-time');
    expect(result.status).toBe('SUCCEEDED');
    const instance = only(created());
    expect(instance.createdBy).toEqual({
      operation: 'RestoreDBInstanceToPointInTime',
      input: expect.objectContaining({
        SourceDBInstanceIdentifier: 'orders-prod',
        TargetDBInstanceIdentifier: instance.id,
        RestoreTime: expect.any(Date),
        DBSubnetGroupName: 'platform-runbooks-prod-restore-test',
        PubliclyAccessible: false,
      }),
    });
    expect(rds().callsTo('DescribeDBSnapshots')).toEqual([]);
    expect(report).toMatchObject({
      outcome: 'passed',
      restoredFrom: { mode: 'point-in-time' },
      cleanup: { deleted: [instance.id] },
    });
    // Minutes, not the hours of a snapshot.
    expectSeconds(report?.figures.rpoSeconds, 420);
    expectNothingLeftBehind();
  });

  it('restores the Aurora cluster from its newest snapshot, and deletes the instance and the cluster', async () => {
    const { result, report } = await run('aurora-snapshot');
    expect(result.status).toBe('SUCCEEDED');
    const cluster = only(created().filter((resource) => resource.kind === 'cluster'));
    const instance = only(created().filter((resource) => resource.kind === 'instance'));
    expect(cluster.createdBy).toEqual({
      operation: 'RestoreDBClusterFromSnapshot',
      input: expect.objectContaining({
        DBClusterIdentifier: cluster.id,
        SnapshotIdentifier: 'payments-aurora-prod-before-deploy',
        Engine: 'aurora-postgresql',
      }),
    });
    expect(instance.createdBy?.input).toMatchObject({ DBClusterIdentifier: cluster.id });
    expect(report).toMatchObject({
      database: 'payments',
      outcome: 'passed',
      restoredFrom: { mode: 'snapshot', snapshotKind: 'manual' },
      cleanup: { deleted: [instance.id, cluster.id], leftBehind: [] },
    });
    expect(accepted()).toEqual([`instance ${instance.id}`, `cluster ${cluster.id}`]);
    expectNothingLeftBehind();
  });
});
