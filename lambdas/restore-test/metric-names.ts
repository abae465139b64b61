// The restore test's metrics and report keys, as the report step writes them (Embedded Metric Format, S3)
// and the construct's alarms and grants read them: one definition, so an alarm cannot watch a metric nobody
// writes and a grant cannot miss a prefix.

export const RESTORE_TEST_METRICS_NAMESPACE = 'PlatformRunbooks/RestoreTest';

/** Each with dimensions Environment and Database, one value per run. */
export const RestoreTestMetric = {
  /** 1 when the run did not prove the backup restorable (no snapshot, restore failed, checks failed), else 0. */
  failed: 'RestoreTestFailed',
  /** Restore start → data validated, in seconds; only for a validated run. */
  rtoSeconds: 'RtoSeconds',
  /** Age of the newest data (the freshness check), else of the snapshot, at the run's start, in seconds. */
  rpoSeconds: 'RpoSeconds',
  /** Age of the snapshot restored (or of the latest restorable time) at the run's start, in seconds. */
  snapshotAgeSeconds: 'SnapshotAgeSeconds',
  /** Restore start → instance available, in seconds. */
  restoreSeconds: 'RestoreSeconds',
  /** The checks, connection included, in seconds. */
  validationSeconds: 'ValidationSeconds',
  /** 1 when the run could not delete what it created (the janitor will), else 0. */
  leftBehind: 'LeftBehind',
} as const;

export const RestoreTestDimension = {
  environment: 'Environment',
  database: 'Database',
} as const;

/** Where the report step writes: a report pair per run, and one history document per database. */
export const REPORTS_PREFIX = 'restore-test/reports/';
export const HISTORY_PREFIX = 'restore-test/history/';
export const historyKey = (database: string): string => `${HISTORY_PREFIX}${database}.json`;
