import {
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotsCommand,
  type RDSClient,
} from '@aws-sdk/client-rds';
import * as z from 'zod/mini';
import { parseOrThrow, RunbookError } from '../shared/errors';
import { sendNamingFaults } from './faults';

// The snapshots a restore test may start from: the newest available one of an RDS instance or an Aurora
// cluster, among the configured kinds (automated, manual, AWS Backup). Answers are parsed at this edge.

/** RDS did not answer (throttled after the SDK's retries, 5xx, timeout): the workflow retries. */
export class RdsUnavailable extends RunbookError {
  override name = 'RdsUnavailable';
}

/** RDS answered with something that is not what the API promises: nothing is restored from it. */
export class RdsInvalidResponse extends RunbookError {
  override name = 'RdsInvalidResponse';
}

/** No snapshot of the source is available to restore: the run reports it and creates nothing. */
export class NoSnapshotAvailable extends RunbookError {
  override name = 'NoSnapshotAvailable';
}

export type SnapshotKind = 'automated' | 'manual' | 'awsbackup';

export type SnapshotSource = { kind: 'instance'; id: string } | { kind: 'cluster'; id: string };

export interface Snapshot {
  /** The identifier a restore names (`rds:…` for automated ones, `awsbackup:…` for AWS Backup's). */
  id: string;
  arn: string;
  kind: SnapshotKind;
  createdAt: Date;
  engine: string;
  encrypted: boolean;
  /** The key of an encrypted snapshot: its restore needs `kms:CreateGrant` and `kms:DescribeKey` on it. */
  kmsKeyId?: string;
}

export interface SnapshotChoice {
  snapshot: Snapshot;
  /** Snapshots newer than the chosen one that are not available yet (`creating`): the run says it used an older one. */
  newerInProgress: number;
}

/** DescribeDB(Cluster)Snapshots pages hold 20 to 100 records (RDS API reference, MaxRecords). */
const PAGE_SIZE = 100;
const MAX_PAGES = 50;

const text = z.string().check(z.minLength(1));
const instanceSnapshots = z.object({
  DBSnapshots: z._default(
    z.array(
      z.object({
        DBSnapshotIdentifier: text,
        DBSnapshotArn: text,
        SnapshotType: z.optional(z.string()),
        Status: text,
        // Absent while the snapshot is being created.
        SnapshotCreateTime: z.optional(z.date()),
        Engine: text,
        Encrypted: z._default(z.boolean(), false),
        KmsKeyId: z.optional(z.string()),
      }),
    ),
    [],
  ),
  Marker: z.optional(z.string()),
});
const clusterSnapshots = z.object({
  DBClusterSnapshots: z._default(
    z.array(
      z.object({
        DBClusterSnapshotIdentifier: text,
        DBClusterSnapshotArn: text,
        SnapshotType: z.optional(z.string()),
        Status: text,
        SnapshotCreateTime: z.optional(z.date()),
        Engine: text,
        StorageEncrypted: z._default(z.boolean(), false),
        KmsKeyId: z.optional(z.string()),
      }),
    ),
    [],
  ),
  Marker: z.optional(z.string()),
});

interface Listed extends Snapshot {
  status: string;
}

/**
 * The newest `available` snapshot of `source` among `kinds`. Without `SnapshotType`, DescribeDBSnapshots
 * returns automated and manual snapshots only, so each kind is asked for by name (AWS Backup's included).
 * @throws NoSnapshotAvailable when there is none, naming what was looked for
 */
