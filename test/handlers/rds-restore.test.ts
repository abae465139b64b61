import {
  CreateDBInstanceCommand,
  DBInstanceAlreadyExistsFault,
  DBInstanceNotFoundFault,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  InstanceQuotaExceededFault,
  InvalidDBInstanceStateFault,
  RDSClient,
  RDSServiceException,
  RestoreDBClusterFromSnapshotCommand,
  RestoreDBClusterToPointInTimeCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  RestoreDBInstanceToPointInTimeCommand,
  type DBInstance,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CleanupNotYetPossible,
  CleanupRefused,
  deleteRestored,
  DuplicateRun,
  RestoreRefused,
  startRestore,
  type RestoreRequest,
} from '../../lambdas/aws/rds-restore';
import { RdsUnavailable } from '../../lambdas/aws/rds-snapshots';
import { deleteLeftovers, LeftoversNotDeleted } from '../../lambdas/restore-test/cleanup';
import { RestoreTestTag } from '../../lib/config/restore-tests';

const rds = new RDSClient({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKIDTESTTESTTESTTEST', secretAccessKey: 'test' },
});
const mock = mockClient(rds);
afterEach(() => mock.reset());

const EXECUTION = 'arn:aws:states:eu-west-1:111122223333:execution:platform-runbooks-prod-restore-test:run-1';
const tags = {
  [RestoreTestTag.marker]: 'prod',
  [RestoreTestTag.execution]: EXECUTION,
  [RestoreTestTag.database]: 'orders',
  [RestoreTestTag.createdAt]: '2026-12-01T03:00:00.000Z',
};
const request = (fields: Partial<RestoreRequest> = {}): RestoreRequest => ({
  source: { kind: 'instance', id: 'orders-prod' },
  from: { mode: 'snapshot', snapshotId: 'rds:orders-prod-2026-12-01-03-00', engine: 'postgres' },
  instanceId: 'restore-test-orders-prod-1a2b3c4d',
  instanceClass: 'db.t4g.medium',
  port: 5432,
  subnetGroupName: 'platform-runbooks-prod-restore-test',
  securityGroupId: 'sg-0123456789abcdef0',
  tags,
  executionTag: RestoreTestTag.execution,
  createdAtTag: RestoreTestTag.createdAt,
  ...fields,
});
const asTagList = (values: Record<string, string>) =>
  Object.entries(values).map(([Key, Value]) => ({ Key, Value }));
const instance = (id: string, fields: Partial<DBInstance> = {}): DBInstance => ({
  DBInstanceIdentifier: id,
  DBInstanceStatus: 'available',
  InstanceCreateTime: new Date('2026-12-01T03:00:00Z'),
  TagList: asTagList(tags),
  ...fields,
});
const fault = (name: string, $fault: 'client' | 'server' = 'client') =>
  new RDSServiceException({ name, $fault, message: `${name} (test)`, $metadata: {} });

