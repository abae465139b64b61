import {
  CreateDBInstanceCommand,
  DBClusterNotFoundFault,
  DBInstanceAlreadyExistsFault,
  DBInstanceNotFoundFault,
  DBSnapshotNotFoundFault,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  InstanceQuotaExceededFault,
  InvalidDBClusterStateFault,
  InvalidDBInstanceStateFault,
  InvalidDBSnapshotStateFault,
  ListTagsForResourceCommand,
  PointInTimeRestoreNotEnabledFault,
  RDSClient,
  RDSServiceException,
  RestoreDBClusterFromSnapshotCommand,
  RestoreDBClusterToPointInTimeCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  RestoreDBInstanceToPointInTimeCommand,
  StorageQuotaExceededFault,
} from '@aws-sdk/client-rds';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTransientAwsFault } from '../../lambdas/aws/faults';
import { newestAvailableSnapshot, RdsUnavailable } from '../../lambdas/aws/rds-snapshots';
import { SimulatedRds } from '../harness/restore-test/simulated-rds';
import { advanceVirtualClock, installVirtualClock, uninstallVirtualClock } from '../harness/virtual-clock';

// The simulated RDS of the restore test's rehearsal, through the real SDK client (whose `send` it answers):
// pagination, the status lifecycle, RDS's error classes and rules, tags, deletes and what is left behind.

const rds = new RDSClient({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKIDTESTTESTTESTTEST', secretAccessKey: 'test' },
});
const simulated = new SimulatedRds();
afterAll(() => simulated.restore());
beforeEach(() => simulated.reset());

const HOUR = 3_600_000;
const TAGS = [
  { Key: 'platform-runbooks:restore-test', Value: 'prod' },
  { Key: 'platform-runbooks:execution', Value: 'arn:aws:states:eu-west-1:111122223333:execution:x:1' },
];

