import type { LockRefusal } from '../workload-lock/workload-lock';
import type { GuardReason } from './plan';
import type { ResolvedTarget } from './target';

/** Every code a rollback stops on without acting: the notification says why in words. */
export type RollbackGuard =
  | 'not-in-alarm'
  | 'foreign-alarm'
  | 'stale-event'
  | 'alarm-missing'
  | 'alarm-already-recovered'
  | 'recovery-unmeasurable'
  | Extract<ResolvedTarget, { kind: 'unmapped' }>['reason']
  | LockRefusal['reason']
  | GuardReason
  | 'deployment-changed';

/** One sentence per guard, finishing "Skipped because: …". */
const SENTENCES: Record<Exclude<RollbackGuard, 'cooldown'>, string> = {
  'not-in-alarm': 'the alarm is not in ALARM',
  'foreign-alarm':
    'the alarm belongs to another account or region, whose alarms this runbook cannot read back',
  'stale-event': 'the alarm event is more than 2 hours old; a rollback now is for a person to decide',
  'alarm-missing': 'the alarm no longer exists',
  'alarm-already-recovered': 'the alarm is no longer in ALARM: it recovered before the rollback started',
  'recovery-unmeasurable':
    'the alarm evaluates more data than any recovery window allows, so its recovery could never be seen',
  'duplicate-event': 'this alarm event was already handled',
  'deployment-paused': 'the Deployment is paused: someone is already working on it',
  'unmapped-alarm': 'the alarm is not mapped to any workload',
  'invalid-target-tag': 'the alarm\'s runbooks:rollback-target tag is not "cluster/namespace/deployment"',
  'target-not-permitted': 'the runbook has no access to that namespace (eksClusters in the configuration)',
  'deployment-missing': 'the Deployment does not exist',
  'no-previous-revision': 'there is no earlier revision to roll back to',
  'revision-not-found': 'the configured revision is no longer in the rollout history',
  'already-at-revision': 'the Deployment already runs the revision it would roll back to',
  'deployment-changed':
    'the Deployment was deployed again while the rollback was being prepared; that deploy was left alone',
  'canary-in-progress': 'a canary is in progress on this workload',
  'rollback-in-progress': 'another alarm already started a rollback of this workload',
};

/** What a rollback that found a canary did about it: asked it to abort (act), or would have (shadow). */
export type CanaryAbort = 'requested' | 'would-request';

const CANARY_ABORT: Record<CanaryAbort, string> = {
  requested: 'it was asked to abort, and sends all traffic back to stable within about a minute',
  'would-request': 'in act mode it would be asked to abort',
};

/**
 * The sentence for a guard code; pure, so the notifier never needs to know the rollback's codes. The cooldown's
 * depends on its minutes, a canary's on whether it was asked to abort.
 */
export function reasonText(
  reason: RollbackGuard,
  { cooldownMinutes, canaryAbort }: { cooldownMinutes?: number; canaryAbort?: CanaryAbort } = {},
): string {
  if (reason === 'canary-in-progress' && canaryAbort !== undefined) {
    return `${SENTENCES[reason]}; ${CANARY_ABORT[canaryAbort]}`;
  }
  if (reason !== 'cooldown') return SENTENCES[reason];
  if (cooldownMinutes === undefined) return 'already rolled back within the cooldown period';
  return `rolled back less than ${cooldownMinutes} minute${cooldownMinutes === 1 ? '' : 's'} ago`;
}