describe('startRestore', () => {
  it('restores a snapshot into an isolated, untagged-never, throwaway instance', async () => {
    mock.on(RestoreDBInstanceFromDBSnapshotCommand).resolves({});
    await expect(startRestore(rds, request())).resolves.toEqual({ created: true });
    const [call] = mock.commandCalls(RestoreDBInstanceFromDBSnapshotCommand);
    expect(call?.args[0].input).toMatchObject({
      DBInstanceIdentifier: 'restore-test-orders-prod-1a2b3c4d',
      DBSnapshotIdentifier: 'rds:orders-prod-2026-12-01-03-00',
      DBInstanceClass: 'db.t4g.medium',
      DBSubnetGroupName: 'platform-runbooks-prod-restore-test',
      VpcSecurityGroupIds: ['sg-0123456789abcdef0'],
      PubliclyAccessible: false,
      MultiAZ: false,
      DeletionProtection: false,
      BackupRetentionPeriod: 0,
      CopyTagsToSnapshot: false,
      Port: 5432,
    });
    expect(call?.args[0].input.Tags).toEqual(expect.arrayContaining(asTagList(tags)));
  });

  it('restores an instance to the point in time the plan chose', async () => {
    mock.on(RestoreDBInstanceToPointInTimeCommand).resolves({});
    const restoreTime = new Date('2026-12-01T02:55:00Z');
    await startRestore(rds, request({ from: { mode: 'point-in-time', restoreTime, engine: 'postgres' } }));
    expect(mock.commandCalls(RestoreDBInstanceToPointInTimeCommand)[0]?.args[0].input).toMatchObject({
      SourceDBInstanceIdentifier: 'orders-prod',
      TargetDBInstanceIdentifier: 'restore-test-orders-prod-1a2b3c4d',
      RestoreTime: restoreTime,
      BackupRetentionPeriod: 0,
    });
  });

  it('restores an Aurora cluster, then creates its one instance, both tagged on create', async () => {
    mock.on(RestoreDBClusterFromSnapshotCommand).resolves({});
    mock.on(CreateDBInstanceCommand).resolves({});
    await startRestore(
      rds,
      request({
        source: { kind: 'cluster', id: 'ledger' },
        from: { mode: 'snapshot', snapshotId: 'rds:ledger-2026-12-01', engine: 'aurora-postgresql' },
        clusterId: 'restore-test-ledger-1a2b3c4d',
        instanceId: 'restore-test-ledger-1a2b3c4d-i1',
      }),
    );
    expect(mock.commandCalls(RestoreDBClusterFromSnapshotCommand)[0]?.args[0].input).toMatchObject({
      DBClusterIdentifier: 'restore-test-ledger-1a2b3c4d',
      SnapshotIdentifier: 'rds:ledger-2026-12-01',
      Engine: 'aurora-postgresql',
      DeletionProtection: false,
    });
    expect(mock.commandCalls(CreateDBInstanceCommand)[0]?.args[0].input).toMatchObject({
      DBInstanceIdentifier: 'restore-test-ledger-1a2b3c4d-i1',
      DBClusterIdentifier: 'restore-test-ledger-1a2b3c4d',
      PubliclyAccessible: false,
      Tags: expect.arrayContaining(asTagList(tags)),
    });
  });

  it('restores an Aurora cluster to a point in time with RestoreToTime', async () => {
    mock.on(RestoreDBClusterToPointInTimeCommand).resolves({});
    mock.on(CreateDBInstanceCommand).resolves({});
    const restoreTime = new Date('2026-12-01T02:55:00Z');
    await startRestore(
      rds,
      request({
        source: { kind: 'cluster', id: 'ledger' },
        from: { mode: 'point-in-time', restoreTime, engine: 'aurora-postgresql' },
        clusterId: 'restore-test-ledger-1a2b3c4d',
      }),
    );
    expect(mock.commandCalls(RestoreDBClusterToPointInTimeCommand)[0]?.args[0].input).toMatchObject({
      SourceDBClusterIdentifier: 'ledger',
      RestoreToTime: restoreTime,
    });
  });

  it('meets its own instance on a retry and creates nothing more', async () => {
    mock
      .on(RestoreDBInstanceFromDBSnapshotCommand)
      .rejects(new DBInstanceAlreadyExistsFault({ message: 'exists', $metadata: {} }));
    mock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance(request().instanceId)] });
    // The RTO starts when the first attempt started the restore: its tag says when.
    await expect(startRestore(rds, request())).resolves.toEqual({
      created: false,
      firstStartedAt: new Date(tags[RestoreTestTag.createdAt]),
    });
  });

  it("refuses as DuplicateRun when the instance is another execution's: a second delivery of the start", async () => {
    mock
      .on(RestoreDBInstanceFromDBSnapshotCommand)
      .rejects(new DBInstanceAlreadyExistsFault({ message: 'exists', $metadata: {} }));
    mock.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [
        instance(request().instanceId, {
          TagList: asTagList({ ...tags, [RestoreTestTag.execution]: `${EXECUTION}-first` }),
        }),
      ],
    });
    const error = await startRestore(rds, request()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DuplicateRun);
    expect((error as Error).message).toContain(`${EXECUTION}-first`);
  });

  it('names a quota refusal RestoreRefused and throttling RdsUnavailable', async () => {
    mock
      .on(RestoreDBInstanceFromDBSnapshotCommand)
      .rejectsOnce(new InstanceQuotaExceededFault({ message: 'quota', $metadata: {} }))
      .rejectsOnce(fault('ThrottlingException'));
    await expect(startRestore(rds, request())).rejects.toThrow(RestoreRefused);
    await expect(startRestore(rds, request())).rejects.toThrow(RdsUnavailable);
  });
});