/** What a call threw (failing the test when it did not). */
async function thrown(call: Promise<unknown>): Promise<Error> {
  try {
    await call;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to throw');
}

function sourceWithSnapshots(): void {
  simulated.addInstance({ id: 'orders-prod', preexisting: true });
  simulated.addSnapshot({
    id: 'rds:orders-prod-2030-01-01-03-00',
    of: 'orders-prod',
    createdAt: new Date(Date.now() - 24 * HOUR),
  });
  simulated.addSnapshot({ id: 'rds:orders-prod-2030-01-02-03-00', of: 'orders-prod', status: 'creating' });
}

const restore = (id = 'restore-test-orders-prod-1a2b3c4d', snapshot = 'rds:orders-prod-2030-01-01-03-00') =>
  rds.send(
    new RestoreDBInstanceFromDBSnapshotCommand({
      DBInstanceIdentifier: id,
      DBSnapshotIdentifier: snapshot,
      DBInstanceClass: 'db.t4g.medium',
      DBSubnetGroupName: 'restore-tests',
      VpcSecurityGroupIds: ['sg-0123456789abcdef0'],
      PubliclyAccessible: false,
      Tags: TAGS,
    }),
  );

const status = async (id = 'restore-test-orders-prod-1a2b3c4d') => {
  const { DBInstances = [] } = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
  return DBInstances[0];
};

const deleteInstance = (id = 'restore-test-orders-prod-1a2b3c4d') =>
  rds.send(
    new DeleteDBInstanceCommand({
      DBInstanceIdentifier: id,
      SkipFinalSnapshot: true,
      DeleteAutomatedBackups: true,
    }),
  );

describe('pagination', () => {
  it('pages DescribeDBInstances by MaxRecords with an opaque Marker, and refuses a page size outside 20–100', async () => {
    for (let index = 0; index < 45; index += 1)
      simulated.addInstance({ id: `db-${String(index).padStart(2, '0')}` });
    const pages: string[][] = [];
    let marker: string | undefined;
    do {
      const page = await rds.send(new DescribeDBInstancesCommand({ MaxRecords: 20, Marker: marker }));
      pages.push((page.DBInstances ?? []).map((instance) => instance.DBInstanceIdentifier ?? ''));
      marker = page.Marker;
      if (marker !== undefined) expect(marker).not.toMatch(/^\d+$/);
    } while (marker !== undefined);
    expect(pages.map((page) => page.length)).toEqual([20, 20, 5]);
    expect(pages.flat()).toHaveLength(45);
    expect(new Set(pages.flat()).size).toBe(45);

    const small = await thrown(rds.send(new DescribeDBInstancesCommand({ MaxRecords: 10 })));
    expect(small).toBeInstanceOf(RDSServiceException);
    expect(small.name).toBe('InvalidParameterValue');
    const bogus = await thrown(rds.send(new DescribeDBInstancesCommand({ Marker: 'not-a-marker' })));
    expect(bogus.name).toBe('InvalidParameterValue');
    // A marker of another operation is not one of this listing.
    const clusters = await thrown(
      rds.send(
        new DescribeDBClustersCommand({
          Marker: Buffer.from('DescribeDBInstances:20').toString('base64url'),
        }),
      ),
    );
    expect(clusters.name).toBe('InvalidParameterValue');
  });

  it('lists snapshots of the kind asked for (automated and manual when none is), page by page', async () => {
    simulated.addInstance({ id: 'orders-prod', preexisting: true });
    for (let index = 0; index < 25; index += 1)
      simulated.addSnapshot({ id: `rds:orders-prod-${index}`, of: 'orders-prod', type: 'automated' });
    simulated.addSnapshot({ id: 'weekly', of: 'orders-prod', type: 'manual' });
    simulated.addSnapshot({ id: 'awsbackup:job-1', of: 'orders-prod', type: 'awsbackup' });
    simulated.addSnapshot({ id: 'other-db-snap', of: 'billing-prod', type: 'manual' });

    const first = await rds.send(
      new DescribeDBSnapshotsCommand({
        DBInstanceIdentifier: 'orders-prod',
        SnapshotType: 'automated',
        MaxRecords: 20,
      }),
    );
    expect(first.DBSnapshots).toHaveLength(20);
    const second = await rds.send(
      new DescribeDBSnapshotsCommand({
        DBInstanceIdentifier: 'orders-prod',
        SnapshotType: 'automated',
        MaxRecords: 20,
        Marker: first.Marker,
      }),
    );
    expect(second.DBSnapshots).toHaveLength(5);
    expect(second.Marker).toBeUndefined();

    const untyped = await rds.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: 'orders-prod' }));
    expect(untyped.DBSnapshots?.map((snapshot) => snapshot.SnapshotType).sort()).toEqual([
      ...Array<string>(25).fill('automated'),
      'manual',
    ]);
    const backups = await rds.send(
      new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: 'orders-prod', SnapshotType: 'awsbackup' }),
    );
    expect(backups.DBSnapshots?.map((snapshot) => snapshot.DBSnapshotIdentifier)).toEqual([
      'awsbackup:job-1',
    ]);
    const missing = await thrown(
      rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: 'no-such-snapshot' })),
    );
    expect(missing).toBeInstanceOf(DBSnapshotNotFoundFault);
  });

  it('serves the snapshot adapter: the newest available snapshot, a newer one still creating counted', async () => {
    sourceWithSnapshots();
    simulated.addSnapshot({
      id: 'weekly-2029-12-30',
      of: 'orders-prod',
      type: 'manual',
      createdAt: new Date(Date.now() - 72 * HOUR),
    });
    const choice = await newestAvailableSnapshot(rds, { kind: 'instance', id: 'orders-prod' }, [
      'automated',
      'manual',
      'awsbackup',
    ]);
    expect(choice.snapshot.id).toBe('rds:orders-prod-2030-01-01-03-00');
    expect(choice.newerInProgress).toBe(1);
    expect(simulated.callsTo('DescribeDBSnapshots').map((input) => input.SnapshotType)).toEqual([
      'automated',
      'manual',
      'awsbackup',
    ]);
  });
});

