import {
  CreateDBInstanceCommand,
  DBClusterAlreadyExistsFault,
  DBClusterNotFoundFault,
  DBClusterQuotaExceededFault,
  DBClusterSnapshotNotFoundFault,
  DBInstanceAlreadyExistsFault,
  DBInstanceNotFoundFault,
  DBSnapshotNotFoundFault,
  DBSubnetGroupNotFoundFault,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  InstanceQuotaExceededFault,
  InsufficientDBInstanceCapacityFault,
  InvalidDBClusterSnapshotStateFault,
  InvalidDBClusterStateFault,
  InvalidDBInstanceStateFault,
  InvalidDBSnapshotStateFault,
  InvalidRestoreFault,
  ListTagsForResourceCommand,
  PointInTimeRestoreNotEnabledFault,
  RDSClient,
  RDSServiceException,
  RestoreDBClusterFromSnapshotCommand,
  RestoreDBClusterToPointInTimeCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  RestoreDBInstanceToPointInTimeCommand,
  StorageQuotaExceededFault,
  type DBCluster,
  type DBClusterSnapshot,
  type DBInstance,
  type DBSnapshot,
  type Filter,
  type Tag,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { ACCOUNT, REGION } from '../simulated-account';

// RDS as the restore test calls it, in-process: aws-sdk-client-mock answers every RDSClient's `send` from
// this state, so the handlers' module-scope clients reach it unchanged. What it keeps faithful:
// - identifiers as RDS keeps them (lowercase, validated: a letter, letters/digits/single hyphens, ≤ 63),
//   ARNs, DbiResourceId, InstanceCreateTime (absent while `creating`), Endpoint (absent while `creating`);
// - the status lifecycle: a restored instance is `creating`, then each status of its lifecycle in turn,
//   moved on by DescribeDBInstances calls or by the (virtual) clock; a delete shows `deleting`, then the
//   instance is gone (DBInstanceNotFoundFault);
// - the rules a runbook meets: an identifier in use (deleting included) is DBInstanceAlreadyExistsFault; a
//   delete without SkipFinalSnapshot needs FinalDBSnapshotIdentifier (InvalidParameterCombination), cannot
//   take a final snapshot of a `creating` instance, and a second delete is InvalidDBInstanceStateFault; a
//   cluster with members not `deleting` cannot be deleted (InvalidDBClusterStateFault); a snapshot not
//   `available` cannot be restored (InvalidDBSnapshotStateFault); a point-in-time restore is bounded by
//   LatestRestorableTime (about five minutes behind) and needs backups;
// - pagination: MaxRecords 20–100 (default 100), an opaque Marker; SnapshotType asked by name (without it,
//   automated and manual snapshots only);
// - errors as the SDK surfaces them: instances of @aws-sdk/client-rds's modelled classes
//   (DBInstanceNotFoundFault…), RDSServiceException named by the code for the rest (Throttling — RDS's own
//   code for throttling, a 400 — InvalidParameterValue, InternalFailure…).
// Calls, deletes with their flags, and what is left behind are recorded for the tests to assert.

export type RdsOperation =
  | 'DescribeDBSnapshots'
  | 'DescribeDBClusterSnapshots'
  | 'DescribeDBInstances'
  | 'DescribeDBClusters'
  | 'RestoreDBInstanceFromDBSnapshot'
  | 'RestoreDBInstanceToPointInTime'
  | 'RestoreDBClusterFromSnapshot'
  | 'RestoreDBClusterToPointInTime'
  | 'CreateDBInstance'
  | 'DeleteDBInstance'
  | 'DeleteDBCluster'
  | 'ListTagsForResource';

const MODELLED = {
  DBClusterAlreadyExistsFault,
  DBClusterNotFoundFault,
  DBClusterQuotaExceededFault,
  DBClusterSnapshotNotFoundFault,
  DBInstanceAlreadyExistsFault,
  DBInstanceNotFoundFault,
  DBSnapshotNotFoundFault,
  DBSubnetGroupNotFoundFault,
  InstanceQuotaExceededFault,
  InsufficientDBInstanceCapacityFault,
  InvalidDBClusterSnapshotStateFault,
  InvalidDBClusterStateFault,
  InvalidDBInstanceStateFault,
  InvalidDBSnapshotStateFault,
  InvalidRestoreFault,
  PointInTimeRestoreNotEnabledFault,
  StorageQuotaExceededFault,
} as const;

/** RDS's common errors, which the SDK has no class for: an RDSServiceException named by the code. */
const COMMON = {
  /** What RDS answers a throttled call with (a 400), e.g. "Rate exceeded". */
  Throttling: { fault: 'client', status: 400 },
  ThrottlingException: { fault: 'client', status: 400 },
  InternalFailure: { fault: 'server', status: 500 },
  ServiceUnavailable: { fault: 'server', status: 503 },
  InvalidParameterValue: { fault: 'client', status: 400 },
  InvalidParameterCombination: { fault: 'client', status: 400 },
  MissingParameter: { fault: 'client', status: 400 },
  AccessDenied: { fault: 'client', status: 403 },
} as const;

export type RdsErrorName = keyof typeof MODELLED | keyof typeof COMMON;

const NOT_FOUND = new Set<RdsErrorName>([
  'DBClusterNotFoundFault',
  'DBClusterSnapshotNotFoundFault',
  'DBInstanceNotFoundFault',
  'DBSnapshotNotFoundFault',
  'DBSubnetGroupNotFoundFault',
]);

/** An error as the SDK throws it for RDS's answer `name`. */
export function rdsError(name: RdsErrorName, message: string): Error {
  if (name in MODELLED) {
    const ErrorClass = MODELLED[name as keyof typeof MODELLED];
    return new ErrorClass({ message, $metadata: { httpStatusCode: NOT_FOUND.has(name) ? 404 : 400 } });
  }
  const common = COMMON[name as keyof typeof COMMON];
  return new RDSServiceException({
    name,
    $fault: common.fault,
    message,
    $metadata: { httpStatusCode: common.status },
  });
}

/** RDS answering with an error instead of (or after) performing the call. */
export interface RdsFault {
  operation: RdsOperation;
  name: RdsErrorName;
  /** Faulty answers left; Infinity for always. @default 1 */
  times?: number;
  /** Only calls naming this instance, cluster or resource (identifier or ARN); any when omitted. */
  identifier?: string;
  /** The call takes effect and its answer is lost: the error is thrown after. @default false */
  afterEffect?: boolean;
}

/**
 * The statuses a created instance or cluster goes through after `creating`, and how fast. Each status gives
 * way to the next after it was shown by `describes` describe calls, or once `seconds` passed on the clock
 * since it began, whichever comes first; the last one stays. `statuses: []` stays `creating` for ever.
 */
export interface Lifecycle {
  statuses: string[];
  describes?: number;
  /** One duration for every status, or one per status (`creating` first); the last repeats. */
  seconds?: number | number[];
}

/** How long the status before `statuses[next]` lasts, in milliseconds; undefined: not by the clock. */
function stageMs({ seconds }: Lifecycle, next: number): number | undefined {
  if (seconds === undefined) return undefined;
  const value = typeof seconds === 'number' ? seconds : (seconds[next] ?? seconds.at(-1));
  return value === undefined ? undefined : value * 1000;
}

/** How long a deleted instance or cluster shows `deleting` before it is gone (same rules as Lifecycle). */
export interface DeletingLifecycle {
  describes?: number;
  seconds?: number;
}

export interface Endpoint {
  address: string;
  port: number;
}

export type ResourceKind = 'instance' | 'cluster';

export interface SimulatedInstance {
  kind: 'instance';
  id: string;
  arn: string;
  resourceId: string;
  engine: string;
  engineVersion: string;
  instanceClass: string;
  status: string;
  /** The Aurora cluster it belongs to. */
  cluster?: string;
  tags: Record<string, string>;
  /** The tags given to the call that created it (what "tagged on create" means). */
  tagsAtCreate?: Record<string, string>;
  /** When the create call was made. */
  createdAt: Date;
  /** InstanceCreateTime: set when it leaves `creating`. */
  instanceCreateTime?: Date;
  /**
   * There before the runbook: a source database, or anyone else's. The restore test may read it, never
   * creates or deletes it; it is never a leftover.
   */
  preexisting: boolean;
  /** Seconds LatestRestorableTime lags behind now (a source with backups). */
  restorableLagSeconds: number;
  backupRetentionPeriod: number;
  encrypted: boolean;
  kmsKeyId?: string;
  deletionProtection: boolean;
  /** The operation and input that created it. */
  createdBy?: { operation: RdsOperation; input: Record<string, unknown> };
  /** The snapshot or the time it was restored from. */
  restoredFrom?: { snapshot: string } | { source: string; time: Date };
  lifecycle: Lifecycle;
  stage: { index: number; describes: number; since: number };
  deletion?: { describes: number; since: number };
}

export interface SimulatedCluster {
  kind: 'cluster';
  id: string;
  arn: string;
  resourceId: string;
  engine: string;
  engineVersion: string;
  status: string;
  tags: Record<string, string>;
  tagsAtCreate?: Record<string, string>;
  createdAt: Date;
  clusterCreateTime?: Date;
  preexisting: boolean;
  restorableLagSeconds: number;
  backupRetentionPeriod: number;
  encrypted: boolean;
  kmsKeyId?: string;
  deletionProtection: boolean;
  createdBy?: { operation: RdsOperation; input: Record<string, unknown> };
  restoredFrom?: { snapshot: string } | { source: string; time: Date };
  lifecycle: Lifecycle;
  stage: { index: number; describes: number; since: number };
  deletion?: { describes: number; since: number };
}

export type SimulatedResource = SimulatedInstance | SimulatedCluster;

export type SnapshotKind = 'automated' | 'manual' | 'awsbackup';

export interface SimulatedSnapshot {
  kind: 'snapshot' | 'cluster-snapshot';
  id: string;
  arn: string;
  /** The instance (snapshot) or cluster (cluster-snapshot) it is of. */
  of: string;
  type: SnapshotKind;
  status: string;
  /** Absent while the snapshot is being created, as RDS answers. */
  createdAt?: Date;
  engine: string;
  engineVersion: string;
  encrypted: boolean;
  kmsKeyId?: string;
  /** Made by this simulation's API (a final snapshot at delete): left behind unless deleted. */
  created: boolean;
}

/** One DeleteDBInstance / DeleteDBCluster call, accepted or refused. */
export interface DeleteRecord {
  kind: ResourceKind;
  id: string;
  skipFinalSnapshot: boolean | undefined;
  deleteAutomatedBackups: boolean | undefined;
  finalSnapshotId: string | undefined;
  at: Date;
  /** The error name when RDS refused it. */
  refused?: string;
}

/** Something a run created that still exists (and costs money). */
export interface Leftover {
  kind: ResourceKind | 'snapshot' | 'cluster-snapshot' | 'automated-backup';
  id: string;
  status: string;
  tags: Record<string, string>;
}

export interface InstanceSpec {
  id: string;
  engine?: string;
  engineVersion?: string;
  instanceClass?: string;
  status?: string;
  cluster?: string;
  tags?: Record<string, string>;
  /** @default now */
  createdAt?: Date;
  /** A database the runbook did not create (a source, anyone else's). @default false: a run (a killed one) created it */
  preexisting?: boolean;
  /** @default 300 */
  restorableLagSeconds?: number;
  /** @default 7 */
  backupRetentionPeriod?: number;
  encrypted?: boolean;
  kmsKeyId?: string;
  deletionProtection?: boolean;
}

export type ClusterSpec = Omit<InstanceSpec, 'instanceClass' | 'cluster'>;

export interface SnapshotSpec {
  id: string;
  /** The instance (or, for addClusterSnapshot, the cluster) it is of. */
  of: string;
  /** @default 'automated' */
  type?: SnapshotKind;
  /** @default 'available' */
  status?: string;
  /** @default now, absent while creating */
  createdAt?: Date;
  engine?: string;
  engineVersion?: string;
  encrypted?: boolean;
  kmsKeyId?: string;
}

const PAGE_MIN = 20;
const PAGE_MAX = 100;
const IDENTIFIER = /^[a-z](?!.*--)[a-z0-9-]{0,62}(?<!-)$/;

const arn = (type: string, id: string) => `arn:aws:rds:${REGION}:${ACCOUNT}:${type}:${id}`;
const tagList = (tags: Record<string, string>): Tag[] =>
  Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
const randomId = (prefix: string) =>
  `${prefix}-${Array.from({ length: 26 }, () => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[Math.floor(Math.random() * 32)]).join('')}`;

/** The default endpoint of a resource, as RDS names it. */
export function rdsEndpoint(kind: ResourceKind, id: string): Endpoint {
  return {
    address: `${id}.${kind === 'cluster' ? 'cluster-' : ''}c9akciq32.${REGION}.rds.amazonaws.com`,
    port: 5432,
  };
}

export class SimulatedRds {
  readonly instances = new Map<string, SimulatedInstance>();
  readonly clusters = new Map<string, SimulatedCluster>();
  readonly snapshots = new Map<string, SimulatedSnapshot>();
  readonly clusterSnapshots = new Map<string, SimulatedSnapshot>();
  /** Instances and clusters deleted to the end, by `kind:id`. */
  readonly gone = new Map<string, SimulatedResource>();
  /** Automated backups kept after a delete with DeleteAutomatedBackups false. */
  readonly retainedBackups: Array<{ kind: ResourceKind; id: string; tags: Record<string, string> }> = [];
  readonly deletes: DeleteRecord[] = [];
  readonly faults: Array<RdsFault & { times: number }> = [];
  /** Every call, in order; `at` on the (virtual) clock. */
  readonly calls: Array<{ operation: RdsOperation; input: Record<string, unknown>; at: Date }> = [];

  /** What a restored or created instance goes through. @default backing-up then available, a describe each */
  instanceLifecycle: Lifecycle = { statuses: ['backing-up', 'available'], describes: 1 };
  /** What a restored cluster goes through. @default available after a describe */
  clusterLifecycle: Lifecycle = { statuses: ['available'], describes: 1 };
  /** How long a deleted resource shows `deleting`. @default one describe, or five minutes */
  deletingLifecycle: DeletingLifecycle = { describes: 1, seconds: 300 };
  /** Where an available resource answers. @default RDS's host name, port 5432 */
  endpoint: (kind: ResourceKind, id: string) => Endpoint = rdsEndpoint;
  /** The DB subnet groups that exist; undefined: any name is accepted. */
  subnetGroups: Set<string> | undefined;
  /** How many instances the account may have (InstanceQuotaExceededFault beyond); undefined: no limit. */
  instanceQuota: number | undefined;

  private readonly mock = mockClient(RDSClient);

  constructor() {
    this.install();
  }

  /** Restores the real RDSClient. */
  restore(): void {
    this.mock.restore();
  }

  /** Forgets every resource, snapshot, call, delete and fault; settings back to their defaults. */
  reset(): void {
    this.instances.clear();
    this.clusters.clear();
    this.snapshots.clear();
    this.clusterSnapshots.clear();
    this.gone.clear();
    this.retainedBackups.length = 0;
    this.deletes.length = 0;
    this.faults.length = 0;
    this.calls.length = 0;
    this.instanceLifecycle = { statuses: ['backing-up', 'available'], describes: 1 };
    this.clusterLifecycle = { statuses: ['available'], describes: 1 };
    this.deletingLifecycle = { describes: 1, seconds: 300 };
    this.endpoint = rdsEndpoint;
    this.subnetGroups = undefined;
    this.instanceQuota = undefined;
  }

  injectFault(fault: RdsFault): void {
    this.faults.push({ ...fault, times: fault.times ?? 1 });
  }

  addInstance(spec: InstanceSpec): SimulatedInstance {
    const id = spec.id.toLowerCase();
    const now = spec.createdAt ?? new Date();
    const status = spec.status ?? 'available';
    const instance: SimulatedInstance = {
      kind: 'instance',
      id,
      arn: arn('db', id),
      resourceId: randomId('db'),
      engine: spec.engine ?? 'postgres',
      engineVersion: spec.engineVersion ?? (spec.engine?.startsWith('aurora') ? '16.6' : '16.8'),
      instanceClass: spec.instanceClass ?? 'db.r6g.large',
      status,
      ...(spec.cluster !== undefined && { cluster: spec.cluster.toLowerCase() }),
      tags: { ...spec.tags },
      createdAt: now,
      ...(status !== 'creating' && { instanceCreateTime: now }),
      preexisting: spec.preexisting ?? false,
      restorableLagSeconds: spec.restorableLagSeconds ?? 300,
      backupRetentionPeriod: spec.backupRetentionPeriod ?? 7,
      encrypted: spec.encrypted ?? true,
      ...(spec.kmsKeyId !== undefined && { kmsKeyId: spec.kmsKeyId }),
      deletionProtection: spec.deletionProtection ?? false,
      lifecycle: { statuses: [] },
      stage: { index: -1, describes: 0, since: now.getTime() },
    };
    this.instances.set(id, instance);
    return instance;
  }

  addCluster(spec: ClusterSpec): SimulatedCluster {
    const id = spec.id.toLowerCase();
    const now = spec.createdAt ?? new Date();
    const status = spec.status ?? 'available';
    const cluster: SimulatedCluster = {
      kind: 'cluster',
      id,
      arn: arn('cluster', id),
      resourceId: randomId('cluster'),
      engine: spec.engine ?? 'aurora-postgresql',
      engineVersion: spec.engineVersion ?? '16.6',
      status,
      tags: { ...spec.tags },
      createdAt: now,
      ...(status !== 'creating' && { clusterCreateTime: now }),
      preexisting: spec.preexisting ?? false,
      restorableLagSeconds: spec.restorableLagSeconds ?? 300,
      backupRetentionPeriod: spec.backupRetentionPeriod ?? 7,
      encrypted: spec.encrypted ?? true,
      ...(spec.kmsKeyId !== undefined && { kmsKeyId: spec.kmsKeyId }),
      deletionProtection: spec.deletionProtection ?? false,
      lifecycle: { statuses: [] },
      stage: { index: -1, describes: 0, since: now.getTime() },
    };
    this.clusters.set(id, cluster);
    return cluster;
  }

  /** A snapshot of an instance. Automated ones are named `rds:<instance>-<yyyy-mm-dd-hh-mm>` by RDS. */
  addSnapshot(spec: SnapshotSpec): SimulatedSnapshot {
    return this.putSnapshot('snapshot', spec, this.snapshots);
  }

  addClusterSnapshot(spec: SnapshotSpec): SimulatedSnapshot {
    return this.putSnapshot('cluster-snapshot', spec, this.clusterSnapshots);
  }

  /** An instance or cluster, deleted or not, by identifier. */
  find(kind: ResourceKind, id: string): SimulatedResource | undefined {
    const key = id.toLowerCase();
    return (
      (kind === 'instance' ? this.instances.get(key) : this.clusters.get(key)) ??
      this.gone.get(`${kind}:${key}`)
    );
  }

  /** Every instance and cluster a create call made, deleted or not. */
  created(): SimulatedResource[] {
    return [...this.instances.values(), ...this.clusters.values(), ...this.gone.values()].filter(
      (resource) => !resource.preexisting && resource.createdBy !== undefined,
    );
  }

  /**
   * What is still there and was not there before: instances and clusters not deleting, final snapshots, and
   * automated backups kept at delete. Empty when a run cleaned up after itself.
   */
  leftovers(): Leftover[] {
    const resources: Leftover[] = [...this.instances.values(), ...this.clusters.values()]
      .filter((resource) => {
        this.settle(resource);
        return !resource.preexisting && resource.status !== 'deleting';
      })
      .map(({ kind, id, status, tags }) => ({ kind, id, status, tags }));
    const snapshots: Leftover[] = [...this.snapshots.values(), ...this.clusterSnapshots.values()]
      .filter((snapshot) => snapshot.created)
      .map(({ kind, id, status }) => ({ kind, id, status, tags: {} }));
    const backups: Leftover[] = this.retainedBackups.map(({ id, tags }) => ({
      kind: 'automated-backup',
      id,
      status: 'retained',
      tags,
    }));
    return [...resources, ...snapshots, ...backups];
  }

  /** Calls of one operation (with their inputs). */
  callsTo(operation: RdsOperation): Array<Record<string, unknown>> {
    return this.calls.filter((call) => call.operation === operation).map((call) => call.input);
  }

  /** Calls that create, change or delete something. */
  mutations(): Array<{ operation: RdsOperation; input: Record<string, unknown> }> {
    return this.calls
      .filter((call) => !/^(Describe|List)/.test(call.operation))
      .map(({ operation, input }) => ({ operation, input }));
  }

  // ---- state ----

  private putSnapshot(
    kind: SimulatedSnapshot['kind'],
    spec: SnapshotSpec,
    into: Map<string, SimulatedSnapshot>,
  ): SimulatedSnapshot {
    const id = spec.id.toLowerCase();
    const status = spec.status ?? 'available';
    const createdAt = spec.createdAt ?? (status === 'creating' ? undefined : new Date());
    const snapshot: SimulatedSnapshot = {
      kind,
      id,
      arn: arn(kind, id),
      of: spec.of.toLowerCase(),
      type: spec.type ?? 'automated',
      status,
      ...(createdAt && { createdAt }),
      engine: spec.engine ?? (kind === 'snapshot' ? 'postgres' : 'aurora-postgresql'),
      engineVersion: spec.engineVersion ?? (kind === 'snapshot' ? '16.8' : '16.6'),
      encrypted: spec.encrypted ?? true,
      ...(spec.kmsKeyId !== undefined && { kmsKeyId: spec.kmsKeyId }),
      created: false,
    };
    into.set(id, snapshot);
    return snapshot;
  }

  /** Applies the clock to a resource's lifecycle (and deletion). */
  private settle(resource: SimulatedResource): void {
    const now = Date.now();
    if (resource.deletion) return;
    const { lifecycle, stage } = resource;
    for (;;) {
      const ms = stageMs(lifecycle, stage.index + 1);
      if (ms === undefined || stage.index >= lifecycle.statuses.length - 1 || now - stage.since < ms) return;
      this.advance(resource, stage.since + ms);
    }
  }

  private advance(resource: SimulatedResource, at: number): void {
    const { stage, lifecycle } = resource;
    stage.index += 1;
    stage.describes = 0;
    stage.since = at;
    resource.status = lifecycle.statuses[stage.index] ?? resource.status;
    if (resource.kind === 'instance') resource.instanceCreateTime ??= new Date(at);
    else resource.clusterCreateTime ??= new Date(at);
  }

  /**
   * A describe call showing the resource: its lifecycle moves on by the clock and by this describe.
   * Returns false when it is gone (its deletion ran its course).
   */
  private observe(resource: SimulatedResource): boolean {
    if (resource.deletion) {
      const { describes, seconds } = this.deletingLifecycle;
      const done =
        (describes !== undefined && resource.deletion.describes >= describes) ||
        (seconds !== undefined && Date.now() - resource.deletion.since >= seconds * 1000);
      if (done) {
        this.remove(resource);
        return false;
      }
      resource.deletion.describes += 1;
      return true;
    }
    this.settle(resource);
    const { lifecycle, stage } = resource;
    if (
      lifecycle.describes !== undefined &&
      stage.index < lifecycle.statuses.length - 1 &&
      stage.describes >= lifecycle.describes
    ) {
      this.advance(resource, Date.now());
    }
    stage.describes += 1;
    return true;
  }

  private remove(resource: SimulatedResource): void {
    if (resource.kind === 'instance') this.instances.delete(resource.id);
    else this.clusters.delete(resource.id);
    this.gone.set(`${resource.kind}:${resource.id}`, resource);
  }

  /** Resources still deleting whose time is up are gone, whoever looks. */
  private sweep(): void {
    const { seconds } = this.deletingLifecycle;
    if (seconds === undefined) return;
    for (const resource of [...this.instances.values(), ...this.clusters.values()]) {
      if (resource.deletion && Date.now() - resource.deletion.since >= seconds * 1000) this.remove(resource);
    }
  }

  private instanceOf(identifier: string | undefined): SimulatedInstance {
    const id = this.idFrom(identifier, 'db');
    const instance = this.instances.get(id);
    if (!instance) throw rdsError('DBInstanceNotFoundFault', `DBInstance ${id} not found.`);
    return instance;
  }

  private clusterOf(identifier: string | undefined): SimulatedCluster {
    const id = this.idFrom(identifier, 'cluster');
    const cluster = this.clusters.get(id);
    if (!cluster) throw rdsError('DBClusterNotFoundFault', `DBCluster ${id} not found.`);
    return cluster;
  }

  /** An identifier or the ARN of one, lowercased as RDS keeps it. */
  private idFrom(identifier: string | undefined, type: string): string {
    const value = String(identifier ?? '');
    const prefix = `arn:aws:rds:${REGION}:${ACCOUNT}:${type}:`;
    return (value.startsWith(prefix) ? value.slice(prefix.length) : value).toLowerCase();
  }

  private checkIdentifier(parameter: string, identifier: string | undefined): string {
    if (identifier === undefined || identifier === '')
      throw rdsError('MissingParameter', `The request must contain the parameter ${parameter}`);
    const id = identifier.toLowerCase();
    if (!IDENTIFIER.test(id)) {
      throw rdsError(
        'InvalidParameterValue',
        `The parameter ${parameter} is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.`,
      );
    }
    return id;
  }

  private checkTags(tags: Tag[] | undefined): Record<string, string> {
    const record: Record<string, string> = {};
    if ((tags ?? []).length > 50) throw rdsError('InvalidParameterValue', 'Cannot add more than 50 tags.');
    for (const { Key, Value = '' } of tags ?? []) {
      if (!Key || Key.length > 128 || Key.toLowerCase().startsWith('aws:') || Value.length > 256)
        throw rdsError('InvalidParameterValue', `Invalid tag: ${String(Key)}`);
      record[Key] = Value;
    }
    return record;
  }

  private checkSubnetGroup(name: string | undefined): void {
    if (name !== undefined && this.subnetGroups !== undefined && !this.subnetGroups.has(name))
      throw rdsError('DBSubnetGroupNotFoundFault', `DBSubnetGroup ${name} not found.`);
  }

  private checkInstanceFree(id: string): void {
    if (this.instances.has(id)) throw rdsError('DBInstanceAlreadyExistsFault', `DB instance already exists`);
    if (this.instanceQuota !== undefined && this.instances.size >= this.instanceQuota)
      throw rdsError('InstanceQuotaExceededFault', 'DB Instance quota exceeded');
  }

  private checkClusterFree(id: string): void {
    if (this.clusters.has(id)) throw rdsError('DBClusterAlreadyExistsFault', 'DB Cluster already exists');
  }

  private markCreated(
    resource: SimulatedResource,
    operation: RdsOperation,
    input: Record<string, unknown>,
    tags: Record<string, string>,
  ): void {
    resource.createdBy = { operation, input };
    resource.tagsAtCreate = { ...tags };
    resource.status = 'creating';
    resource.lifecycle =
      resource.kind === 'instance'
        ? structuredClone(this.instanceLifecycle)
        : structuredClone(this.clusterLifecycle);
    resource.stage = { index: -1, describes: 0, since: Date.now() };
  }

  private latestRestorableTime(resource: SimulatedResource): Date | undefined {
    if (resource.backupRetentionPeriod === 0 || resource.status === 'creating') return undefined;
    return new Date(Date.now() - resource.restorableLagSeconds * 1000);
  }

  /** The restore time asked for, checked against the source's window. */
  private restoreTime(
    source: SimulatedResource,
    time: Date | undefined,
    useLatest: boolean | undefined,
    timeParameter: string,
  ): Date {
    if (time !== undefined && useLatest)
      throw rdsError(
        'InvalidParameterCombination',
        `Cannot specify both ${timeParameter} and UseLatestRestorableTime.`,
      );
    if (time === undefined && !useLatest)
      throw rdsError(
        'InvalidParameterCombination',
        `Either ${timeParameter} or UseLatestRestorableTime must be specified.`,
      );
    const latest = this.latestRestorableTime(source);
    if (latest === undefined)
      throw rdsError(
        'PointInTimeRestoreNotEnabledFault',
        `${source.kind === 'instance' ? 'DB instance' : 'DB cluster'} ${source.id} does not have automated backups enabled.`,
      );
    if (time === undefined) return latest;
    const earliest = new Date(Date.now() - source.backupRetentionPeriod * 86_400_000);
    if (time > latest || time < earliest)
      throw rdsError(
        'InvalidParameterValue',
        `The restore time ${time.toISOString()} is outside the restorable window of ${source.id} (${earliest.toISOString()} to ${latest.toISOString()}).`,
      );
    return time;
  }

  // ---- shapes ----

  private instanceShape(instance: SimulatedInstance): DBInstance {
    const reachable = instance.status !== 'creating';
    const endpoint = reachable ? this.endpoint('instance', instance.id) : undefined;
    const createInput = instance.createdBy?.input ?? {};
    const latest = instance.cluster ? undefined : this.latestRestorableTime(instance);
    return {
      DBInstanceIdentifier: instance.id,
      DBInstanceArn: instance.arn,
      DbiResourceId: instance.resourceId,
      DBInstanceClass: instance.instanceClass,
      Engine: instance.engine,
      EngineVersion: instance.engineVersion,
      DBInstanceStatus: instance.status,
      ...(endpoint && {
        Endpoint: { Address: endpoint.address, Port: endpoint.port, HostedZoneId: 'Z29XKXDKYMONMX' },
      }),
      ...(instance.instanceCreateTime && { InstanceCreateTime: instance.instanceCreateTime }),
      ...(instance.cluster !== undefined && { DBClusterIdentifier: instance.cluster }),
      ...(latest && { LatestRestorableTime: latest }),
      BackupRetentionPeriod: instance.backupRetentionPeriod,
      StorageEncrypted: instance.encrypted,
      ...(instance.kmsKeyId !== undefined && { KmsKeyId: instance.kmsKeyId }),
      DeletionProtection: instance.deletionProtection,
      PubliclyAccessible: (createInput.PubliclyAccessible as boolean | undefined) ?? false,
      MultiAZ: (createInput.MultiAZ as boolean | undefined) ?? false,
      ...(typeof createInput.DBSubnetGroupName === 'string' && {
        DBSubnetGroup: { DBSubnetGroupName: createInput.DBSubnetGroupName },
      }),
      VpcSecurityGroups: ((createInput.VpcSecurityGroupIds as string[] | undefined) ?? []).map((id) => ({
        VpcSecurityGroupId: id,
        Status: 'active',
      })),
      TagList: tagList(instance.tags),
    };
  }

  private clusterShape(cluster: SimulatedCluster): DBCluster {
    const reachable = cluster.status !== 'creating';
    const endpoint = reachable ? this.endpoint('cluster', cluster.id) : undefined;
    const members = [...this.instances.values()].filter((instance) => instance.cluster === cluster.id);
    const latest = this.latestRestorableTime(cluster);
    const createInput = cluster.createdBy?.input ?? {};
    return {
      DBClusterIdentifier: cluster.id,
      DBClusterArn: cluster.arn,
      DbClusterResourceId: cluster.resourceId,
      Engine: cluster.engine,
      EngineVersion: cluster.engineVersion,
      Status: cluster.status,
      ...(endpoint && {
        Endpoint: endpoint.address,
        ReaderEndpoint: endpoint.address.replace('.cluster-', '.cluster-ro-'),
        Port: endpoint.port,
      }),
      ...(cluster.clusterCreateTime && { ClusterCreateTime: cluster.clusterCreateTime }),
      ...(latest && {
        LatestRestorableTime: latest,
        EarliestRestorableTime: new Date(Date.now() - cluster.backupRetentionPeriod * 86_400_000),
      }),
      BackupRetentionPeriod: cluster.backupRetentionPeriod,
      StorageEncrypted: cluster.encrypted,
      ...(cluster.kmsKeyId !== undefined && { KmsKeyId: cluster.kmsKeyId }),
      DeletionProtection: cluster.deletionProtection,
      ...(typeof createInput.DBSubnetGroupName === 'string' && {
        DBSubnetGroup: createInput.DBSubnetGroupName,
      }),
      DBClusterMembers: members.map((member, index) => ({
        DBInstanceIdentifier: member.id,
        IsClusterWriter: index === 0,
        DBClusterParameterGroupStatus: 'in-sync',
        PromotionTier: 1,
      })),
      TagList: tagList(cluster.tags),
    };
  }

  private snapshotShape(snapshot: SimulatedSnapshot): DBSnapshot {
    return {
      DBSnapshotIdentifier: snapshot.id,
      DBSnapshotArn: snapshot.arn,
      DBInstanceIdentifier: snapshot.of,
      SnapshotType: snapshot.type,
      Status: snapshot.status,
      ...(snapshot.createdAt && { SnapshotCreateTime: snapshot.createdAt }),
      Engine: snapshot.engine,
      EngineVersion: snapshot.engineVersion,
      Encrypted: snapshot.encrypted,
      ...(snapshot.kmsKeyId !== undefined && { KmsKeyId: snapshot.kmsKeyId }),
      PercentProgress: snapshot.status === 'available' ? 100 : 42,
      AllocatedStorage: 100,
      Port: 5432,
    };
  }

  private clusterSnapshotShape(snapshot: SimulatedSnapshot): DBClusterSnapshot {
    return {
      DBClusterSnapshotIdentifier: snapshot.id,
      DBClusterSnapshotArn: snapshot.arn,
      DBClusterIdentifier: snapshot.of,
      SnapshotType: snapshot.type,
      Status: snapshot.status,
      ...(snapshot.createdAt && { SnapshotCreateTime: snapshot.createdAt }),
      Engine: snapshot.engine,
      EngineVersion: snapshot.engineVersion,
      StorageEncrypted: snapshot.encrypted,
      ...(snapshot.kmsKeyId !== undefined && { KmsKeyId: snapshot.kmsKeyId }),
      PercentProgress: snapshot.status === 'available' ? 100 : 42,
      AllocatedStorage: 100,
      Port: 5432,
    };
  }

  // ---- the calls ----

  /** Records the call and throws an injected fault due before its effect. */
  private begin(operation: RdsOperation, input: object, identifier?: string): RdsFault | undefined {
    this.calls.push({ operation, input: { ...input } as Record<string, unknown>, at: new Date() });
    this.sweep();
    const names = (value: string) => {
      const id = value.toLowerCase();
      return [id, arn('db', id), arn('cluster', id)];
    };
    const fault = this.faults.find(
      (candidate) =>
        candidate.operation === operation &&
        candidate.times > 0 &&
        (candidate.identifier === undefined ||
          (identifier !== undefined && names(candidate.identifier).includes(identifier.toLowerCase()))),
    );
    if (!fault) return undefined;
    fault.times -= 1;
    if (!fault.afterEffect) throw rdsError(fault.name, `${fault.name} (simulated ${operation})`);
    return fault;
  }

  /** Performs a call, with an injected fault before or after its effect. */
  private call<T>(
    operation: RdsOperation,
    input: object,
    identifier: string | undefined,
    effect: () => T,
  ): T {
    const after = this.begin(operation, input, identifier);
    const result = effect();
    if (after) throw rdsError(after.name, `${after.name} (simulated ${operation}, after its effect)`);
    return result;
  }

  private page<T>(
    items: T[],
    operation: RdsOperation,
    maxRecords: number | undefined,
    marker: string | undefined,
  ) {
    const size = maxRecords ?? PAGE_MAX;
    if (!Number.isInteger(size) || size < PAGE_MIN || size > PAGE_MAX)
      throw rdsError(
        'InvalidParameterValue',
        `Invalid value ${size} for MaxRecords. Must be between ${PAGE_MIN} and ${PAGE_MAX}`,
      );
    let offset = 0;
    if (marker !== undefined) {
      const decoded = /^(\w+):(\d+)$/.exec(Buffer.from(marker, 'base64url').toString('utf8'));
      if (!decoded || decoded[1] !== operation) throw rdsError('InvalidParameterValue', 'Invalid marker');
      offset = Number(decoded[2]);
    }
    const next = offset + size;
    return {
      items: items.slice(offset, next),
      ...(next < items.length && { Marker: Buffer.from(`${operation}:${next}`).toString('base64url') }),
    };
  }

  private filterValues(filters: Filter[] | undefined, known: string[]): Map<string, string[]> {
    const values = new Map<string, string[]>();
    for (const filter of filters ?? []) {
      if (!filter.Name || !known.includes(filter.Name))
        throw rdsError('InvalidParameterValue', `Unrecognized filter name: ${String(filter.Name)}`);
      values.set(
        filter.Name,
        (filter.Values ?? []).map((value) => value.toLowerCase()),
      );
    }
    return values;
  }

  private install(): void {
    const rds = this.mock;

    rds.on(DescribeDBInstancesCommand).callsFake(async (input) =>
      this.call('DescribeDBInstances', input, input.DBInstanceIdentifier, () => {
        if (input.DBInstanceIdentifier !== undefined) {
          const instance = this.instanceOf(input.DBInstanceIdentifier);
          if (!this.observe(instance))
            throw rdsError('DBInstanceNotFoundFault', `DBInstance ${instance.id} not found.`);
          return { DBInstances: [this.instanceShape(instance)] };
        }
        const filters = this.filterValues(input.Filters, ['db-cluster-id', 'db-instance-id', 'engine']);
        const matches = (instance: SimulatedInstance) =>
          [...filters].every(([name, values]) =>
            name === 'engine'
              ? values.includes(instance.engine)
              : name === 'db-cluster-id'
                ? instance.cluster !== undefined &&
                  (values.includes(instance.cluster) || values.includes(arn('cluster', instance.cluster)))
                : values.includes(instance.id) || values.includes(instance.arn),
          );
        const listed = [...this.instances.values()].filter(
          (instance) => matches(instance) && this.observe(instance),
        );
        const { items, Marker } = this.page(listed, 'DescribeDBInstances', input.MaxRecords, input.Marker);
        return {
          DBInstances: items.map((instance) => this.instanceShape(instance)),
          ...(Marker && { Marker }),
        };
      }),
    );

    rds.on(DescribeDBClustersCommand).callsFake(async (input) =>
      this.call('DescribeDBClusters', input, input.DBClusterIdentifier, () => {
        if (input.DBClusterIdentifier !== undefined) {
          const cluster = this.clusterOf(input.DBClusterIdentifier);
          if (!this.observe(cluster))
            throw rdsError('DBClusterNotFoundFault', `DBCluster ${cluster.id} not found.`);
          return { DBClusters: [this.clusterShape(cluster)] };
        }
        const filters = this.filterValues(input.Filters, ['db-cluster-id', 'engine']);
        const listed = [...this.clusters.values()].filter(
          (cluster) =>
            [...filters].every(([name, values]) =>
              name === 'engine'
                ? values.includes(cluster.engine)
                : values.includes(cluster.id) || values.includes(cluster.arn),
            ) && this.observe(cluster),
        );
        const { items, Marker } = this.page(listed, 'DescribeDBClusters', input.MaxRecords, input.Marker);
        return { DBClusters: items.map((cluster) => this.clusterShape(cluster)), ...(Marker && { Marker }) };
      }),
    );

    rds.on(DescribeDBSnapshotsCommand).callsFake(async (input) =>
      this.call('DescribeDBSnapshots', input, input.DBInstanceIdentifier, () => {
        const types = input.SnapshotType ? [input.SnapshotType] : ['automated', 'manual'];
        let listed = [...this.snapshots.values()];
        if (input.DBSnapshotIdentifier !== undefined) {
          const id = this.idFrom(input.DBSnapshotIdentifier, 'snapshot');
          listed = listed.filter((snapshot) => snapshot.id === id);
          if (listed.length === 0) throw rdsError('DBSnapshotNotFoundFault', `DBSnapshot ${id} not found.`);
        }
        if (input.DBInstanceIdentifier !== undefined) {
          const of = this.idFrom(input.DBInstanceIdentifier, 'db');
          listed = listed.filter((snapshot) => snapshot.of === of);
        }
        listed = listed.filter((snapshot) => types.includes(snapshot.type));
        const { items, Marker } = this.page(listed, 'DescribeDBSnapshots', input.MaxRecords, input.Marker);
        return {
          DBSnapshots: items.map((snapshot) => this.snapshotShape(snapshot)),
          ...(Marker && { Marker }),
        };
      }),
    );

    rds.on(DescribeDBClusterSnapshotsCommand).callsFake(async (input) =>
      this.call('DescribeDBClusterSnapshots', input, input.DBClusterIdentifier, () => {
        const types = input.SnapshotType ? [input.SnapshotType] : ['automated', 'manual'];
        let listed = [...this.clusterSnapshots.values()];
        if (input.DBClusterSnapshotIdentifier !== undefined) {
          const id = this.idFrom(input.DBClusterSnapshotIdentifier, 'cluster-snapshot');
          listed = listed.filter((snapshot) => snapshot.id === id);
          if (listed.length === 0)
            throw rdsError('DBClusterSnapshotNotFoundFault', `DBClusterSnapshot ${id} not found.`);
        }
        if (input.DBClusterIdentifier !== undefined) {
          const of = this.idFrom(input.DBClusterIdentifier, 'cluster');
          listed = listed.filter((snapshot) => snapshot.of === of);
        }
        listed = listed.filter((snapshot) => types.includes(snapshot.type));
        const { items, Marker } = this.page(
          listed,
          'DescribeDBClusterSnapshots',
          input.MaxRecords,
          input.Marker,
        );
        return {
          DBClusterSnapshots: items.map((snapshot) => this.clusterSnapshotShape(snapshot)),
          ...(Marker && { Marker }),
        };
      }),
    );

    rds.on(RestoreDBInstanceFromDBSnapshotCommand).callsFake(async (input) =>
      this.call('RestoreDBInstanceFromDBSnapshot', input, input.DBInstanceIdentifier, () => {
        const id = this.checkIdentifier('DBInstanceIdentifier', input.DBInstanceIdentifier);
        const tags = this.checkTags(input.Tags);
        if (input.DBSnapshotIdentifier === undefined)
          throw rdsError('MissingParameter', 'The request must contain the parameter DBSnapshotIdentifier');
        const snapshotId = this.idFrom(input.DBSnapshotIdentifier, 'snapshot');
        const snapshot = this.snapshots.get(snapshotId);
        if (!snapshot) throw rdsError('DBSnapshotNotFoundFault', `DBSnapshot ${snapshotId} not found.`);
        this.checkInstanceFree(id);
        if (snapshot.status !== 'available')
          throw rdsError(
            'InvalidDBSnapshotStateFault',
            `Snapshot ${snapshotId} is not in available state (${snapshot.status}).`,
          );
        this.checkSubnetGroup(input.DBSubnetGroupName);
        const instance = this.addInstance({
          id,
          status: 'creating',
          engine: snapshot.engine,
          engineVersion: snapshot.engineVersion,
          instanceClass: input.DBInstanceClass ?? 'db.r6g.large',
          tags,
          encrypted: snapshot.encrypted,
          ...(snapshot.kmsKeyId !== undefined && { kmsKeyId: snapshot.kmsKeyId }),
          backupRetentionPeriod: input.BackupRetentionPeriod ?? 1,
          deletionProtection: input.DeletionProtection ?? false,
        });
        this.markCreated(instance, 'RestoreDBInstanceFromDBSnapshot', input, tags);
        instance.restoredFrom = { snapshot: snapshot.id };
        return { DBInstance: this.instanceShape(instance) };
      }),
    );

    rds.on(RestoreDBInstanceToPointInTimeCommand).callsFake(async (input) =>
      this.call('RestoreDBInstanceToPointInTime', input, input.TargetDBInstanceIdentifier, () => {
        const id = this.checkIdentifier('TargetDBInstanceIdentifier', input.TargetDBInstanceIdentifier);
        const tags = this.checkTags(input.Tags);
        const source = this.instanceOf(input.SourceDBInstanceIdentifier);
        if (source.cluster !== undefined)
          throw rdsError(
            'InvalidParameterCombination',
            `${source.id} is an Aurora instance: restore its cluster with RestoreDBClusterToPointInTime.`,
          );
        this.checkInstanceFree(id);
        const time = this.restoreTime(
          source,
          input.RestoreTime,
          input.UseLatestRestorableTime,
          'RestoreTime',
        );
        this.checkSubnetGroup(input.DBSubnetGroupName);
        const instance = this.addInstance({
          id,
          status: 'creating',
          engine: source.engine,
          engineVersion: source.engineVersion,
          instanceClass: input.DBInstanceClass ?? source.instanceClass,
          tags,
          encrypted: source.encrypted,
          ...(source.kmsKeyId !== undefined && { kmsKeyId: source.kmsKeyId }),
          backupRetentionPeriod: input.BackupRetentionPeriod ?? 1,
          deletionProtection: input.DeletionProtection ?? false,
        });
        this.markCreated(instance, 'RestoreDBInstanceToPointInTime', input, tags);
        instance.restoredFrom = { source: source.id, time };
        return { DBInstance: this.instanceShape(instance) };
      }),
    );

    rds.on(RestoreDBClusterFromSnapshotCommand).callsFake(async (input) =>
      this.call('RestoreDBClusterFromSnapshot', input, input.DBClusterIdentifier, () => {
        const id = this.checkIdentifier('DBClusterIdentifier', input.DBClusterIdentifier);
        const tags = this.checkTags(input.Tags);
        if (input.Engine === undefined)
          throw rdsError('MissingParameter', 'The request must contain the parameter Engine');
        if (input.SnapshotIdentifier === undefined)
          throw rdsError('MissingParameter', 'The request must contain the parameter SnapshotIdentifier');
        const snapshotId = this.idFrom(input.SnapshotIdentifier, 'cluster-snapshot');
        const snapshot = this.clusterSnapshots.get(snapshotId);
        if (!snapshot)
          throw rdsError('DBClusterSnapshotNotFoundFault', `DBClusterSnapshot ${snapshotId} not found.`);
        this.checkClusterFree(id);
        if (snapshot.status !== 'available')
          throw rdsError(
            'InvalidDBClusterSnapshotStateFault',
            `Cluster snapshot ${snapshotId} is not in available state (${snapshot.status}).`,
          );
        if (input.Engine !== snapshot.engine)
          throw rdsError(
            'InvalidParameterCombination',
            `Engine ${input.Engine} does not match the snapshot's engine ${snapshot.engine}.`,
          );
        this.checkSubnetGroup(input.DBSubnetGroupName);
        const cluster = this.addCluster({
          id,
          status: 'creating',
          engine: snapshot.engine,
          engineVersion: input.EngineVersion ?? snapshot.engineVersion,
          tags,
          encrypted: snapshot.encrypted,
          ...((input.KmsKeyId ?? snapshot.kmsKeyId) !== undefined && {
            kmsKeyId: input.KmsKeyId ?? snapshot.kmsKeyId,
          }),
          backupRetentionPeriod: input.BackupRetentionPeriod ?? 1,
          deletionProtection: input.DeletionProtection ?? false,
        });
        this.markCreated(cluster, 'RestoreDBClusterFromSnapshot', input, tags);
        cluster.restoredFrom = { snapshot: snapshot.id };
        return { DBCluster: this.clusterShape(cluster) };
      }),
    );

    rds.on(RestoreDBClusterToPointInTimeCommand).callsFake(async (input) =>
      this.call('RestoreDBClusterToPointInTime', input, input.DBClusterIdentifier, () => {
        const id = this.checkIdentifier('DBClusterIdentifier', input.DBClusterIdentifier);
        const tags = this.checkTags(input.Tags);
        const source = this.clusterOf(input.SourceDBClusterIdentifier);
        this.checkClusterFree(id);
        const time = this.restoreTime(
          source,
          input.RestoreToTime,
          input.UseLatestRestorableTime,
          'RestoreToTime',
        );
        this.checkSubnetGroup(input.DBSubnetGroupName);
        const cluster = this.addCluster({
          id,
          status: 'creating',
          engine: source.engine,
          engineVersion: source.engineVersion,
          tags,
          encrypted: source.encrypted,
          ...(source.kmsKeyId !== undefined && { kmsKeyId: source.kmsKeyId }),
          backupRetentionPeriod: input.BackupRetentionPeriod ?? 1,
          deletionProtection: input.DeletionProtection ?? false,
        });
        this.markCreated(cluster, 'RestoreDBClusterToPointInTime', input, tags);
        cluster.restoredFrom = { source: source.id, time };
        return { DBCluster: this.clusterShape(cluster) };
      }),
    );

    rds.on(CreateDBInstanceCommand).callsFake(async (input) =>
      this.call('CreateDBInstance', input, input.DBInstanceIdentifier, () => {
        const id = this.checkIdentifier('DBInstanceIdentifier', input.DBInstanceIdentifier);
        const tags = this.checkTags(input.Tags);
        if (input.DBInstanceClass === undefined || input.Engine === undefined)
          throw rdsError('MissingParameter', 'The request must contain DBInstanceClass and Engine');
        let cluster: SimulatedCluster | undefined;
        if (input.DBClusterIdentifier !== undefined) {
          cluster = this.clusterOf(input.DBClusterIdentifier);
          if (cluster.status === 'deleting')
            throw rdsError('InvalidDBClusterStateFault', `DB cluster ${cluster.id} is being deleted.`);
          if (input.Engine !== cluster.engine)
            throw rdsError(
              'InvalidParameterCombination',
              `Engine ${input.Engine} does not match the cluster's engine ${cluster.engine}.`,
            );
        } else {
          throw rdsError(
            'InvalidParameterValue',
            'The simulation creates instances in an Aurora cluster only (DBClusterIdentifier).',
          );
        }
        this.checkInstanceFree(id);
        const instance = this.addInstance({
          id,
          status: 'creating',
          engine: cluster.engine,
          engineVersion: cluster.engineVersion,
          instanceClass: input.DBInstanceClass,
          cluster: cluster.id,
          tags,
          encrypted: cluster.encrypted,
          ...(cluster.kmsKeyId !== undefined && { kmsKeyId: cluster.kmsKeyId }),
          backupRetentionPeriod: cluster.backupRetentionPeriod,
          deletionProtection: input.DeletionProtection ?? false,
        });
        this.markCreated(instance, 'CreateDBInstance', input, tags);
        return { DBInstance: this.instanceShape(instance) };
      }),
    );

    rds.on(DeleteDBInstanceCommand).callsFake(async (input) =>
      this.call('DeleteDBInstance', input, input.DBInstanceIdentifier, () => {
        const record: DeleteRecord = {
          kind: 'instance',
          id: this.idFrom(input.DBInstanceIdentifier, 'db'),
          skipFinalSnapshot: input.SkipFinalSnapshot,
          deleteAutomatedBackups: input.DeleteAutomatedBackups,
          finalSnapshotId: input.FinalDBSnapshotIdentifier,
          at: new Date(),
        };
        this.deletes.push(record);
        try {
          const instance = this.instanceOf(input.DBInstanceIdentifier);
          this.settle(instance);
          if (instance.status === 'deleting')
            throw rdsError(
              'InvalidDBInstanceStateFault',
              `Instance ${instance.id} is already being deleted.`,
            );
          if (instance.deletionProtection)
            throw rdsError(
              'InvalidParameterCombination',
              'Cannot delete protected DB Instance, please disable deletion protection and try again.',
            );
          const finalSnapshot = instance.cluster === undefined && !input.SkipFinalSnapshot;
          if (finalSnapshot && input.FinalDBSnapshotIdentifier === undefined)
            throw rdsError(
              'InvalidParameterCombination',
              'FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.',
            );
          if (finalSnapshot && instance.status === 'creating')
            throw rdsError(
              'InvalidDBInstanceStateFault',
              `Instance ${instance.id} is currently creating - a final snapshot cannot be taken.`,
            );
          if (finalSnapshot && input.FinalDBSnapshotIdentifier !== undefined) {
            const snapshot = this.addSnapshot({
              id: input.FinalDBSnapshotIdentifier,
              of: instance.id,
              type: 'manual',
              status: 'creating',
              engine: instance.engine,
              engineVersion: instance.engineVersion,
            });
            snapshot.created = true;
          }
          if (
            instance.cluster === undefined &&
            instance.backupRetentionPeriod > 0 &&
            input.DeleteAutomatedBackups === false
          ) {
            this.retainedBackups.push({ kind: 'instance', id: instance.id, tags: { ...instance.tags } });
          }
          instance.status = 'deleting';
          instance.deletion = { describes: 0, since: Date.now() };
          return { DBInstance: this.instanceShape(instance) };
        } catch (error) {
          record.refused = (error as Error).name;
          throw error;
        }
      }),
    );

    rds.on(DeleteDBClusterCommand).callsFake(async (input) =>
      this.call('DeleteDBCluster', input, input.DBClusterIdentifier, () => {
        const record: DeleteRecord = {
          kind: 'cluster',
          id: this.idFrom(input.DBClusterIdentifier, 'cluster'),
          skipFinalSnapshot: input.SkipFinalSnapshot,
          deleteAutomatedBackups: input.DeleteAutomatedBackups,
          finalSnapshotId: input.FinalDBSnapshotIdentifier,
          at: new Date(),
        };
        this.deletes.push(record);
        try {
          const cluster = this.clusterOf(input.DBClusterIdentifier);
          this.settle(cluster);
          if (cluster.status === 'deleting')
            throw rdsError(
              'InvalidDBClusterStateFault',
              `DB cluster ${cluster.id} is already being deleted.`,
            );
          const members = [...this.instances.values()].filter((instance) => instance.cluster === cluster.id);
          if (members.some((member) => member.status !== 'deleting'))
            throw rdsError(
              'InvalidDBClusterStateFault',
              'Cluster cannot be deleted, it still contains DB instances in non-deleting state.',
            );
          if (cluster.deletionProtection)
            throw rdsError(
              'InvalidParameterCombination',
              'Cannot delete protected Cluster, please disable deletion protection and try again.',
            );
          if (!input.SkipFinalSnapshot && input.FinalDBSnapshotIdentifier === undefined)
            throw rdsError(
              'InvalidParameterCombination',
              'FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.',
            );
          if (!input.SkipFinalSnapshot && input.FinalDBSnapshotIdentifier !== undefined) {
            const snapshot = this.addClusterSnapshot({
              id: input.FinalDBSnapshotIdentifier,
              of: cluster.id,
              type: 'manual',
              status: 'creating',
              engine: cluster.engine,
              engineVersion: cluster.engineVersion,
            });
            snapshot.created = true;
          }
          if (cluster.backupRetentionPeriod > 0 && input.DeleteAutomatedBackups === false)
            this.retainedBackups.push({ kind: 'cluster', id: cluster.id, tags: { ...cluster.tags } });
          cluster.status = 'deleting';
          cluster.deletion = { describes: 0, since: Date.now() };
          return { DBCluster: this.clusterShape(cluster) };
        } catch (error) {
          record.refused = (error as Error).name;
          throw error;
        }
      }),
    );

    rds.on(ListTagsForResourceCommand).callsFake(async (input) =>
      this.call('ListTagsForResource', input, input.ResourceName, () => {
        const name = String(input.ResourceName ?? '');
        const parsed = new RegExp(
          `^arn:aws:rds:${REGION}:${ACCOUNT}:(db|cluster|snapshot|cluster-snapshot):(.+)$`,
        ).exec(name);
        if (!parsed) throw rdsError('InvalidParameterValue', `Invalid resource name: ${name}`);
        const [, type, raw = ''] = parsed;
        const id = raw.toLowerCase();
        switch (type) {
          case 'db':
            return { TagList: tagList(this.instanceOf(id).tags) };
          case 'cluster':
            return { TagList: tagList(this.clusterOf(id).tags) };
          case 'snapshot':
            if (!this.snapshots.has(id))
              throw rdsError('DBSnapshotNotFoundFault', `DBSnapshot ${id} not found.`);
            return { TagList: [] };
          default:
            if (!this.clusterSnapshots.has(id))
              throw rdsError('DBClusterSnapshotNotFoundFault', `DBClusterSnapshot ${id} not found.`);
            return { TagList: [] };
        }
      }),
    );
  }
}
