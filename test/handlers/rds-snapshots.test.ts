import {
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
  RDSServiceException,
  type DBSnapshot,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  newestAvailableSnapshot,
  NoSnapshotAvailable,
  RdsInvalidResponse,
  RdsUnavailable,
} from '../../lambdas/aws/rds-snapshots';
import { RDS_IDENTIFIER_MAX, restoredIdentifier } from '../../lambdas/restore-test/naming';

const rds = new RDSClient({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKIDTESTTESTTESTTEST', secretAccessKey: 'test' },
});
const mock = mockClient(rds);
afterEach(() => mock.reset());

const snapshot = (id: string, fields: Partial<DBSnapshot> = {}): DBSnapshot => ({
  DBSnapshotIdentifier: id,
  DBSnapshotArn: `arn:aws:rds:eu-west-1:111122223333:snapshot:${id}`,
  Status: 'available',
  SnapshotCreateTime: new Date('2026-12-01T03:00:00Z'),
  Engine: 'postgres',
  Encrypted: true,
  KmsKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  ...fields,
});

describe('newestAvailableSnapshot', () => {
  it('asks for each kind by name and picks the newest available one, with its key', async () => {
    mock.on(DescribeDBSnapshotsCommand, { SnapshotType: 'automated' }).resolves({
      DBSnapshots: [
        snapshot('rds:orders-2026-11-30', { SnapshotCreateTime: new Date('2026-11-30T03:00:00Z') }),
        snapshot('rds:orders-2026-12-01'),
      ],
    });
    mock.on(DescribeDBSnapshotsCommand, { SnapshotType: 'awsbackup' }).resolves({
      DBSnapshots: [snapshot('awsbackup:job-1', { SnapshotCreateTime: new Date('2026-12-01T05:00:00Z') })],
    });
    mock.on(DescribeDBSnapshotsCommand, { SnapshotType: 'manual' }).resolves({ DBSnapshots: [] });
    const choice = await newestAvailableSnapshot(rds, { kind: 'instance', id: 'orders' }, [
      'automated',
      'manual',
      'awsbackup',
    ]);
    expect(choice.snapshot).toMatchObject({ id: 'awsbackup:job-1', kind: 'awsbackup', encrypted: true });
    expect(choice.snapshot.kmsKeyId).toMatch(/^arn:aws:kms:/);
    expect(choice.newerInProgress).toBe(0);
    expect(
      mock
        .commandCalls(DescribeDBSnapshotsCommand)
        .map((call) => call.args[0].input.SnapshotType)
        .sort(),
    ).toEqual(['automated', 'awsbackup', 'manual']);
  });

  it('skips a snapshot still being created, and says a newer one is on its way', async () => {
    mock.on(DescribeDBSnapshotsCommand).resolves({
      DBSnapshots: [
        snapshot('rds:orders-2026-12-02', { Status: 'creating', SnapshotCreateTime: undefined }),
        snapshot('rds:orders-2026-12-01'),
      ],
    });
    const choice = await newestAvailableSnapshot(rds, { kind: 'instance', id: 'orders' }, ['automated']);
    expect(choice.snapshot.id).toBe('rds:orders-2026-12-01');
    expect(choice.newerInProgress).toBe(1);
  });

  it('follows Marker through every page', async () => {
    mock
      .on(DescribeDBSnapshotsCommand, { Marker: undefined })
      .resolves({ DBSnapshots: [snapshot('manual-1')], Marker: 'page-2' })
      .on(DescribeDBSnapshotsCommand, { Marker: 'page-2' })
      .resolves({
        DBSnapshots: [snapshot('manual-2', { SnapshotCreateTime: new Date('2026-12-01T09:00:00Z') })],
      });
    const choice = await newestAvailableSnapshot(rds, { kind: 'instance', id: 'orders' }, ['manual']);
    expect(choice.snapshot.id).toBe('manual-2');
    expect(mock.commandCalls(DescribeDBSnapshotsCommand)).toHaveLength(2);
  });

  it('reads an Aurora cluster through DescribeDBClusterSnapshots', async () => {
    mock.on(DescribeDBClusterSnapshotsCommand).resolves({
      DBClusterSnapshots: [
        {
          DBClusterSnapshotIdentifier: 'rds:ledger-2026-12-01',
          DBClusterSnapshotArn: 'arn:aws:rds:eu-west-1:111122223333:cluster-snapshot:rds:ledger-2026-12-01',
          Status: 'available',
          SnapshotCreateTime: new Date('2026-12-01T03:00:00Z'),
          Engine: 'aurora-postgresql',
          StorageEncrypted: false,
        },
      ],
    });
    const choice = await newestAvailableSnapshot(rds, { kind: 'cluster', id: 'ledger' }, ['automated']);
    expect(choice.snapshot).toMatchObject({ engine: 'aurora-postgresql', encrypted: false });
    expect(choice.snapshot.kmsKeyId).toBeUndefined();
    expect(mock.commandCalls(DescribeDBSnapshotsCommand)).toHaveLength(0);
  });

  it('refuses to choose when nothing is available, naming what it looked for and what is pending', async () => {
    mock.on(DescribeDBSnapshotsCommand).resolves({
      DBSnapshots: [snapshot('rds:orders-2026-12-02', { Status: 'creating', SnapshotCreateTime: undefined })],
    });
    const attempt = newestAvailableSnapshot(rds, { kind: 'instance', id: 'orders' }, ['automated']);
    await expect(attempt).rejects.toThrow(NoSnapshotAvailable);
    await expect(attempt).rejects.toThrow(
      'No available automated snapshot of DB instance orders: 1 not available yet (creating)',
    );
  });

  it('names throttling RdsUnavailable, for the workflow to retry', async () => {
    mock.on(DescribeDBSnapshotsCommand).rejects(
      new RDSServiceException({
        name: 'Throttling',
        $fault: 'client',
        $metadata: {},
        message: 'Rate exceeded',
      }),
    );
    await expect(
      newestAvailableSnapshot(rds, { kind: 'instance', id: 'orders' }, ['automated']),
    ).rejects.toThrow(RdsUnavailable);
  });

  it('refuses an answer without the fields a restore needs', async () => {
    mock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ DBSnapshotIdentifier: 'x' }] });
    await expect(
      newestAvailableSnapshot(rds, { kind: 'instance', id: 'orders' }, ['automated']),
    ).rejects.toThrow(RdsInvalidResponse);
  });
});