describe('the lifecycle of a restored instance', () => {
  it('is creating (no endpoint, no InstanceCreateTime), then backing-up, then available, one describe each', async () => {
    sourceWithSnapshots();
    simulated.endpoint = () => ({ address: 'localhost', port: 54321 });
    const { DBInstance } = await restore();
    expect(DBInstance).toMatchObject({
      DBInstanceIdentifier: 'restore-test-orders-prod-1a2b3c4d',
      DBInstanceArn: 'arn:aws:rds:eu-west-1:111122223333:db:restore-test-orders-prod-1a2b3c4d',
      DBInstanceStatus: 'creating',
      DBInstanceClass: 'db.t4g.medium',
      Engine: 'postgres',
      PubliclyAccessible: false,
      DBSubnetGroup: { DBSubnetGroupName: 'restore-tests' },
    });
    expect(DBInstance?.Endpoint).toBeUndefined();
    expect(DBInstance?.InstanceCreateTime).toBeUndefined();

    expect((await status())?.DBInstanceStatus).toBe('creating');
    const backingUp = await status();
    expect(backingUp?.DBInstanceStatus).toBe('backing-up');
    expect(backingUp?.Endpoint).toMatchObject({ Address: 'localhost', Port: 54321 });
    expect(backingUp?.InstanceCreateTime).toBeInstanceOf(Date);
    expect((await status())?.DBInstanceStatus).toBe('available');
    expect((await status())?.DBInstanceStatus).toBe('available');
    expect(simulated.find('instance', 'restore-test-orders-prod-1a2b3c4d')).toMatchObject({
      restoredFrom: { snapshot: 'rds:orders-prod-2030-01-01-03-00' },
    });
  });

  describe('on the virtual clock', () => {
    beforeEach(() => installVirtualClock());
    afterEach(() => uninstallVirtualClock());

    it('moves on by seconds, however often it is described', async () => {
      sourceWithSnapshots();
      simulated.instanceLifecycle = { statuses: ['backing-up', 'available'], seconds: 600 };
      await restore();
      for (let read = 0; read < 5; read += 1) expect((await status())?.DBInstanceStatus).toBe('creating');
      advanceVirtualClock(599);
      expect((await status())?.DBInstanceStatus).toBe('creating');
      advanceVirtualClock(1);
      expect((await status())?.DBInstanceStatus).toBe('backing-up');
      // Two stages at once: the clock jumped past both.
      advanceVirtualClock(3_600);
      expect((await status())?.DBInstanceStatus).toBe('available');
    });

    it('takes each status its own time when given one per status', async () => {
      sourceWithSnapshots();
      simulated.instanceLifecycle = { statuses: ['backing-up', 'available'], seconds: [840, 240] };
      await restore();
      advanceVirtualClock(839);
      expect((await status())?.DBInstanceStatus).toBe('creating');
      advanceVirtualClock(1);
      expect((await status())?.DBInstanceStatus).toBe('backing-up');
      advanceVirtualClock(239);
      expect((await status())?.DBInstanceStatus).toBe('backing-up');
      advanceVirtualClock(1);
      expect((await status())?.DBInstanceStatus).toBe('available');
    });

    it('stays creating for ever with no statuses, and ends in a failure status when told', async () => {
      sourceWithSnapshots();
      simulated.instanceLifecycle = { statuses: [], seconds: 60, describes: 1 };
      await restore('stuck-one');
      advanceVirtualClock(86_400);
      expect((await status('stuck-one'))?.DBInstanceStatus).toBe('creating');
      simulated.instanceLifecycle = { statuses: ['incompatible-restore'], describes: 1 };
      await restore('broken-one');
      await status('broken-one');
      expect((await status('broken-one'))?.DBInstanceStatus).toBe('incompatible-restore');
    });
  });

  it('shows deleting after a delete, then is gone: DBInstanceNotFoundFault', async () => {
    sourceWithSnapshots();
    await restore();
    const { DBInstance } = await deleteInstance();
    expect(DBInstance?.DBInstanceStatus).toBe('deleting');
    expect((await status())?.DBInstanceStatus).toBe('deleting');
    const gone = await thrown(status());
    expect(gone).toBeInstanceOf(DBInstanceNotFoundFault);
    expect(gone.name).toBe('DBInstanceNotFoundFault');
    expect((gone as DBInstanceNotFoundFault).$metadata.httpStatusCode).toBe(404);
    expect(simulated.deletes).toEqual([
      expect.objectContaining({
        kind: 'instance',
        id: 'restore-test-orders-prod-1a2b3c4d',
        skipFinalSnapshot: true,
        deleteAutomatedBackups: true,
      }),
    ]);
    expect(simulated.leftovers()).toEqual([]);
  });
});

