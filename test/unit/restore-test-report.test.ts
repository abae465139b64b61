import { describe, expect, it } from 'vitest';
import { runbookReportSchema } from '../../lambdas/notify/report';
import { previousCounts, withRun, HISTORY_RUNS, type History } from '../../lambdas/restore-test/history';
import { restoredIdentifier } from '../../lambdas/restore-test/naming';
import type { RestorePlan } from '../../lambdas/restore-test/plan';
import {
  buildRunReport,
  failedChecks,
  historyRun,
  leftBehindPage,
  reportKeys,
  reportMarkdown,
  reportNotification,
  runStateSchema,
  type RunState,
  type ValidationSummary,
} from '../../lambdas/restore-test/report';
import { InvalidRestoreTestInput, readStart } from '../../lambdas/restore-test/start';
import { restoreDatabaseSchema, type RestoreDatabaseInput } from '../../lib/config/restore-tests';

const execution = {
  id: 'arn:aws:states:eu-west-1:111122223333:execution:platform-runbooks-prod-restore-test:run-7',
  name: 'run-7',
  startTime: '2026-12-01T03:00:00.000Z',
};
const databaseInput: RestoreDatabaseInput = {
  name: 'orders',
  instance: 'orders-prod',
  credentialsSecretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:orders/reader-AbCdEf',
  checks: {
    tables: [{ name: 'orders', minRows: 100 }],
    freshness: { table: 'orders', column: 'placed_at', maxAgeMinutes: 60 },
  },
  targets: { rtoMinutes: 60, rpoMinutes: 30 },
};
const database = restoreDatabaseSchema.parse(databaseInput);

const plan: RestorePlan = {
  database,
  runKey: 'orders/2026-12-01T03:00:00Z',
  source: { kind: 'instance', id: 'orders-prod' },
  restore: {
    mode: 'snapshot',
    snapshotId: 'rds:orders-prod-2026-12-01-02-00',
    snapshotArn: 'arn:aws:rds:eu-west-1:111122223333:snapshot:rds:orders-prod-2026-12-01-02-00',
    snapshotKind: 'automated',
    snapshotCreatedAt: '2026-12-01T02:00:00.000Z',
    engine: 'postgres',
    encrypted: true,
    newerInProgress: 0,
  },
  identifiers: { instance: 'restore-test-orders-prod-1a2b3c4d' },
  startedAt: '2026-12-01T03:00:00.000Z',
  deadline: '2026-12-01T05:00:00.000Z',
};

const validation = (fields: Partial<ValidationSummary> = {}): ValidationSummary => ({
  passed: true,
  tables: [{ schema: 'public', name: 'orders', passed: true, rows: 150, minRows: 100 }],
  assertions: [],
  freshness: {
    schema: 'public',
    table: 'orders',
    column: 'placed_at',
    passed: true,
    newest: '2026-12-01T02:50:00.000Z',
    ageSeconds: 600,
    maxAgeMinutes: 60,
  },
  rpoSeconds: 600,
  counts: { 'public.orders': 150 },
  durationMs: 4_000,
  validatedAt: '2026-12-01T03:40:00.000Z',
  ...fields,
});

const passedState = (fields: Partial<RunState> = {}): RunState =>
  runStateSchema.parse({
    event: { task: 'restore-test', database: 'orders' },
    execution,
    plan,
    restore: { startedAt: '2026-12-01T03:00:05.000Z', created: true },
    status: {
      available: true,
      status: 'available',
      endpoint: { address: 'restore.example', port: 5432 },
      checkedAt: '2026-12-01T03:35:00.000Z',
    },
    validation: validation(),
    cleanup: {
      deleted: [{ kind: 'instance', id: plan.identifiers.instance }],
      alreadyGone: [],
      at: '2026-12-01T03:41:00.000Z',
    },
    ...fields,
  });

const now = new Date('2026-12-01T03:42:00.000Z');
const emptyHistory: History = { database: 'orders', runs: [] };

