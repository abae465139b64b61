import { restoreTestFunctions } from '../../../lambdas/restore-test/functions';
import type { RestorePlan } from '../../../lambdas/restore-test/plan';
import {
  databasesSetting,
  type RestoreDatabase,
  type RestoreTestsSection,
} from '../../../lib/config/restore-tests';
import type { RunbooksConfig } from '../../../lib/config/schema';
import type { Rehearsal, Scenario } from '../rehearsal';
import { ACCOUNT, REGION } from '../simulated-account';
import { advanceVirtualClock } from '../virtual-clock';
import { otherRestoreModes } from './config';
import type { SeedOptions } from './databases';
import { dbSubnetGroupName, restoreTestPeersOf, type RestoreTestPeers } from './peers';
import type { Lifecycle, SnapshotSpec } from './simulated-rds';

type RestoreTestScenario = Scenario<RunbooksConfig>;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** What a database's schedule sends (EventBridge Scheduler fills in the scheduled time). */
export const restoreStart = (database: string, scheduledTime = new Date()) => ({
  task: 'restore-test',
  database,
  scheduledTime: scheduledTime.toISOString(),
});

/** What the janitor's schedule sends. */
export const JANITOR_START = { task: 'janitor' };

/** A restored instance in the rehearsal: 14 minutes `creating`, 4 `backing-up`, then `available`. */
export const INSTANCE_LIFECYCLE: Lifecycle = {
  statuses: ['backing-up', 'available'],
  seconds: [14 * 60, 4 * 60],
};
/** A restored Aurora cluster: 9 minutes `creating`, then `available`. */
export const CLUSTER_LIFECYCLE: Lifecycle = { statuses: ['available'], seconds: 9 * 60 };

export function restoreTestsOf(rehearsal: Rehearsal<RunbooksConfig>): RestoreTestsSection {
  const section = rehearsal.config.restoreTests;
  if (!section) throw new Error('The rehearsal configuration has no restoreTests section.');
  return section;
}

export function databaseNamed(rehearsal: Rehearsal<RunbooksConfig>, name: string): RestoreDatabase {
  const database = restoreTestsOf(rehearsal).databases.find((candidate) => candidate.name === name);
  if (!database) throw new Error(`The rehearsal configuration has no database ${name}`);
  return database;
}

/** The restore test's peers, emptied for a scenario, the RDS endpoints pointing at the local PostgreSQL. */
export function freshPeers(rehearsal: Rehearsal<RunbooksConfig>): RestoreTestPeers {
  const peers = restoreTestPeersOf(rehearsal);
  peers.rds.reset();
  peers.buckets.reset();
  peers.rds.endpoint = () => ({ address: 'localhost', port: peers.databases.port ?? 5432 });
  peers.rds.subnetGroups = new Set([dbSubnetGroupName(rehearsal.config.environment)]);
  peers.rds.instanceLifecycle = structuredClone(INSTANCE_LIFECYCLE);
  peers.rds.clusterLifecycle = structuredClone(CLUSTER_LIFECYCLE);
  peers.rds.deletingLifecycle = { describes: 1, seconds: 6 * 60 };
  for (const database of restoreTestsOf(rehearsal).databases)
    rehearsal.account.secrets.set(database.credentialsSecretArn, peers.databases.secretString());
  return peers;
}

/** RDS's name for an automated snapshot: `rds:<instance>-yyyy-mm-dd-hh-mm`. */
const automatedId = (source: string, at: Date) =>
  `rds:${source}-${at.toISOString().slice(0, 16).replace(/[T:]/g, '-')}`;

export interface AccountOptions {
  /** The newest automated snapshot is still being created (taken 10 minutes ago, no time yet). */
  newestCreating?: boolean;
  /** No snapshot of the kinds the databases test: only a manual one. */
  noSnapshots?: boolean;
  /** Rows instead of the seeded default, by database and `schema.table`. */
  rows?: SeedOptions['rows'];
  /** Neither start nor seed PostgreSQL: the scenario never validates. */
  withoutDatabase?: boolean;
}

