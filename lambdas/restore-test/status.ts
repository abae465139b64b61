import type { RDSClient } from '@aws-sdk/client-rds';
import { describeDatabase } from '../aws/rds-restore';
import { RunbookError } from '../shared/errors';
import type { RestorePlan, RestoreStatus } from './plan';

/** RDS gave up on the restored instance (a failed or incompatible state), or it disappeared. */
export class RestoreFailed extends RunbookError {
  override name = 'RestoreFailed';
}

/** The restored instance was not available by the database's deadline (`availableTimeoutMinutes`). */
export class RestoreTimedOut extends RunbookError {
  override name = 'RestoreTimedOut';
}

/** Statuses in which the instance serves connections (RDS user guide, "Viewing DB instance status"). */
const SERVING = new Set(['available', 'storage-optimization']);
/** Statuses RDS does not leave by itself on the way to available: the restore failed. */
const FAILED = new Set([
  'failed',
  'restore-error',
  'incompatible-restore',
  'incompatible-parameters',
  'incompatible-network',
  'incompatible-option-group',
  'incompatible-credentials',
  'inaccessible-encryption-credentials',
  'inaccessible-encryption-credentials-recoverable',
  'storage-full',
  'stopped',
  'stopping',
  'deleting',
]);

/**
 * The temporary instance's status: available (with its endpoint), still on its way, or — thrown — failed or
 * past the deadline. Every other status (creating, backing-up, modifying, configuring-…) is on its way.
 */
export async function readRestoreStatus(
  rds: RDSClient,
  plan: RestorePlan,
  now: Date,
): Promise<RestoreStatus> {
  const id = plan.identifiers.instance;
  const instance = await describeDatabase(rds, { kind: 'instance', id });
  if (!instance) throw new RestoreFailed(`The restored DB instance ${id} does not exist (any more)`);
  if (SERVING.has(instance.status) && instance.endpoint) {
    return {
      available: true,
      status: instance.status,
      endpoint: instance.endpoint,
      checkedAt: now.toISOString(),
    };
  }
  if (FAILED.has(instance.status)) {
    throw new RestoreFailed(`The restored DB instance ${id} is ${instance.status}: RDS could not restore it`);
  }
  if (now.getTime() > Date.parse(plan.deadline)) {
    throw new RestoreTimedOut(
      `The restored DB instance ${id} is still ${instance.status} after ${plan.database.availableTimeoutMinutes} minutes (deadline ${plan.deadline})`,
    );
  }
  return { available: false, status: instance.status, checkedAt: now.toISOString() };
}