describe('buildRunReport', () => {
  it('measures RTO from the restore call to validation, RPO from the newest row, and the snapshot age', () => {
    const report = buildRunReport(passedState(), { environment: 'prod', now });
    expect(report.outcome).toBe('passed');
    expect(report.stage).toBe('complete');
    expect(report.figures).toEqual({
      rtoSeconds: 2395,
      rpoSeconds: 600,
      snapshotAgeSeconds: 3600,
      restoreSeconds: 2095,
      validationSeconds: 4,
    });
    expect(report.cleanup).toEqual({ deleted: [plan.identifiers.instance], alreadyGone: [], leftBehind: [] });
  });

  it('falls back to the snapshot age for the RPO without a freshness check', () => {
    const state = passedState({ validation: validation({ freshness: undefined, rpoSeconds: undefined }) });
    expect(buildRunReport(state, { environment: 'prod', now }).figures.rpoSeconds).toBe(3600);
  });

  it('says which target a run missed, and still counts it as a backup that restores', () => {
    const state = passedState({ validation: validation({ rpoSeconds: 3_000 }) });
    const report = buildRunReport(state, { environment: 'prod', now });
    expect(report.outcome).toBe('missed-targets');
    expect(report.missed).toEqual(['rpo']);
    expect(historyRun(report).passed).toBe(true);
  });

  it('fails a run whose checks failed, naming each failed check', () => {
    const failing = validation({
      passed: false,
      tables: [
        {
          schema: 'public',
          name: 'orders',
          passed: false,
          rows: 12,
          minRows: 100,
          failure: { code: 'too-few-rows', message: '12 rows, fewer than the 100 required' },
        },
      ],
    });
    const report = buildRunReport(passedState({ validation: failing }), { environment: 'prod', now });
    expect(report.outcome).toBe('failed');
    expect(report.stage).toBe('checks');
    expect(report.figures.rtoSeconds).toBeUndefined();
    expect(failedChecks(report.validation)).toEqual([
      'table public.orders: 12 rows, fewer than the 100 required',
    ]);
    // A failed run's counts are not the next run's baseline.
    expect(historyRun(report).counts).toBeUndefined();
  });

  it('reports a run that never got a plan, naming the database from the start', () => {
    const state = runStateSchema.parse({
      event: { task: 'restore-test', database: 'orders' },
      execution,
      error: {
        Error: 'NoSnapshotAvailable',
        Cause: JSON.stringify({
          errorType: 'NoSnapshotAvailable',
          errorMessage: 'No available automated snapshot of DB instance orders-prod',
        }),
      },
    });
    const report = buildRunReport(state, { environment: 'prod', now });
    expect(report).toMatchObject({
      database: 'orders',
      outcome: 'failed',
      stage: 'prepare',
      error: {
        name: 'NoSnapshotAvailable',
        message: 'No available automated snapshot of DB instance orders-prod',
      },
      cleanup: { leftBehind: [] },
    });
  });

  it('marks what the plan named as left behind when the cleanup failed, and builds the page', () => {
    const state = passedState({
      cleanup: undefined,
      cleanupError: { Error: 'CleanupNotYetPossible', Cause: 'still modifying' },
    });
    const report = buildRunReport(state, { environment: 'prod', now });
    expect(report.cleanup.leftBehind).toEqual([plan.identifiers.instance]);
    const page = leftBehindPage(report);
    expect(page.content.title).toContain(plan.identifiers.instance);
    expect(page.content.nextSteps.join(' ')).toContain(
      `delete-db-instance --db-instance-identifier ${plan.identifiers.instance} --skip-final-snapshot`,
    );
  });
});