describe('restoredIdentifier', () => {
  const execution =
    'arn:aws:states:eu-west-1:111122223333:execution:platform-runbooks-prod-restore-test:run-1';

  it('names the source and the run, and is the same for the same run', () => {
    const name = restoredIdentifier('orders', execution);
    expect(name).toMatch(/^restore-test-orders-[0-9a-f]{8}$/);
    expect(restoredIdentifier('orders', execution)).toBe(name);
    expect(restoredIdentifier('orders', `${execution}-2`)).not.toBe(name);
  });

  it('fits RDS identifier rules for a source at the 63-character limit', () => {
    const name = restoredIdentifier(`Orders_DB--${'x'.repeat(60)}`, execution);
    expect(name.length).toBeLessThanOrEqual(RDS_IDENTIFIER_MAX);
    expect(name).toMatch(/^[a-z](?!.*--)[a-z0-9-]*[a-z0-9]$/);
  });

  it('drops a hyphen the cut would leave at the end of the source part', () => {
    // 40 × 'a' then '-bbbb': the source part has room for 41 characters, so the cut ends on the hyphen.
    const name = restoredIdentifier(`${'a'.repeat(40)}-bbbb`, execution);
    expect(name).toMatch(new RegExp(`^restore-test-${'a'.repeat(40)}-[0-9a-f]{8}$`));
  });
});