/**
 * The account of the example: each database's source (the RDS instance; the Aurora cluster and its writer),
 * a week of daily automated snapshots (the newest two hours old), an AWS Backup snapshot three days old and a
 * manual snapshot taken 15 minutes ago before a deploy (a kind the orders database does not test). The
 * PostgreSQL server is seeded with data as new as what each restore brings back: two minutes older than the
 * snapshot restored, or than the latest restorable time.
 */
export async function arrangeAccount(
  rehearsal: Rehearsal<RunbooksConfig>,
  options: AccountOptions = {},
): Promise<RestoreTestPeers> {
  const peers = freshPeers(rehearsal);
  const { rds } = peers;
  // Started first (a second or two, once): the data's dates are set from now, and now is when the run starts.
  if (!options.withoutDatabase) await peers.databases.start();
  const now = Date.now();
  const newest: Record<string, Date> = {};
  for (const database of restoreTestsOf(rehearsal).databases) {
    const id = database.instance ?? database.cluster ?? '';
    const snapshots: SnapshotSpec[] = [];
    if (database.instance !== undefined) {
      rds.addInstance({ id, preexisting: true, instanceClass: 'db.r6g.xlarge' });
    } else {
      rds.addCluster({ id, preexisting: true });
      rds.addInstance({ id: `${id}-writer`, cluster: id, engine: 'aurora-postgresql', preexisting: true });
    }
    if (!options.noSnapshots) {
      const newestAt = now - (options.newestCreating ? 10 * MINUTE : 2 * HOUR);
      for (let day = 0; day < 7; day += 1) {
        const at = new Date(newestAt - day * DAY);
        const creating = options.newestCreating === true && day === 0;
        snapshots.push({
          id: automatedId(id, at),
          of: id,
          type: 'automated',
          ...(creating ? { status: 'creating' } : { createdAt: at }),
        });
      }
      snapshots.push({
        id: `awsbackup:job-${id.slice(0, 8)}-0c1d2e3f`,
        of: id,
        type: 'awsbackup',
        createdAt: new Date(now - 3 * DAY),
      });
    }
    snapshots.push({
      id: `${id}-before-deploy`,
      of: id,
      type: 'manual',
      createdAt: new Date(now - 15 * MINUTE),
    });
    for (const snapshot of snapshots) {
      if (database.instance !== undefined) rds.addSnapshot(snapshot);
      else rds.addClusterSnapshot({ ...snapshot, engine: 'aurora-postgresql' });
    }
    const restored = snapshots
      .filter(
        (snapshot) =>
          snapshot.status === undefined &&
          database.snapshotKinds.includes(snapshot.type ?? 'automated') &&
          snapshot.createdAt !== undefined,
      )
      .map((snapshot) => snapshot.createdAt?.getTime() ?? 0);
    const dataAt =
      database.restoreFrom === 'point-in-time'
        ? now - 5 * MINUTE
        : restored.length > 0
          ? Math.max(...restored)
          : now;
    newest[database.name] = new Date(dataAt - 2 * MINUTE);
  }
  if (!options.withoutDatabase)
    await peers.databases.seed({ newest, ...(options.rows && { rows: options.rows }) });
  return peers;
}

/**
 * A run's first steps (prepare, restore) through the real handlers, as an execution took them before it was
 * stopped (a deploy, a person: `ABORTED`) or while it still waits for its instance (`RUNNING`).
 */
async function runUntilRestored(
  rehearsal: Rehearsal<RunbooksConfig>,
  database: string,
  name: string,
  status: 'ABORTED' | 'RUNNING',
): Promise<RestorePlan> {
  const execution = {
    id: `arn:aws:states:${REGION}:${ACCOUNT}:execution:platform-runbooks-restore-test:${name}`,
    name,
    startTime: new Date().toISOString(),
  };
  const plan = (await rehearsal.handlerOf(restoreTestFunctions.prepare)({
    event: restoreStart(database),
    execution,
    databasesJson: JSON.stringify(databasesSetting(restoreTestsOf(rehearsal))),
  })) as RestorePlan;
  await rehearsal.handlerOf(restoreTestFunctions.restore)({ execution, plan });
  rehearsal.account.executionStatuses.set(execution.id, status);
  return plan;
}