describe("RDS's errors and rules", () => {
  it('refuses a second instance of the same identifier, deleting or not, whatever its case', async () => {
    sourceWithSnapshots();
    await restore();
    const twice = await thrown(restore('Restore-Test-Orders-Prod-1A2B3C4D'));
    expect(twice).toBeInstanceOf(DBInstanceAlreadyExistsFault);
    expect(twice.name).toBe('DBInstanceAlreadyExistsFault');
    await deleteInstance();
    expect(await thrown(restore())).toBeInstanceOf(DBInstanceAlreadyExistsFault);
    expect(simulated.instances.size).toBe(2);
  });

  it('refuses identifiers RDS refuses, unknown or unavailable snapshots, and unknown subnet groups', async () => {
    sourceWithSnapshots();
    simulated.subnetGroups = new Set(['restore-tests']);
    for (const id of ['1-starts-with-digit', 'double--hyphen', 'trailing-', 'x'.repeat(64), 'under_score'])
      expect((await thrown(restore(id))).name).toBe('InvalidParameterValue');
    expect(await thrown(restore('ok-id', 'rds:no-such-snapshot'))).toBeInstanceOf(DBSnapshotNotFoundFault);
    expect(await thrown(restore('ok-id', 'rds:orders-prod-2030-01-02-03-00'))).toBeInstanceOf(
      InvalidDBSnapshotStateFault,
    );
    const subnet = await thrown(
      rds.send(
        new RestoreDBInstanceFromDBSnapshotCommand({
          DBInstanceIdentifier: 'ok-id',
          DBSnapshotIdentifier: 'rds:orders-prod-2030-01-01-03-00',
          DBSubnetGroupName: 'default',
        }),
      ),
    );
    expect(subnet.name).toBe('DBSubnetGroupNotFoundFault');
    // An ARN names the snapshot as well as its identifier.
    const byArn = await restore(
      'ok-id',
      'arn:aws:rds:eu-west-1:111122223333:snapshot:rds:orders-prod-2030-01-01-03-00',
    );
    expect(byArn.DBInstance?.DBInstanceStatus).toBe('creating');
    expect(simulated.created().map((resource) => resource.id)).toEqual(['ok-id']);
  });

  it('refuses to delete twice, to delete without SkipFinalSnapshot or a final snapshot, and a final snapshot while creating', async () => {
    sourceWithSnapshots();
    await restore();
    const noFlag = await thrown(
      rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'restore-test-orders-prod-1a2b3c4d' })),
    );
    expect(noFlag.name).toBe('InvalidParameterCombination');
    const finalWhileCreating = await thrown(
      rds.send(
        new DeleteDBInstanceCommand({
          DBInstanceIdentifier: 'restore-test-orders-prod-1a2b3c4d',
          FinalDBSnapshotIdentifier: 'final',
        }),
      ),
    );
    expect(finalWhileCreating).toBeInstanceOf(InvalidDBInstanceStateFault);
    await deleteInstance();
    const again = await thrown(deleteInstance());
    expect(again).toBeInstanceOf(InvalidDBInstanceStateFault);
    expect(again.message).toMatch(/already being deleted/);
    expect(simulated.deletes.map((record) => record.refused)).toEqual([
      'InvalidParameterCombination',
      'InvalidDBInstanceStateFault',
      undefined,
      'InvalidDBInstanceStateFault',
    ]);
    expect(await thrown(deleteInstance('never-was'))).toBeInstanceOf(DBInstanceNotFoundFault);
  });

  it('counts a final snapshot and automated backups kept at delete as left behind', async () => {
    sourceWithSnapshots();
    await restore();
    await status();
    await status();
    await rds.send(
      new DeleteDBInstanceCommand({
        DBInstanceIdentifier: 'restore-test-orders-prod-1a2b3c4d',
        FinalDBSnapshotIdentifier: 'restore-test-final',
        DeleteAutomatedBackups: false,
      }),
    );
    expect(simulated.leftovers().map(({ kind, id }) => `${kind}:${id}`)).toEqual([
      'snapshot:restore-test-final',
      'automated-backup:restore-test-orders-prod-1a2b3c4d',
    ]);
  });

  it('throws injected faults as RDS does: quota classes before any effect, Throttling as a 400, a lost answer after its effect', async () => {
    sourceWithSnapshots();
    simulated.injectFault({
      operation: 'RestoreDBInstanceFromDBSnapshot',
      name: 'InstanceQuotaExceededFault',
    });
    simulated.injectFault({
      operation: 'RestoreDBInstanceFromDBSnapshot',
      name: 'StorageQuotaExceededFault',
    });
    expect(await thrown(restore())).toBeInstanceOf(InstanceQuotaExceededFault);
    expect(await thrown(restore())).toBeInstanceOf(StorageQuotaExceededFault);
    expect(simulated.instances.has('restore-test-orders-prod-1a2b3c4d')).toBe(false);

    simulated.injectFault({ operation: 'DescribeDBSnapshots', name: 'Throttling', times: 2 });
    const throttled = await thrown(rds.send(new DescribeDBSnapshotsCommand({})));
    expect(throttled).toBeInstanceOf(RDSServiceException);
    expect(throttled).toMatchObject({
      name: 'Throttling',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
    });
    expect(isTransientAwsFault(throttled)).toBe(true);
    simulated.injectFault({ operation: 'DescribeDBInstances', name: 'ThrottlingException' });
    const named = await thrown(rds.send(new DescribeDBInstancesCommand({})));
    expect(named).toMatchObject({ name: 'ThrottlingException', $fault: 'client' });
    expect(isTransientAwsFault(named)).toBe(true);
    await expect(
      newestAvailableSnapshot(rds, { kind: 'instance', id: 'orders-prod' }, ['automated']),
    ).rejects.toBeInstanceOf(RdsUnavailable);
    await expect(rds.send(new DescribeDBSnapshotsCommand({}))).resolves.toBeDefined();

    simulated.injectFault({
      operation: 'RestoreDBInstanceFromDBSnapshot',
      name: 'InternalFailure',
      afterEffect: true,
    });
    const lost = await thrown(restore());
    expect(lost).toMatchObject({ name: 'InternalFailure', $fault: 'server' });
    expect(simulated.instances.get('restore-test-orders-prod-1a2b3c4d')?.status).toBe('creating');
  });

  it('limits faults to the identifier named', async () => {
    sourceWithSnapshots();
    await restore('first-one');
    await restore('second-one');
    simulated.injectFault({ operation: 'DeleteDBInstance', name: 'Throttling', identifier: 'second-one' });
    await expect(deleteInstance('first-one')).resolves.toBeDefined();
    expect((await thrown(deleteInstance('second-one'))).name).toBe('Throttling');
    await expect(deleteInstance('second-one')).resolves.toBeDefined();
  });

  it('enforces the instance quota it is given', async () => {
    sourceWithSnapshots();
    simulated.instanceQuota = 2;
    await restore('first-one');
    expect(await thrown(restore('second-one'))).toBeInstanceOf(InstanceQuotaExceededFault);
  });
});