describe('deleteRestored', () => {
  const guard = {
    markerTag: RestoreTestTag.marker,
    environment: 'prod',
    executionTag: RestoreTestTag.execution,
    execution: EXECUTION,
  };
  const target = { kind: 'instance', id: 'restore-test-orders-prod-1a2b3c4d' } as const;

  it('deletes its own instance without a final snapshot, automated backups included', async () => {
    mock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance(target.id)] });
    mock.on(DeleteDBInstanceCommand).resolves({});
    await expect(deleteRestored(rds, target, guard)).resolves.toBe('deleted');
    expect(mock.commandCalls(DeleteDBInstanceCommand)[0]?.args[0].input).toEqual({
      DBInstanceIdentifier: target.id,
      SkipFinalSnapshot: true,
      DeleteAutomatedBackups: true,
    });
  });

  it('deletes a cluster the same way', async () => {
    mock.on(DescribeDBClustersCommand).resolves({
      DBClusters: [
        { DBClusterIdentifier: 'restore-test-ledger-1', Status: 'available', TagList: asTagList(tags) },
      ],
    });
    mock.on(DeleteDBClusterCommand).resolves({});
    await expect(deleteRestored(rds, { kind: 'cluster', id: 'restore-test-ledger-1' }, guard)).resolves.toBe(
      'deleted',
    );
    expect(mock.commandCalls(DeleteDBClusterCommand)[0]?.args[0].input).toMatchObject({
      SkipFinalSnapshot: true,
    });
  });

  it('never deletes what is not tagged as this environment or this execution', async () => {
    mock
      .on(DescribeDBInstancesCommand)
      .resolvesOnce({ DBInstances: [instance(target.id, { TagList: [] })] })
      .resolvesOnce({
        DBInstances: [
          instance(target.id, { TagList: asTagList({ ...tags, [RestoreTestTag.marker]: 'staging' }) }),
        ],
      })
      .resolvesOnce({
        DBInstances: [
          instance(target.id, {
            TagList: asTagList({ ...tags, [RestoreTestTag.execution]: 'someone-else' }),
          }),
        ],
      });
    for (let attempt = 0; attempt < 3; attempt += 1) {
      await expect(deleteRestored(rds, target, guard)).rejects.toThrow(CleanupRefused);
    }
    expect(mock.commandCalls(DeleteDBInstanceCommand)).toHaveLength(0);
  });

  it('counts an instance already deleting, or gone, as gone', async () => {
    mock
      .on(DescribeDBInstancesCommand)
      .resolvesOnce({ DBInstances: [instance(target.id, { DBInstanceStatus: 'deleting' })] })
      .rejectsOnce(new DBInstanceNotFoundFault({ message: 'gone', $metadata: {} }));
    await expect(deleteRestored(rds, target, guard)).resolves.toBe('already-gone');
    await expect(deleteRestored(rds, target, guard)).resolves.toBe('already-gone');
    expect(mock.commandCalls(DeleteDBInstanceCommand)).toHaveLength(0);
  });

  it('names an instance RDS cannot delete yet CleanupNotYetPossible, and throttling RdsUnavailable', async () => {
    mock
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [instance(target.id, { DBInstanceStatus: 'creating' })] });
    mock
      .on(DeleteDBInstanceCommand)
      .rejectsOnce(new InvalidDBInstanceStateFault({ message: 'not in available state', $metadata: {} }))
      .rejectsOnce(fault('ThrottlingException'));
    await expect(deleteRestored(rds, target, guard)).rejects.toThrow(CleanupNotYetPossible);
    await expect(deleteRestored(rds, target, guard)).rejects.toThrow(RdsUnavailable);
  });
});

