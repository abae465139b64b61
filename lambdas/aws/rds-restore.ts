import {
  CreateDBInstanceCommand,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RestoreDBClusterFromSnapshotCommand,
  RestoreDBClusterToPointInTimeCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  RestoreDBInstanceToPointInTimeCommand,
  type RDSClient,
  type Tag,
} from '@aws-sdk/client-rds';
import * as z from 'zod/mini';
import { parseOrThrow, RunbookError } from '../shared/errors';
import { sendNamingFaults } from './faults';
import { RdsInvalidResponse, RdsUnavailable } from './rds-snapshots';

// The temporary databases of a restore test, as RDS creates, reports and deletes them. Everything here acts
// only on identifiers the caller names, and deletes only after reading the resource's own tags: IAM's tag
// condition is the second lock, not the only one.

/** RDS will not create the restore (quota, capacity, a snapshot or key it cannot use): nothing was created. */
export class RestoreRefused extends RunbookError {
  override name = 'RestoreRefused';
}

/** Another execution already restores this scheduled run: this one creates and deletes nothing. */
export class DuplicateRun extends RunbookError {
  override name = 'DuplicateRun';
}

/** RDS cannot delete it in its current state (still being created, modified or backed up): try again later. */
export class CleanupNotYetPossible extends RunbookError {
  override name = 'CleanupNotYetPossible';
}

/** Its tags do not say it is this environment's restore test (of this run): it is never deleted. */
export class CleanupRefused extends RunbookError {
  override name = 'CleanupRefused';
}

export type RestoredKind = 'instance' | 'cluster';

export interface RestoredResource {
  kind: RestoredKind;
  id: string;
}

export interface ObservedResource extends RestoredResource {
  status: string;
  tags: Record<string, string>;
  /** RDS's creation time; absent while an instance is being created. */
  createdAt?: Date;
  /** Instances that serve connections. */
  endpoint?: { address: string; port: number };
  engine?: string;
  /** Instances: their class (`db.t4g.medium`) and whether a standby runs beside them. */
  instanceClass?: string;
  multiAz?: boolean;
  /** The newest time a point-in-time restore can reach (automated backups on). */
  latestRestorableTime?: Date;
}

const text = z.string().check(z.minLength(1));
const tagList = z._default(z.array(z.object({ Key: text, Value: z._default(z.string(), '') })), []);
const instanceSchema = z.object({
  DBInstanceIdentifier: text,
  DBInstanceStatus: text,
  DBInstanceClass: z.optional(z.string()),
  MultiAZ: z.optional(z.boolean()),
  Engine: z.optional(z.string()),
  InstanceCreateTime: z.optional(z.date()),
  LatestRestorableTime: z.optional(z.date()),
  Endpoint: z.optional(
    z.object({ Address: z.optional(z.string()), Port: z.optional(z.int().check(z.positive())) }),
  ),
  TagList: tagList,
});
const clusterSchema = z.object({
  DBClusterIdentifier: text,
  Status: text,
  Engine: z.optional(z.string()),
  ClusterCreateTime: z.optional(z.date()),
  LatestRestorableTime: z.optional(z.date()),
  TagList: tagList,
});
const instancesPage = z.object({
  DBInstances: z._default(z.array(instanceSchema), []),
  Marker: z.optional(z.string()),
});
const clustersPage = z.object({
  DBClusters: z._default(z.array(clusterSchema), []),
  Marker: z.optional(z.string()),
});

const tagsOf = (list: z.output<typeof tagList>): Record<string, string> =>
  Object.fromEntries(list.map((tag) => [tag.Key, tag.Value]));

function observedInstance(raw: z.output<typeof instanceSchema>): ObservedResource {
  const address = raw.Endpoint?.Address;
  const port = raw.Endpoint?.Port;
  return {
    kind: 'instance',
    id: raw.DBInstanceIdentifier,
    status: raw.DBInstanceStatus,
    tags: tagsOf(raw.TagList),
    ...(raw.InstanceCreateTime && { createdAt: raw.InstanceCreateTime }),
    ...(raw.Engine && { engine: raw.Engine }),
    ...(raw.DBInstanceClass && { instanceClass: raw.DBInstanceClass }),
    ...(raw.MultiAZ !== undefined && { multiAz: raw.MultiAZ }),
    ...(raw.LatestRestorableTime && { latestRestorableTime: raw.LatestRestorableTime }),
    ...(address && port !== undefined && { endpoint: { address, port } }),
  };
}