describe('tags', () => {
  it('keeps the tags given at create, in DescribeDBInstances and ListTagsForResource', async () => {
    sourceWithSnapshots();
    const { DBInstance } = await restore();
    expect(DBInstance?.TagList).toEqual(TAGS);
    expect(simulated.find('instance', 'restore-test-orders-prod-1a2b3c4d')?.tagsAtCreate).toEqual({
      'platform-runbooks:restore-test': 'prod',
      'platform-runbooks:execution': 'arn:aws:states:eu-west-1:111122223333:execution:x:1',
    });
    const listed = await rds.send(
      new ListTagsForResourceCommand({ ResourceName: DBInstance?.DBInstanceArn }),
    );
    expect(listed.TagList).toEqual(TAGS);
    expect((await status())?.TagList).toEqual(TAGS);
    const gone = await thrown(
      rds.send(
        new ListTagsForResourceCommand({ ResourceName: 'arn:aws:rds:eu-west-1:111122223333:db:never-was' }),
      ),
    );
    expect(gone).toBeInstanceOf(DBInstanceNotFoundFault);
    const reserved = await thrown(
      rds.send(
        new RestoreDBInstanceFromDBSnapshotCommand({
          DBInstanceIdentifier: 'other',
          DBSnapshotIdentifier: 'rds:orders-prod-2030-01-01-03-00',
          Tags: [{ Key: 'aws:cloudformation:stack-name', Value: 'x' }],
        }),
      ),
    );
    expect(reserved.name).toBe('InvalidParameterValue');
  });
});