describe('deleteLeftovers (the janitor)', () => {
  const now = new Date('2026-12-05T12:00:00Z');
  const hoursAgo = (hours: number) => new Date(now.getTime() - hours * 3_600_000).toISOString();
  const tagged = (id: string, createdAt: string, environment = 'prod') =>
    instance(id, {
      TagList: asTagList({
        ...tags,
        [RestoreTestTag.marker]: environment,
        [RestoreTestTag.createdAt]: createdAt,
      }),
    });

  it('deletes tagged instances older than the limit, across pages, and leaves the rest alone', async () => {
    mock
      .on(DescribeDBInstancesCommand, { MaxRecords: 100, Marker: undefined })
      .resolves({
        DBInstances: [
          tagged('restore-test-old-1', hoursAgo(30)),
          tagged('restore-test-young-1', hoursAgo(2)),
        ],
        Marker: 'page-2',
      })
      .on(DescribeDBInstancesCommand, { MaxRecords: 100, Marker: 'page-2' })
      .resolves({
        DBInstances: [
          instance('orders-prod', { TagList: [] }),
          tagged('restore-test-staging-1', hoursAgo(100), 'staging'),
        ],
      });
    mock.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'restore-test-old-1' }).resolves({
      DBInstances: [tagged('restore-test-old-1', hoursAgo(30))],
    });
    mock.on(DescribeDBClustersCommand).resolves({ DBClusters: [] });
    mock.on(DeleteDBInstanceCommand).resolves({});
    const result = await deleteLeftovers(rds, { environment: 'prod', maxAgeHours: 24, now });
    expect(result.deleted.map((item) => item.id)).toEqual(['restore-test-old-1']);
    expect(result.deleted[0]).toMatchObject({ database: 'orders', execution: EXECUTION, ageHours: 30 });
    expect(result.young).toBe(1);
    expect(
      mock.commandCalls(DeleteDBInstanceCommand).map((call) => call.args[0].input.DBInstanceIdentifier),
    ).toEqual(['restore-test-old-1']);
  });

  it('tries every leftover, then fails naming the ones it could not delete', async () => {
    mock.on(DescribeDBInstancesCommand, { MaxRecords: 100, Marker: undefined }).resolves({
      DBInstances: [tagged('restore-test-a', hoursAgo(48)), tagged('restore-test-b', hoursAgo(48))],
    });
    mock.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'restore-test-a' }).resolves({
      DBInstances: [tagged('restore-test-a', hoursAgo(48))],
    });
    mock.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'restore-test-b' }).resolves({
      DBInstances: [tagged('restore-test-b', hoursAgo(48))],
    });
    mock.on(DescribeDBClustersCommand).resolves({ DBClusters: [] });
    mock
      .on(DeleteDBInstanceCommand, { DBInstanceIdentifier: 'restore-test-a' })
      .rejects(new InvalidDBInstanceStateFault({ message: 'modifying', $metadata: {} }))
      .on(DeleteDBInstanceCommand, { DBInstanceIdentifier: 'restore-test-b' })
      .resolves({});
    const error = await deleteLeftovers(rds, { environment: 'prod', maxAgeHours: 24, now }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(LeftoversNotDeleted);
    expect((error as Error).message).toMatch(
      /restore-test-a: CleanupNotYetPossible.*deleted restore-test-b|deleted restore-test-b.*restore-test-a/,
    );
    expect(mock.commandCalls(DeleteDBInstanceCommand)).toHaveLength(2);
  });
});
