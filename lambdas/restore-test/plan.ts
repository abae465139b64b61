import * as z from 'zod/mini';
import { restoreDatabaseSchema } from '../../lib/config/restore-tests';
import { SNAPSHOT_KINDS } from '../../lib/config/restore-tests';

// What the restore test's steps hand each other through the workflow's state, parsed at each step's edge:
// the plan (prepare), the restore started (restore), the instance's status (check-restore).

const text = z.string().check(z.minLength(1));
const isoTime = text.check(z.refine((value) => !Number.isNaN(Date.parse(value)), 'must be an ISO 8601 time'));

export const sourceSchema = z.object({ kind: z.enum(['instance', 'cluster']), id: text });
export type RestoreSource = z.output<typeof sourceSchema>;

export const snapshotRestoreSchema = z.object({
  mode: z.literal('snapshot'),
  snapshotId: text,
  snapshotArn: text,
  snapshotKind: z.enum(SNAPSHOT_KINDS),
  /** When the snapshot was taken: the RPO the run can prove without a freshness check. */
  snapshotCreatedAt: isoTime,
  engine: text,
  encrypted: z.boolean(),
  kmsKeyId: z.optional(text),
  /** Newer snapshots still being created, skipped for this one. */
  newerInProgress: z.int().check(z.nonnegative()),
});

export const pointInTimeRestoreSchema = z.object({
  mode: z.literal('point-in-time'),
  /** The source's latest restorable time when the run started (about five minutes behind). */
  restoreTime: isoTime,
  engine: text,
});

export const restoreChoiceSchema = z.discriminatedUnion('mode', [
  snapshotRestoreSchema,
  pointInTimeRestoreSchema,
]);
export type RestoreChoice = z.output<typeof restoreChoiceSchema>;

/** What one run restores into: the instance always, the cluster for Aurora. */
export const identifiersSchema = z.object({ instance: text, cluster: z.optional(text) });
export type RestoreIdentifiers = z.output<typeof identifiersSchema>;

export const planSchema = z.object({
  /** The database's settings, as configured (checks, class, secret, targets). */
  database: restoreDatabaseSchema,
  /** The scheduled time of the run (or the execution's name when started by hand): names the instance. */
  runKey: text,
  source: sourceSchema,
  restore: restoreChoiceSchema,
  identifiers: identifiersSchema,
  /** When the run started (prepare): the RPO of a snapshot is measured at it. */
  startedAt: isoTime,
  /** The restored instance must be available by then. */
  deadline: isoTime,
  /** The previous successful run's row counts by `schema.table`, for `maxDropRatio`. */
  previousCounts: z.optional(z.record(z.string(), z.number())),
});
export type RestorePlan = z.output<typeof planSchema>;

export const restoreStartedSchema = z.object({
  /** When the restore call was made: the RTO's start. */
  startedAt: isoTime,
  /** False when a retried step met the instance its first attempt had created. */
  created: z.boolean(),
});
export type RestoreStarted = z.output<typeof restoreStartedSchema>;

export const endpointSchema = z.object({ address: text, port: z.int().check(z.positive()) });
export type DatabaseEndpoint = z.output<typeof endpointSchema>;

export const restoreStatusSchema = z.object({
  available: z.boolean(),
  status: text,
  endpoint: z.optional(endpointSchema),
  checkedAt: isoTime,
});
export type RestoreStatus = z.output<typeof restoreStatusSchema>;

export const cleanupResultSchema = z.object({
  deleted: z.array(z.object({ kind: z.enum(['instance', 'cluster']), id: text })),
  alreadyGone: z.array(z.object({ kind: z.enum(['instance', 'cluster']), id: text })),
  at: isoTime,
});
export type CleanupResult = z.output<typeof cleanupResultSchema>;