/** Resolves once `condition` holds (another execution got that far), polling; rejects after 10 s. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 10_000) throw new Error(`The rehearsal waited 10 s for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export const restoreTestScenarios: RestoreTestScenario[] = [
  {
    name: 'success',
    summary:
      'The orders database is restored from its newest automated snapshot (two hours old) into a tagged temporary instance, which becomes available after 18 minutes; the checks pass over verified TLS, the instance is deleted, the report (RTO, RPO) lands in S3, Slack hears it passed.',
    arrange: async (rehearsal) => {
      await arrangeAccount(rehearsal);
      return { events: [restoreStart('orders')] };
    },
  },
  {
    name: 'no-snapshot',
    summary:
      'orders-prod has no automated or AWS Backup snapshot (only a manual one, a kind it does not test): nothing is created, the report says the test failed at prepare.',
    arrange: async (rehearsal) => {
      await arrangeAccount(rehearsal, { noSnapshots: true, withoutDatabase: true });
      return { events: [restoreStart('orders')] };
    },
  },
  {
    name: 'newest-snapshot-creating',
    summary:
      "Today's automated snapshot is still being created: yesterday's is restored, and the report says a newer one was in progress.",
    arrange: async (rehearsal) => {
      await arrangeAccount(rehearsal, { newestCreating: true });
      return { events: [restoreStart('orders')] };
    },
  },
  {
    name: 'restore-refused',
    summary:
      'RDS refuses the restore (InstanceQuotaExceededFault): nothing is created, nothing needs deleting, the test is reported failed.',
    arrange: async (rehearsal) => {
      const { rds } = await arrangeAccount(rehearsal, { withoutDatabase: true });
      rds.injectFault({ operation: 'RestoreDBInstanceFromDBSnapshot', name: 'InstanceQuotaExceededFault' });
      return { events: [restoreStart('orders')] };
    },
  },
  {
    name: 'restore-answer-lost',
    summary:
      'RDS starts the restore but its answer is lost (InternalFailure): the retried step meets its own instance and goes on; one instance, the test passes.',
    arrange: async (rehearsal) => {
      const { rds } = await arrangeAccount(rehearsal);
      rds.injectFault({
        operation: 'RestoreDBInstanceFromDBSnapshot',
        name: 'InternalFailure',
        afterEffect: true,
      });
      return { events: [restoreStart('orders')] };
    },
  },
  {
    name: 'instance-never-available',
    summary:
      'The restored instance stays creating: at the deadline (120 minutes) the run gives up (RestoreTimedOut), deletes it and reports the failure.',
    arrange: async (rehearsal) => {
      const { rds } = await arrangeAccount(rehearsal, { withoutDatabase: true });
      rds.instanceLifecycle = { statuses: [] };
      return { events: [restoreStart('orders')] };
    },
  },
  {
    name: 'restore-failed',
    summary:
      'RDS gives up on the restore (incompatible-restore after 10 minutes): the run deletes the instance and reports RestoreFailed.',
    arrange: async (rehearsal) => {
      const { rds } = await arrangeAccount(rehearsal, { withoutDatabase: true });
      rds.instanceLifecycle = { statuses: ['incompatible-restore'], seconds: 10 * 60 };
      return { events: [restoreStart('orders')] };
    },
  },
  {
    name: 'validation-fails',
    summary:
      'The restored billing.invoices holds 40 rows where 100 are required: the check fails, the instance is deleted, the report and Slack name the failed check.',
    arrange: async (rehearsal) => {
      await arrangeAccount(rehearsal, { rows: { orders: { 'billing.invoices': 40 } } });
      return { events: [restoreStart('orders')] };
    },
  },
  {
    name: 'delete-throttled',
    summary:
      'RDS throttles the first two deletes (Throttling): the cleanup step is retried and the instance is deleted; the test passes.',
    arrange: async (rehearsal) => {
      const { rds } = await arrangeAccount(rehearsal);
      rds.injectFault({ operation: 'DeleteDBInstance', name: 'Throttling', times: 2 });
      return { events: [restoreStart('orders')] };
    },
  },
  {
    name: 'cleanup-blocked-then-janitor',
    summary:
      'RDS will not delete the restored instance (InvalidDBInstanceStateFault) through every cleanup retry: the report says it was left behind and on-call is paged; a day later the janitor deletes it.',
    arrange: async (rehearsal) => {
      const { rds } = await arrangeAccount(rehearsal);
      rds.injectFault({
        operation: 'DeleteDBInstance',
        name: 'InvalidDBInstanceStateFault',
        times: Infinity,
      });
      const janitor = rehearsal.handlerOf(restoreTestFunctions.janitor);
      return {
        events: [restoreStart('orders'), JANITOR_START],
        options: {
          overrides: {
            // The janitor's run a day later, when RDS lets the instance go.
            Janitor: async (input) => {
              advanceVirtualClock(25 * 3_600);
              rds.faults.length = 0;
              return janitor(input);
            },
          },
        },
      };
    },
  },
  {
    name: 'killed-run-janitor',
    summary:
      "Two runs were stopped after their restore (orders' instance; payments' cluster and instance), 30 hours ago: the janitor deletes them, and leaves alone a run's instance an hour old, an untagged database and another environment's leftover.",
    arrange: async (rehearsal) => {
      const { rds } = await arrangeAccount(rehearsal, { withoutDatabase: true });
      rds.addInstance({
        id: 'orders-analytics',
        preexisting: true,
        createdAt: new Date(Date.now() - 400 * DAY),
      });
      rds.addInstance({
        id: 'restore-test-orders-prod-staging1',
        preexisting: true,
        createdAt: new Date(Date.now() - 40 * HOUR),
        tags: {
          'platform-runbooks:restore-test': 'staging',
          'platform-runbooks:created-at': new Date(Date.now() - 40 * HOUR).toISOString(),
        },
      });
      await runUntilRestored(rehearsal, 'orders', 'killed-orders-run', 'ABORTED');
      await runUntilRestored(rehearsal, 'payments', 'killed-payments-run', 'ABORTED');
      advanceVirtualClock(29 * 3_600);
      await runUntilRestored(rehearsal, 'orders', 'running-orders-run', 'RUNNING');
      advanceVirtualClock(3_600);
      return { events: [JANITOR_START] };
    },
  },
  {
    name: 'duplicate-start',
    summary:
      "Scheduler delivers the same start twice: the second execution meets the first one's instance, ends Duplicate and creates and deletes nothing; the first runs to the end.",
    arrange: async (rehearsal) => {
      const { rds } = await arrangeAccount(rehearsal);
      const prepare = rehearsal.handlerOf(restoreTestFunctions.prepare);
      let prepared = 0;
      const start = restoreStart('orders');
      return {
        events: [start, start],
        concurrent: true,
        options: {
          overrides: {
            // The second delivery arrives once the first one's restore has started.
            Prepare: async (input) => {
              const plan = (await prepare(input)) as RestorePlan;
              prepared += 1;
              if (prepared > 1)
                await until(() => rds.instances.has(plan.identifiers.instance), "the first run's restore");
              return plan;
            },
          },
        },
      };
    },
  },
  {
    name: 'aurora-point-in-time',
    summary:
      'The payments Aurora cluster is restored to its latest restorable time (five minutes behind): a cluster, then an instance in it, both tagged; the checks pass, the instance and then the cluster are deleted.',
    arrange: async (rehearsal) => {
      await arrangeAccount(rehearsal);
      return { events: [restoreStart('payments')] };
    },
  },
  {
    name: 'instance-point-in-time',
    summary:
      'With restoreFrom: point-in-time, the orders instance is restored to its latest restorable time rather than a snapshot; the RPO is minutes, not hours.',
    config: otherRestoreModes,
    arrange: async (rehearsal) => {
      await arrangeAccount(rehearsal);
      return { events: [restoreStart('orders')] };
    },
  },
  {
    name: 'aurora-snapshot',
    summary:
      'With restoreFrom: snapshot, the payments cluster is restored from its newest snapshot (a manual one taken before a deploy) and an instance created in it; both are deleted.',
    config: otherRestoreModes,
    arrange: async (rehearsal) => {
      await arrangeAccount(rehearsal);
      return { events: [restoreStart('payments')] };
    },
  },
  {
    name: 'malformed-start',
    summary:
      'Two starts that name no configured database (none at all; "inventory"): each is rejected before any RDS call, and Slack says why.',
    arrange: async (rehearsal) => {
      await arrangeAccount(rehearsal, { withoutDatabase: true });
      return { events: [{ task: 'restore-test' }, { task: 'restore-test', database: 'inventory' }] };
    },
  },
];