export async function newestAvailableSnapshot(
  rds: RDSClient,
  source: SnapshotSource,
  kinds: readonly SnapshotKind[],
): Promise<SnapshotChoice> {
  const listed = (await Promise.all(kinds.map((kind) => listSnapshots(rds, source, kind)))).flat();
  const available = listed
    .filter((snapshot) => snapshot.status === 'available')
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const [newest] = available;
  if (!newest) {
    const pending = listed.filter((snapshot) => snapshot.status !== 'available');
    throw new NoSnapshotAvailable(
      `No available ${kinds.join(', ')} snapshot of ${source.kind === 'instance' ? 'DB instance' : 'DB cluster'} ${source.id}` +
        (pending.length > 0
          ? `: ${pending.length} not available yet (${[...new Set(pending.map((snapshot) => snapshot.status))].join(', ')})`
          : ''),
    );
  }
  const { id, arn, kind, createdAt, engine, encrypted, kmsKeyId } = newest;
  const snapshot: Snapshot = {
    id,
    arn,
    kind,
    createdAt,
    engine,
    encrypted,
    ...(kmsKeyId !== undefined && { kmsKeyId }),
  };
  const newerInProgress = listed.filter(
    (candidate) => candidate.status !== 'available' && candidate.createdAt > newest.createdAt,
  ).length;
  return { snapshot, newerInProgress };
}

async function listSnapshots(rds: RDSClient, source: SnapshotSource, kind: SnapshotKind): Promise<Listed[]> {
  const snapshots: Listed[] = [];
  let marker: string | undefined;
  for (let page = 1; ; page += 1) {
    const next =
      source.kind === 'instance'
        ? await instancePage(rds, source.id, kind, marker)
        : await clusterPage(rds, source.id, kind, marker);
    snapshots.push(...next.snapshots);
    marker = next.marker;
    if (marker === undefined) return snapshots;
    if (page >= MAX_PAGES) {
      throw new RdsInvalidResponse(
        `The snapshots of ${source.id} (${kind}) still had more pages after ${MAX_PAGES}.`,
      );
    }
  }
}

/** A snapshot still being created has no creation time yet: it counts as the newest there is. */
const createdAt = (time: Date | undefined): Date => time ?? new Date(8.64e15);

async function instancePage(rds: RDSClient, id: string, kind: SnapshotKind, marker: string | undefined) {
  const raw = await sendNamingFaults(
    'DescribeDBSnapshots',
    () =>
      rds.send(
        new DescribeDBSnapshotsCommand({
          DBInstanceIdentifier: id,
          SnapshotType: kind,
          MaxRecords: PAGE_SIZE,
          Marker: marker,
        }),
      ),
    RdsUnavailable,
  );
  const answer = parseOrThrow(
    instanceSnapshots,
    raw,
    `The DescribeDBSnapshots answer (${id}, ${kind})`,
    RdsInvalidResponse,
  );
  return {
    marker: answer.Marker,
    snapshots: answer.DBSnapshots.map((snapshot): Listed => ({
      id: snapshot.DBSnapshotIdentifier,
      arn: snapshot.DBSnapshotArn,
      kind,
      status: snapshot.Status,
      createdAt: createdAt(snapshot.SnapshotCreateTime),
      engine: snapshot.Engine,
      encrypted: snapshot.Encrypted,
      ...(snapshot.KmsKeyId !== undefined && { kmsKeyId: snapshot.KmsKeyId }),
    })),
  };
}

async function clusterPage(rds: RDSClient, id: string, kind: SnapshotKind, marker: string | undefined) {
  const raw = await sendNamingFaults(
    'DescribeDBClusterSnapshots',
    () =>
      rds.send(
        new DescribeDBClusterSnapshotsCommand({
          DBClusterIdentifier: id,
          SnapshotType: kind,
          MaxRecords: PAGE_SIZE,
          Marker: marker,
        }),
      ),
    RdsUnavailable,
  );
  const answer = parseOrThrow(
    clusterSnapshots,
    raw,
    `The DescribeDBClusterSnapshots answer (${id}, ${kind})`,
    RdsInvalidResponse,
  );
  return {
    marker: answer.Marker,
    snapshots: answer.DBClusterSnapshots.map((snapshot): Listed => ({
      id: snapshot.DBClusterSnapshotIdentifier,
      arn: snapshot.DBClusterSnapshotArn,
      kind,
      status: snapshot.Status,
      createdAt: createdAt(snapshot.SnapshotCreateTime),
      engine: snapshot.Engine,
      encrypted: snapshot.StorageEncrypted,
      ...(snapshot.KmsKeyId !== undefined && { kmsKeyId: snapshot.KmsKeyId }),
    })),
  };
}