describe('point-in-time restore', () => {
  it('restores to the latest restorable time, about five minutes behind, and refuses a time after it', async () => {
    simulated.addInstance({ id: 'orders-prod', preexisting: true });
    const { DBInstances = [] } = await rds.send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'orders-prod' }),
    );
    const latest = DBInstances[0]?.LatestRestorableTime;
    expect(Date.now() - (latest?.getTime() ?? 0)).toBeGreaterThanOrEqual(299_000);
    expect(Date.now() - (latest?.getTime() ?? 0)).toBeLessThan(310_000);

    const { DBInstance } = await rds.send(
      new RestoreDBInstanceToPointInTimeCommand({
        SourceDBInstanceIdentifier: 'orders-prod',
        TargetDBInstanceIdentifier: 'restore-test-pitr',
        UseLatestRestorableTime: true,
        Tags: TAGS,
      }),
    );
    expect(DBInstance?.DBInstanceStatus).toBe('creating');
    const restored = simulated.find('instance', 'restore-test-pitr');
    expect(restored?.restoredFrom).toMatchObject({ source: 'orders-prod' });
    expect(restored?.createdBy?.operation).toBe('RestoreDBInstanceToPointInTime');

    const future = await thrown(
      rds.send(
        new RestoreDBInstanceToPointInTimeCommand({
          SourceDBInstanceIdentifier: 'orders-prod',
          TargetDBInstanceIdentifier: 'restore-test-future',
          RestoreTime: new Date(Date.now() - 60_000),
        }),
      ),
    );
    expect(future.name).toBe('InvalidParameterValue');
    const both = await thrown(
      rds.send(
        new RestoreDBInstanceToPointInTimeCommand({
          SourceDBInstanceIdentifier: 'orders-prod',
          TargetDBInstanceIdentifier: 'restore-test-both',
          RestoreTime: new Date(Date.now() - HOUR),
          UseLatestRestorableTime: true,
        }),
      ),
    );
    expect(both.name).toBe('InvalidParameterCombination');
    expect(
      await thrown(
        rds.send(
          new RestoreDBInstanceToPointInTimeCommand({
            SourceDBInstanceIdentifier: 'no-such-db',
            TargetDBInstanceIdentifier: 'restore-test-x',
            UseLatestRestorableTime: true,
          }),
        ),
      ),
    ).toBeInstanceOf(DBInstanceNotFoundFault);
    simulated.addInstance({ id: 'no-backups', preexisting: true, backupRetentionPeriod: 0 });
    expect(
      await thrown(
        rds.send(
          new RestoreDBInstanceToPointInTimeCommand({
            SourceDBInstanceIdentifier: 'no-backups',
            TargetDBInstanceIdentifier: 'restore-test-y',
            UseLatestRestorableTime: true,
          }),
        ),
      ),
    ).toBeInstanceOf(PointInTimeRestoreNotEnabledFault);
  });
});