function observedCluster(raw: z.output<typeof clusterSchema>): ObservedResource {
  return {
    kind: 'cluster',
    id: raw.DBClusterIdentifier,
    status: raw.Status,
    tags: tagsOf(raw.TagList),
    ...(raw.ClusterCreateTime && { createdAt: raw.ClusterCreateTime }),
    ...(raw.Engine && { engine: raw.Engine }),
    ...(raw.LatestRestorableTime && { latestRestorableTime: raw.LatestRestorableTime }),
  };
}

const errorName = (error: unknown): string => (error as Error | undefined)?.name ?? '';
const NOT_FOUND = new Set(['DBInstanceNotFoundFault', 'DBInstanceNotFound', 'DBClusterNotFoundFault']);

/** One instance or cluster by identifier (a source, or a temporary one); undefined when RDS has none. */
export async function describeDatabase(
  rds: RDSClient,
  { kind, id }: RestoredResource,
): Promise<ObservedResource | undefined> {
  try {
    if (kind === 'instance') {
      const raw = await sendNamingFaults(
        'DescribeDBInstances',
        () => rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })),
        RdsUnavailable,
      );
      const page = parseOrThrow(
        instancesPage,
        raw,
        `The DescribeDBInstances answer (${id})`,
        RdsInvalidResponse,
      );
      const found = page.DBInstances.find((instance) => instance.DBInstanceIdentifier === id);
      return found && observedInstance(found);
    }
    const raw = await sendNamingFaults(
      'DescribeDBClusters',
      () => rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id })),
      RdsUnavailable,
    );
    const page = parseOrThrow(clustersPage, raw, `The DescribeDBClusters answer (${id})`, RdsInvalidResponse);
    const found = page.DBClusters.find((cluster) => cluster.DBClusterIdentifier === id);
    return found && observedCluster(found);
  } catch (error) {
    if (NOT_FOUND.has(errorName(error))) return undefined;
    throw error;
  }
}

const MAX_PAGES = 100;

/** Every instance and cluster of the account and region (paginated), with their tags. */
export async function listDatabases(
  rds: RDSClient,
  kinds: readonly RestoredKind[] = ['instance', 'cluster'],
): Promise<ObservedResource[]> {
  const found: ObservedResource[] = [];
  for (const kind of kinds) {
    let marker: string | undefined;
    for (let page = 1; ; page += 1) {
      if (kind === 'instance') {
        const raw = await sendNamingFaults(
          'DescribeDBInstances',
          () => rds.send(new DescribeDBInstancesCommand({ MaxRecords: 100, Marker: marker })),
          RdsUnavailable,
        );
        const answer = parseOrThrow(instancesPage, raw, 'The DescribeDBInstances answer', RdsInvalidResponse);
        found.push(...answer.DBInstances.map(observedInstance));
        marker = answer.Marker;
      } else {
        const raw = await sendNamingFaults(
          'DescribeDBClusters',
          () => rds.send(new DescribeDBClustersCommand({ MaxRecords: 100, Marker: marker })),
          RdsUnavailable,
        );
        const answer = parseOrThrow(clustersPage, raw, 'The DescribeDBClusters answer', RdsInvalidResponse);
        found.push(...answer.DBClusters.map(observedCluster));
        marker = answer.Marker;
      }
      if (marker === undefined) break;
      if (page >= MAX_PAGES) {
        throw new RdsInvalidResponse(`The ${kind} list still had more pages after ${MAX_PAGES}.`);
      }
    }
  }
  return found;
}

export type RestoreFrom =
  | { mode: 'snapshot'; snapshotId: string; engine: string }
  | { mode: 'point-in-time'; restoreTime: Date; engine: string };

export interface RestoreRequest {
  source: { kind: RestoredKind; id: string };
  from: RestoreFrom;
  /** The temporary instance; for Aurora, the instance created in `cluster`. */
  instanceId: string;
  /** Aurora only: the temporary cluster. */
  clusterId?: string;
  instanceClass: string;
  port: number;
  subnetGroupName: string;
  securityGroupId: string;
  /** Applied at create (tag-on-create): the resource never exists untagged. */
  tags: Record<string, string>;
  /** The tag whose value names the execution that creates it: an existing resource with another is a duplicate run. */
  executionTag: string;
  /** The tag whose value is the creation time: a retried step reads its first attempt's from it. */
  createdAtTag: string;
}

