import type { RDSClient } from '@aws-sdk/client-rds';
import { RestoreTestTag } from '../../lib/config/restore-tests';
import {
  deleteRestored,
  listDatabases,
  type ObservedResource,
  type RestoredResource,
} from '../aws/rds-restore';
import { RunbookError } from '../shared/errors';
import type { CleanupResult, RestoreIdentifiers } from './plan';

/** The janitor found leftovers it could not delete: they are named, and the run pages. */
export class LeftoversNotDeleted extends RunbookError {
  override name = 'LeftoversNotDeleted';
}

/** Instances before clusters: RDS refuses to delete a cluster that still has an instance not being deleted. */
export const deletionOrder = (identifiers: RestoreIdentifiers): RestoredResource[] => [
  { kind: 'instance', id: identifiers.instance },
  ...(identifiers.cluster !== undefined ? [{ kind: 'cluster' as const, id: identifiers.cluster }] : []),
];

/**
 * Deletes what one run created, and only if its tags say this environment's restore test of this execution.
 * Safe to repeat: what is gone or already deleting counts as gone.
 */
export async function cleanUpRun(
  rds: RDSClient,
  {
    identifiers,
    environment,
    executionId,
    now,
  }: { identifiers: RestoreIdentifiers; environment: string; executionId: string; now: Date },
): Promise<CleanupResult> {
  const result: CleanupResult = { deleted: [], alreadyGone: [], at: now.toISOString() };
  for (const resource of deletionOrder(identifiers)) {
    const outcome = await deleteRestored(rds, resource, {
      markerTag: RestoreTestTag.marker,
      environment,
      executionTag: RestoreTestTag.execution,
      execution: executionId,
    });
    (outcome === 'deleted' ? result.deleted : result.alreadyGone).push(resource);
  }
  return result;
}

export interface Leftover extends RestoredResource {
  database?: string;
  execution?: string;
  ageHours: number;
}

export interface JanitorResult {
  deleted: Leftover[];
  /** Tagged as this environment's restore test but younger than the limit: a run may still use them. */
  young: number;
}

/** When a tagged resource was created: its own tag, else RDS's creation time. */
function createdAt(resource: ObservedResource): Date | undefined {
  const tagged = resource.tags[RestoreTestTag.createdAt];
  if (tagged !== undefined && !Number.isNaN(Date.parse(tagged))) return new Date(tagged);
  return resource.createdAt;
}

/**
 * Deletes every instance and cluster tagged as this environment's restore test that is older than
 * `maxAgeHours` (longer than any run lasts), instances first. Untagged or other environments' resources are
 * never touched. One it cannot delete is tried again by the next janitor run; this one throws
 * LeftoversNotDeleted after trying all, naming them.
 */
export async function deleteLeftovers(
  rds: RDSClient,
  { environment, maxAgeHours, now }: { environment: string; maxAgeHours: number; now: Date },
): Promise<JanitorResult> {
  const tagged = (await listDatabases(rds)).filter(
    (resource) => resource.tags[RestoreTestTag.marker] === environment && resource.status !== 'deleting',
  );
  const aged = tagged
    .map((resource) => {
      const created = createdAt(resource);
      // No creation time at all: an instance still being created, so not a leftover yet.
      const ageHours = created ? (now.getTime() - created.getTime()) / 3_600_000 : 0;
      return { resource, ageHours };
    })
    .sort((a, b) => (a.resource.kind === b.resource.kind ? 0 : a.resource.kind === 'instance' ? -1 : 1));
  const old = aged.filter(({ ageHours }) => ageHours > maxAgeHours);
  const deleted: Leftover[] = [];
  const failures: string[] = [];
  for (const { resource, ageHours } of old) {
    try {
      await deleteRestored(rds, resource, { markerTag: RestoreTestTag.marker, environment });
      deleted.push({
        kind: resource.kind,
        id: resource.id,
        ageHours: Math.round(ageHours * 10) / 10,
        ...(resource.tags[RestoreTestTag.database] !== undefined && {
          database: resource.tags[RestoreTestTag.database],
        }),
        ...(resource.tags[RestoreTestTag.execution] !== undefined && {
          execution: resource.tags[RestoreTestTag.execution],
        }),
      });
    } catch (error) {
      failures.push(`${resource.kind} ${resource.id}: ${(error as Error).name}: ${(error as Error).message}`);
    }
  }
  if (failures.length > 0) {
    throw new LeftoversNotDeleted(
      `Could not delete ${failures.length} leftover restore-test database(s)${deleted.length > 0 ? ` (deleted ${deleted.map((item) => item.id).join(', ')})` : ''}: ${failures.join('; ')}`,
    );
  }
  return { deleted, young: aged.length - old.length };
}
