import type { RDSClient } from '@aws-sdk/client-rds';
import type { RestoreDatabase } from '../../lib/config/restore-tests';
import { describeDatabase } from '../aws/rds-restore';
import { NoSnapshotAvailable, newestAvailableSnapshot } from '../aws/rds-snapshots';
import { RunbookError } from '../shared/errors';
import { previousCounts, type History } from './history';
import { restoredIdentifier } from './naming';
import type { RestoreChoice, RestoreIdentifiers, RestorePlan, RestoreSource } from './plan';

/** The configured source instance or cluster does not exist (renamed, deleted, another region). */
export class SourceNotFound extends RunbookError {
  override name = 'SourceNotFound';
}

export interface PrepareClients {
  rds: RDSClient;
  /** The database's history, undefined when there is none yet. */
  readHistory: (database: string) => Promise<History | undefined>;
}

export const sourceOf = (database: RestoreDatabase): RestoreSource =>
  database.cluster !== undefined
    ? { kind: 'cluster', id: database.cluster }
    : { kind: 'instance', id: database.instance ?? '' };

/** The instance (and, for Aurora, the cluster) a run restores into: named after the run, so a retry meets its own. */
export function identifiersFor(source: RestoreSource, runKey: string): RestoreIdentifiers {
  return source.kind === 'cluster'
    ? {
        cluster: restoredIdentifier(source.id, runKey),
        instance: restoredIdentifier(source.id, runKey, 'i1'),
      }
    : { instance: restoredIdentifier(source.id, runKey) };
}

/** What to restore from: the newest available snapshot of the configured kinds, or the latest restorable time. */
async function chooseRestore(
  rds: RDSClient,
  database: RestoreDatabase,
  source: RestoreSource,
): Promise<RestoreChoice> {
  if (database.restoreFrom === 'snapshot') {
    const { snapshot, newerInProgress } = await newestAvailableSnapshot(rds, source, database.snapshotKinds);
    return {
      mode: 'snapshot',
      snapshotId: snapshot.id,
      snapshotArn: snapshot.arn,
      snapshotKind: snapshot.kind,
      snapshotCreatedAt: snapshot.createdAt.toISOString(),
      engine: snapshot.engine,
      encrypted: snapshot.encrypted,
      ...(snapshot.kmsKeyId !== undefined && { kmsKeyId: snapshot.kmsKeyId }),
      newerInProgress,
    };
  }
  const observed = await describeDatabase(rds, source);
  const what = `${source.kind === 'instance' ? 'DB instance' : 'DB cluster'} ${source.id}`;
  if (!observed) throw new SourceNotFound(`${what} does not exist in this account and region`);
  if (!observed.latestRestorableTime || !observed.engine) {
    throw new NoSnapshotAvailable(
      `${what} has no latest restorable time: automated backups are off, so there is no point in time to restore`,
    );
  }
  return {
    mode: 'point-in-time',
    restoreTime: observed.latestRestorableTime.toISOString(),
    engine: observed.engine,
  };
}

/**
 * The run's plan: the source, what it restores from, the temporary identifiers, the deadline, and the previous
 * passed run's row counts. Reads only; creates nothing.
 * @throws NoSnapshotAvailable, SourceNotFound (reported as a failed test), RdsUnavailable (retried)
 */
export async function planRestoreTest(
  { rds, readHistory }: PrepareClients,
  { database, runKey, now }: { database: RestoreDatabase; runKey: string; now: Date },
): Promise<RestorePlan> {
  const source = sourceOf(database);
  const [restore, history] = await Promise.all([
    chooseRestore(rds, database, source),
    readHistory(database.name),
  ]);
  const counts = previousCounts(history);
  return {
    database,
    runKey,
    source,
    restore,
    identifiers: identifiersFor(source, runKey),
    startedAt: now.toISOString(),
    deadline: new Date(now.getTime() + database.availableTimeoutMinutes * 60_000).toISOString(),
    ...(counts && { previousCounts: counts }),
  };
}
