import type { RunbookFunctionTable } from '../shared/function-table';

/** The backup-restore test's Lambdas; read by `lib/restore-test-runbook.ts` and by its rehearsal. */
export const restoreTestFunctions = {
  prepare: {
    handler: 'lambdas/restore-test/handlers/prepare.ts',
    serviceName: 'restore-test-prepare',
    substitution: 'PrepareFunctionArn',
    description:
      'Restore test: reads the start, chooses the snapshot (or the latest restorable time) and names the temporary instance',
    reaches: ['rds', 's3'],
    timeoutSeconds: 60,
  },
  restore: {
    handler: 'lambdas/restore-test/handlers/restore.ts',
    serviceName: 'restore-test-restore',
    substitution: 'RestoreFunctionArn',
    description:
      'Restore test: restores into a temporary, isolated instance (or Aurora cluster and instance), tagged on create',
    reaches: ['rds'],
    timeoutSeconds: 60,
  },
  checkRestore: {
    handler: 'lambdas/restore-test/handlers/check-restore.ts',
    serviceName: 'restore-test-check-restore',
    substitution: 'CheckRestoreFunctionArn',
    description: 'Restore test: reads the temporary instance status against the deadline',
    reaches: ['rds'],
  },
  validate: {
    handler: 'lambdas/restore-test/handlers/validate.ts',
    serviceName: 'restore-test-validate',
    substitution: 'ValidateFunctionArn',
    description:
      'Restore test: connects to the restored database over verified TLS and runs the checks read-only',
    reaches: ['secretsmanager', 'database'],
    // Connect (with retries in the workflow) plus every statement at its timeout: the configuration bounds it.
    timeoutSeconds: 900,
  },
  cleanup: {
    handler: 'lambdas/restore-test/handlers/cleanup.ts',
    serviceName: 'restore-test-cleanup',
    substitution: 'CleanupFunctionArn',
    description:
      'Restore test: deletes what this run created (no final snapshot, automated backups deleted), tag checked first',
    reaches: ['rds'],
    timeoutSeconds: 60,
  },
  report: {
    handler: 'lambdas/restore-test/handlers/report.ts',
    serviceName: 'restore-test-report',
    substitution: 'ReportFunctionArn',
    description:
      'Restore test: measures RTO and RPO, writes the JSON and Markdown report and the history, publishes the metrics',
    reaches: ['s3'],
    timeoutSeconds: 60,
  },
  janitor: {
    handler: 'lambdas/restore-test/handlers/janitor.ts',
    serviceName: 'restore-test-janitor',
    substitution: 'JanitorFunctionArn',
    description:
      'Restore test janitor: deletes restore-test instances and clusters older than the configured age',
    reaches: ['rds'],
    timeoutSeconds: 120,
  },
} as const satisfies RunbookFunctionTable;