describe('Aurora', () => {
  it('restores a cluster, adds an instance to it, and deletes the cluster only once its instance is deleting', async () => {
    simulated.addCluster({ id: 'ledger-prod', preexisting: true });
    simulated.addClusterSnapshot({ id: 'rds:ledger-prod-2030-01-01-03-00', of: 'ledger-prod' });
    const snapshots = await rds.send(
      new DescribeDBClusterSnapshotsCommand({
        DBClusterIdentifier: 'ledger-prod',
        SnapshotType: 'automated',
      }),
    );
    expect(snapshots.DBClusterSnapshots?.[0]).toMatchObject({
      DBClusterSnapshotIdentifier: 'rds:ledger-prod-2030-01-01-03-00',
      Status: 'available',
      Engine: 'aurora-postgresql',
    });

    const { DBCluster } = await rds.send(
      new RestoreDBClusterFromSnapshotCommand({
        DBClusterIdentifier: 'restore-test-ledger-prod-1',
        SnapshotIdentifier: 'rds:ledger-prod-2030-01-01-03-00',
        Engine: 'aurora-postgresql',
        Tags: TAGS,
      }),
    );
    expect(DBCluster).toMatchObject({ Status: 'creating', TagList: TAGS });
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: 'restore-test-ledger-prod-1',
        DBClusterIdentifier: 'restore-test-ledger-prod-1',
        DBInstanceClass: 'db.t4g.medium',
        Engine: 'aurora-postgresql',
        Tags: TAGS,
      }),
    );
    const described = await rds.send(
      new DescribeDBClustersCommand({ DBClusterIdentifier: 'restore-test-ledger-prod-1' }),
    );
    expect(described.DBClusters?.[0]?.DBClusterMembers).toEqual([
      expect.objectContaining({ DBInstanceIdentifier: 'restore-test-ledger-prod-1', IsClusterWriter: true }),
    ]);
    const member = await status('restore-test-ledger-prod-1');
    expect(member?.DBClusterIdentifier).toBe('restore-test-ledger-prod-1');

    const early = await thrown(
      rds.send(
        new DeleteDBClusterCommand({
          DBClusterIdentifier: 'restore-test-ledger-prod-1',
          SkipFinalSnapshot: true,
          DeleteAutomatedBackups: true,
        }),
      ),
    );
    expect(early).toBeInstanceOf(InvalidDBClusterStateFault);
    expect(early.message).toMatch(/non-deleting state/);
    await deleteInstance('restore-test-ledger-prod-1');
    await rds.send(
      new DeleteDBClusterCommand({
        DBClusterIdentifier: 'restore-test-ledger-prod-1',
        SkipFinalSnapshot: true,
        DeleteAutomatedBackups: true,
      }),
    );
    expect(simulated.leftovers()).toEqual([]);
    await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'restore-test-ledger-prod-1' }));
    expect(
      await thrown(
        rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'restore-test-ledger-prod-1' })),
      ),
    ).toBeInstanceOf(DBClusterNotFoundFault);
    expect(simulated.deletes.filter((record) => !record.refused).map((record) => record.kind)).toEqual([
      'instance',
      'cluster',
    ]);
  });

  it('restores a cluster to its latest restorable time', async () => {
    simulated.addCluster({ id: 'ledger-prod', preexisting: true, restorableLagSeconds: 240 });
    await rds.send(
      new RestoreDBClusterToPointInTimeCommand({
        DBClusterIdentifier: 'restore-test-ledger-pitr',
        SourceDBClusterIdentifier: 'ledger-prod',
        UseLatestRestorableTime: true,
        RestoreType: 'copy-on-write',
      }),
    );
    const restored = simulated.find('cluster', 'restore-test-ledger-pitr');
    expect(restored?.restoredFrom).toMatchObject({ source: 'ledger-prod' });
    const time = (restored?.restoredFrom as { time: Date }).time;
    expect(Math.round((Date.now() - time.getTime()) / 1000)).toBe(240);
  });

  it('lists clusters with their tags, paginated, for the janitor', async () => {
    for (let index = 0; index < 23; index += 1)
      simulated.addCluster({ id: `cluster-${index}`, tags: { team: String(index) } });
    const first = await rds.send(new DescribeDBClustersCommand({ MaxRecords: 20 }));
    const second = await rds.send(new DescribeDBClustersCommand({ MaxRecords: 20, Marker: first.Marker }));
    const all = [...(first.DBClusters ?? []), ...(second.DBClusters ?? [])];
    expect(all).toHaveLength(23);
    expect(all[22]).toMatchObject({
      DBClusterIdentifier: 'cluster-22',
      TagList: [{ Key: 'team', Value: '22' }],
    });
  });
});

describe('leftovers', () => {
  it('lists what a run created and did not delete, never the source databases', async () => {
    sourceWithSnapshots();
    simulated.addCluster({ id: 'ledger-prod', preexisting: true });
    expect(simulated.leftovers()).toEqual([]);
    await restore();
    expect(simulated.leftovers()).toEqual([
      expect.objectContaining({
        kind: 'instance',
        id: 'restore-test-orders-prod-1a2b3c4d',
        status: 'creating',
      }),
    ]);
    await deleteInstance();
    expect(simulated.leftovers()).toEqual([]);
    // A killed run's instance, planted by a scenario.
    simulated.addInstance({
      id: 'restore-test-orders-prod-dead',
      tags: { 'platform-runbooks:restore-test': 'prod' },
    });
    expect(simulated.leftovers().map((leftover) => leftover.id)).toEqual(['restore-test-orders-prod-dead']);
  });
});
