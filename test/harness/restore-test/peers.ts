import type { RunbooksConfig } from '../../../lib/config/schema';
import type { Rehearsal } from '../rehearsal';
import { SimulatedBuckets } from '../simulated-buckets';
import { RehearsalDatabases } from './databases';
import { SimulatedRds } from './simulated-rds';

/** The bucket the restore test writes its reports and histories to, as the runbook's reports bucket. */
export const REPORT_BUCKET = 'platform-runbooks-rehearsal-restore-test-reports';
/** The security group the construct gives the restored instances. */
export const DB_SECURITY_GROUP_ID = 'sg-0e5f1d2c3b4a59687';
/** The DB subnet group the construct creates, named as it names it. */
export const dbSubnetGroupName = (environment: string): string =>
  `platform-runbooks-${environment}-restore-test`;

/** What the restore test reaches in a rehearsal besides the simulated account. */
export interface RestoreTestPeers {
  rds: SimulatedRds;
  buckets: SimulatedBuckets;
  /** The real PostgreSQL standing in for every restored instance, started on first use. */
  databases: RehearsalDatabases;
}

const peers = new WeakMap<object, RestoreTestPeers>();

/**
 * The simulated RDS, the report bucket and the PostgreSQL server of a rehearsal, created on first use and
 * restored (stopped) when the rehearsal closes. The rehearsal's own reset does not know them: `freshPeers`
 * resets them for a scenario.
 */
export function restoreTestPeersOf(rehearsal: Rehearsal<RunbooksConfig>): RestoreTestPeers {
  let found = peers.get(rehearsal);
  if (!found) {
    const settings = rehearsal.config.restoreTests;
    if (!settings) throw new Error('The rehearsal configuration has no restoreTests section.');
    const created: RestoreTestPeers = {
      rds: new SimulatedRds(),
      buckets: new SimulatedBuckets([REPORT_BUCKET]),
      databases: new RehearsalDatabases(settings.databases),
    };
    // What the run changed in RDS, beside the states: the restores, creates and deletes, not the polling.
    rehearsal.addTimelineSource((runStartedAt) =>
      created.rds.calls
        .filter((call) => call.at.getTime() >= runStartedAt && !call.operation.startsWith('Describe'))
        .map((call) => ({
          at: call.at.getTime() - runStartedAt,
          source: 'aws' as const,
          text: `RDS ${call.operation} ${String(call.input.DBInstanceIdentifier ?? call.input.TargetDBInstanceIdentifier ?? call.input.DBClusterIdentifier ?? '')}`.trim(),
        })),
    );
    rehearsal.onClose(async () => {
      created.rds.restore();
      created.buckets.restore();
      await created.databases.stop();
    });
    peers.set(rehearsal, created);
    found = created;
  }
  return found;
}
