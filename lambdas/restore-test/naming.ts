import { createHash } from 'node:crypto';

// What a restore test creates is named so that it is recognisable, unique per run, and valid for RDS.

/** RDS instance and cluster identifiers: 1–63 letters, digits and hyphens (RDS user guide, naming constraints). */
export const RDS_IDENTIFIER_MAX = 63;
/** Every identifier a restore test creates starts with it: the IAM grants name `restore-test-*` only. */
export const RESTORED_PREFIX = 'restore-test-';

/**
 * The temporary instance's (or cluster's) identifier: `restore-test-<source>-<8 hex of the run>[-<suffix>]`,
 * the source cut so the whole fits 63 characters, lowercased, with no double or trailing hyphen, starting
 * with a letter as RDS requires. `runKey` names the run (the database and its scheduled time): a retried
 * create step, or a second delivery of the same scheduled start, meets the same name
 * (DBInstanceAlreadyExists) instead of making a second instance.
 */
export function restoredIdentifier(sourceId: string, runKey: string, suffix = ''): string {
  const hash = createHash('sha256').update(runKey).digest('hex').slice(0, 8);
  const tail = suffix ? `-${suffix}` : '';
  const room = RDS_IDENTIFIER_MAX - RESTORED_PREFIX.length - hash.length - tail.length - 1;
  const source = sourceId
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .slice(0, room)
    .replace(/^-+|-+$/g, '');
  return `${RESTORED_PREFIX}${source ? `${source}-` : ''}${hash}${tail}`;
}