describe('the report for people and for Slack', () => {
  it('writes one report pair per run under the database, and a Markdown table of the figures and checks', () => {
    const report = buildRunReport(passedState(), { environment: 'prod', now });
    expect(reportKeys(report)).toEqual({
      reportKey: 'restore-test/reports/orders/2026-12-01-run-7.json',
      markdownKey: 'restore-test/reports/orders/2026-12-01-run-7.md',
    });
    const markdown = reportMarkdown(report, withRun(emptyHistory, 'orders', historyRun(report)));
    expect(markdown).toContain('| RTO (restore start → validated) | 40 min (target 60 min) |');
    expect(markdown).toContain('| RPO (age of the newest data) | 10 min (target 30 min) |');
    expect(markdown).toContain('| table public.orders | passed | 150 rows |');
    expect(markdown).toContain('Deleted: restore-test-orders-prod-1a2b3c4d');
  });

  it('builds a notification the notifier accepts, with the trend of the previous runs', () => {
    const report = buildRunReport(passedState(), { environment: 'prod', now });
    const previous = {
      execution: 'run-6',
      startedAt: '2026-11-01T03:00:00.000Z',
      passed: true,
      rtoSeconds: 2_000,
      rpoSeconds: 500,
    };
    const history = withRun({ database: 'orders', runs: [previous] }, 'orders', historyRun(report));
    const notification = reportNotification(report, history, [
      { label: 'Report', url: 'https://example.com/r' },
    ]);
    expect(runbookReportSchema.safeParse(notification).success).toBe(true);
    expect(notification.outcome).toBe('succeeded');
    expect(notification.figures?.map((figure) => figure.label)).toEqual([
      'RTO',
      'RPO (data age)',
      'Snapshot age',
    ]);
    expect(notification.figures?.[0]).toMatchObject({ withinMinutes: 60, to: '2026-12-01T03:40:00.000Z' });
    expect(notification.sections).toEqual([
      { title: 'Previous runs', lines: ['2026-11-01: passed, RTO 33 min, RPO 8 min'] },
    ]);
  });

  it('maps a failed run to a failed notification with its reason', () => {
    const state = passedState({
      status: undefined,
      validation: undefined,
      error: {
        Error: 'RestoreTimedOut',
        Cause: JSON.stringify({ errorMessage: 'still creating after 120 minutes' }),
      },
    });
    const report = buildRunReport(state, { environment: 'prod', now });
    const notification = reportNotification(report, emptyHistory, undefined);
    expect(notification).toMatchObject({
      outcome: 'failed',
      reason: 'RestoreTimedOut',
      reasonText:
        'The restore did not produce a usable instance: RestoreTimedOut: still creating after 120 minutes',
    });
  });
});

describe('history', () => {
  it('keeps the newest runs first, at most HISTORY_RUNS, and compares counts with the newest passed run', () => {
    let history: History | undefined;
    for (let index = 0; index < HISTORY_RUNS + 3; index += 1) {
      history = withRun(history, 'orders', {
        execution: `run-${index}`,
        startedAt: '2026-01-01T00:00:00Z',
        passed: index !== HISTORY_RUNS + 2,
        counts: { 'public.orders': index },
      });
    }
    expect(history?.runs).toHaveLength(HISTORY_RUNS);
    expect(history?.runs[0]?.execution).toBe(`run-${HISTORY_RUNS + 2}`);
    expect(previousCounts(history)).toEqual({ 'public.orders': HISTORY_RUNS + 1 });
  });
});

describe('readStart', () => {
  const databases = { orders: database };

  it('names the run after the database and the scheduled time, so two deliveries share it', () => {
    const start = { task: 'restore-test', database: 'orders', scheduledTime: '2026-12-01T03:00:00Z' };
    expect(readStart(start, databases, 'exec-a').runKey).toBe(readStart(start, databases, 'exec-b').runKey);
    expect(readStart({ task: 'restore-test', database: 'orders' }, databases, 'exec-a').runKey).toBe(
      'orders/exec-a',
    );
  });

  it.each([
    [{ task: 'restore-test' }, /database/],
    [
      { task: 'restore-test', database: 'payments' },
      /"payments", which is not configured \(configured: orders\)/,
    ],
    [{ task: 'restore-test', database: 'toString' }, /not configured/],
    [
      { task: 'restore-test', database: 'orders', scheduledTime: 'soon' },
      /scheduledTime: must be an ISO 8601 time/,
    ],
    ['orders', /malformed/],
  ])('refuses %j, naming what is wrong', (event, message) => {
    expect(() => readStart(event, databases, 'exec')).toThrow(InvalidRestoreTestInput);
    expect(() => readStart(event, databases, 'exec')).toThrow(message);
  });
});

describe('restoredIdentifier with a suffix', () => {
  it('keeps the whole within 63 characters and ends with the suffix', () => {
    const name = restoredIdentifier('x'.repeat(63), 'orders/2026-12-01', 'i1');
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(/^restore-test-x+-[0-9a-f]{8}-i1$/);
  });
});