export interface RestoreStart {
  /** False when a retried step met what its first attempt had created. */
  created: boolean;
  /** Then: when that first attempt started the restore (its tag), the true start of the RTO. */
  firstStartedAt?: Date;
}

type CreateOutcome = { created: true } | { created: false; tags: Record<string, string> };

const asTags = (tags: Record<string, string>): Tag[] =>
  Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

/** Errors of a restore call that mean RDS will not create it: reported, not retried. */
const isRefusal = (error: unknown): boolean => {
  const fault = (error as { $fault?: string } | undefined)?.$fault;
  return fault === 'client' && !errorName(error).endsWith('AlreadyExistsFault');
};

/**
 * Creates `action` unless it exists: an existing resource of this execution (a retried step) is fine, one of
 * another execution is DuplicateRun. Refusals are RestoreRefused; transient faults RdsUnavailable.
 * @returns whether this call created it, and if not, the existing resource's tags
 */
async function createOnce(
  rds: RDSClient,
  resource: RestoredResource,
  request: RestoreRequest,
  operation: string,
  create: () => Promise<unknown>,
): Promise<CreateOutcome> {
  try {
    await sendNamingFaults(operation, create, RdsUnavailable);
    return { created: true };
  } catch (error) {
    if (
      errorName(error) === 'DBInstanceAlreadyExistsFault' ||
      errorName(error) === 'DBClusterAlreadyExistsFault'
    ) {
      const existing = await describeDatabase(rds, resource);
      const mine = request.tags[request.executionTag];
      const holder = existing?.tags[request.executionTag];
      if (existing && holder === mine) return { created: false, tags: existing.tags };
      throw new DuplicateRun(
        `${resource.kind === 'instance' ? 'DB instance' : 'DB cluster'} ${resource.id} already exists for this scheduled run, created by ${holder ?? 'something that is not a restore test of this run'}: this start is a second delivery and creates nothing`,
        { cause: error },
      );
    }
    if (error instanceof RdsUnavailable || !isRefusal(error)) throw error;
    throw new RestoreRefused(`${operation} was refused: ${errorName(error)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * Starts the restore into a temporary, isolated instance (for Aurora: a cluster, then one instance in it):
 * no public access, the runbook's subnet group and security group, deletion protection off, no automated
 * backups where RDS allows it (Aurora keeps one day at least), no tags copied to snapshots.
 * @returns whether anything was created by this call (false for a retried step that met its own, with
 *   the time its first attempt started)
 */
export async function startRestore(rds: RDSClient, request: RestoreRequest): Promise<RestoreStart> {
  const network = {
    DBSubnetGroupName: request.subnetGroupName,
    VpcSecurityGroupIds: [request.securityGroupId],
    Port: request.port,
    DeletionProtection: false,
    CopyTagsToSnapshot: false,
    Tags: asTags(request.tags),
  };
  const { from, source } = request;
  if (source.kind === 'instance') {
    const instance = {
      DBInstanceClass: request.instanceClass,
      PubliclyAccessible: false,
      MultiAZ: false,
      AutoMinorVersionUpgrade: false,
      BackupRetentionPeriod: 0,
      ...network,
    };
    const target = { kind: 'instance', id: request.instanceId } as const;
    const outcome = await (from.mode === 'snapshot'
      ? createOnce(rds, target, request, 'RestoreDBInstanceFromDBSnapshot', () =>
          rds.send(
            new RestoreDBInstanceFromDBSnapshotCommand({
              DBInstanceIdentifier: request.instanceId,
              DBSnapshotIdentifier: from.snapshotId,
              ...instance,
            }),
          ),
        )
      : createOnce(rds, target, request, 'RestoreDBInstanceToPointInTime', () =>
          rds.send(
            new RestoreDBInstanceToPointInTimeCommand({
              SourceDBInstanceIdentifier: source.id,
              TargetDBInstanceIdentifier: request.instanceId,
              RestoreTime: from.restoreTime,
              ...instance,
            }),
          ),
        ));
    return startOf(request, outcome);
  }
  const clusterId = request.clusterId;
  if (clusterId === undefined) throw new RestoreRefused('An Aurora restore needs a cluster identifier.');
  const cluster = { kind: 'cluster', id: clusterId } as const;
  const clusterCreated =
    from.mode === 'snapshot'
      ? await createOnce(rds, cluster, request, 'RestoreDBClusterFromSnapshot', () =>
          rds.send(
            new RestoreDBClusterFromSnapshotCommand({
              DBClusterIdentifier: clusterId,
              SnapshotIdentifier: from.snapshotId,
              Engine: from.engine,
              ...network,
            }),
          ),
        )
      : await createOnce(rds, cluster, request, 'RestoreDBClusterToPointInTime', () =>
          rds.send(
            new RestoreDBClusterToPointInTimeCommand({
              DBClusterIdentifier: clusterId,
              SourceDBClusterIdentifier: source.id,
              RestoreToTime: from.restoreTime,
              ...network,
            }),
          ),
        );
  const instanceCreated = await createOnce(
    rds,
    { kind: 'instance', id: request.instanceId },
    request,
    'CreateDBInstance',
    () =>
      rds.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: request.instanceId,
          DBClusterIdentifier: clusterId,
          Engine: from.engine,
          DBInstanceClass: request.instanceClass,
          PubliclyAccessible: false,
          AutoMinorVersionUpgrade: false,
          Tags: asTags(request.tags),
        }),
      ),
  );
  // The cluster is created first: its tag dates the restore when this step is a retry.
  return clusterCreated.created || instanceCreated.created
    ? { created: true }
    : startOf(request, clusterCreated);
}

function startOf(request: RestoreRequest, outcome: CreateOutcome): RestoreStart {
  if (outcome.created) return { created: true };
  const tagged = outcome.tags[request.createdAtTag];
  const firstStartedAt = tagged === undefined ? Number.NaN : Date.parse(tagged);
  return {
    created: false,
    ...(!Number.isNaN(firstStartedAt) && { firstStartedAt: new Date(firstStartedAt) }),
  };
}

export interface DeletionGuard {
  /** The marker tag and the value it must have (the environment). */
  markerTag: string;
  environment: string;
  /** With these, only a resource whose execution tag is this value is deleted (a run deletes only its own). */
  executionTag?: string;
  execution?: string;
}

export type DeletionOutcome = 'deleted' | 'already-gone';

/**
 * Deletes one temporary instance or cluster after reading its tags: without the marker tag of this
 * environment (and, when the guard names one, this execution's tag) it is CleanupRefused and left alone. The
 * final snapshot is skipped and automated backups are deleted: a restore test keeps nothing. One already
 * deleting, or gone, is `already-gone`; one RDS cannot delete yet is CleanupNotYetPossible.
 */
export async function deleteRestored(
  rds: RDSClient,
  resource: RestoredResource,
  guard: DeletionGuard,
): Promise<DeletionOutcome> {
  const observed = await describeDatabase(rds, resource);
  if (!observed) return 'already-gone';
  const what = `${resource.kind === 'instance' ? 'DB instance' : 'DB cluster'} ${resource.id}`;
  if (observed.tags[guard.markerTag] !== guard.environment) {
    throw new CleanupRefused(
      `${what} is not tagged ${guard.markerTag}=${guard.environment}: it is not this environment's restore test and is left alone`,
    );
  }
  if (guard.executionTag !== undefined && observed.tags[guard.executionTag] !== guard.execution) {
    throw new CleanupRefused(
      `${what} was created by ${observed.tags[guard.executionTag] ?? 'an unknown execution'}, not by ${guard.execution}: it is left to its own run`,
    );
  }
  if (observed.status === 'deleting') return 'already-gone';
  try {
    await sendNamingFaults(
      resource.kind === 'instance' ? 'DeleteDBInstance' : 'DeleteDBCluster',
      () =>
        resource.kind === 'instance'
          ? rds.send(
              new DeleteDBInstanceCommand({
                DBInstanceIdentifier: resource.id,
                SkipFinalSnapshot: true,
                DeleteAutomatedBackups: true,
              }),
            )
          : rds.send(
              new DeleteDBClusterCommand({
                DBClusterIdentifier: resource.id,
                SkipFinalSnapshot: true,
                DeleteAutomatedBackups: true,
              }),
            ),
      RdsUnavailable,
    );
    return 'deleted';
  } catch (error) {
    const name = errorName(error);
    if (NOT_FOUND.has(name)) return 'already-gone';
    if (name === 'InvalidDBInstanceStateFault' || name === 'InvalidDBClusterStateFault') {
      throw new CleanupNotYetPossible(
        `${what} cannot be deleted yet (${observed.status}): ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }
}
