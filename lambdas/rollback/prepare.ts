import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { describeAlarm } from '../aws/cloudwatch';
import * as z from 'zod/mini';
import { executionSchema, type Execution } from '../shared/execution';
import { parseOrThrow } from '../shared/errors';
import type { KubernetesClient } from '../kubernetes/client';
import type { ReportFact } from '../notify/report';
import { parseAlarmEvent, type AlarmEvent } from './alarm-event';
import { reasonText, type CanaryAbort, type RollbackGuard } from './reason-text';
import type { RollbackMode } from '../../lib/config/rollback';
import type { PrepareSettings } from './settings';
import { resolveTarget } from './target';
import { readRollbackPlan } from './undo';
import type { WorkloadLock } from '../workload-lock/workload-lock';

export const prepareInputSchema = z.object({ event: z.unknown(), execution: executionSchema });

export interface RollbackTargetRef {
  alarmName: string;
  cluster?: string;
  namespace?: string;
  deployment?: string;
  toRevision?: number;
  source?: 'config' | 'tag';
}

export interface Change {
  fromRevision: number;
  toRevision: number;
  fromImages: string[];
  toImages: string[];
}

/** What the state machine routes on, and what every later step and message reads. */
export interface PreparedRun {
  runbook: 'rollback';
  environment: string;
  execution: Execution;
  /** `shadow`: every guard passed and the patch is planned, but the target is in shadow mode. */
  decision: 'proceed' | 'skip' | 'shadow';
  mode?: RollbackMode;
  /** A skip nobody needs to hear about (the same event delivered twice). */
  quiet: boolean;
  reason?: string;
  /** The reason as the notification says it (`reasonText` of the guard code). */
  reasonText?: string;
  detail?: string;
  /** What notifications name: the Deployment as `namespace/name`, or the alarm when none was resolved. */
  subject: string;
  /** The workload as notifications list it, whichever guard stopped the run: Deployment, Cluster, Alarm. */
  facts: ReportFact[];
  alarm: { name: string; at: string; reason: string; eventId: string };
  target: RollbackTargetRef;
  plan?: Change;
  /** The plan in words, without the verb: "roll back checkout-api from revision 7 (1.5.0) to 6 (1.4.2)". */
  planText?: string;
  /** This run's recovery window (the target's, or extended for a slow alarm) and cooldown. */
  timing?: {
    recoveryWindowSeconds: number;
    recoveryWindowMinutes: number;
    cooldownMinutes: number;
    note?: string;
  };
  lock?: { key: string; eventId: string; takenOverFrom?: string };
}

export interface PrepareDeps {
  settings: PrepareSettings;
  cloudwatch: CloudWatchClient;
  lock: WorkloadLock;
  kubernetes: { clientFor(cluster: string): Promise<KubernetesClient> };
  /** Whether the execution holding a workload's lock still runs (Step Functions DescribeExecution). */
  executionIsRunning: (executionArn: string) => Promise<boolean>;
  /**
   * Rejects the approval a canary of the workload waits for, if any (lambdas/canary/answer-approval.ts): a canary
   * waiting for a person reads no abort request until answered, so the alarm answers for it. Answers whether
   * one was pending.
   */
  rejectCanaryApproval: (
    workload: string,
    request: { by: string; at: Date; executionArn: string },
  ) => Promise<boolean>;
  /** This function's account and region: only alarms of this account and region are acted on. */
  account: string;
  region: string;
  now: () => Date;
}

/**
 * The oldest alarm change acted on. EventBridge gives up delivering after the rule's maximum event age
 * (2 hours, lib/rollback-runbook.ts); an event older than that (replayed from the archive, redriven from the
 * dead-letter queue by hand) describes an incident on-call has long seen: starting a rollback then is a
 * decision for a person.
 */
export const MAX_EVENT_AGE_SECONDS = 2 * 60 * 60;

/**
 * Decides whether this alarm event leads to a rollback. Every refusal is a `skip` with a reason; the only
 * side effect is the workload lock, which is released again on every path that does not proceed. In shadow
 * mode nothing is written at all: the lock is only read, and the run ends as a plan.
 */
export async function prepareRollback(input: unknown, deps: PrepareDeps): Promise<PreparedRun> {
  const { event, execution } = parseOrThrow(prepareInputSchema, input, 'The prepare input');
  const alarm = parseAlarmEvent(event);
  const { settings } = deps;
  const base = {
    runbook: 'rollback' as const,
    environment: settings.environment,
    execution,
    alarm: { name: alarm.alarmName, at: alarm.at, reason: alarm.reason, eventId: alarm.eventId },
  };
  let cooldownMinutes = settings.cooldownSeconds / 60;
  const skip = (
    target: RollbackTargetRef,
    reason: RollbackGuard,
    detail: string,
    quiet = false,
    canaryAbort?: CanaryAbort,
  ): PreparedRun => ({
    ...base,
    decision: 'skip',
    quiet,
    reason,
    reasonText: reasonText(reason, { cooldownMinutes, canaryAbort }),
    detail,
    target,
    ...describeWorkload(target),
  });

  if (alarm.state !== 'ALARM') {
    return skip({ alarmName: alarm.alarmName }, 'not-in-alarm', `Alarm is ${alarm.state}, not ALARM.`, true);
  }
  // The default bus can carry other accounts' and regions' events once bus permissions allow it; their
  // alarms cannot be read back from here, so nothing is done on their word.
  if (alarm.account !== deps.account || alarm.region !== deps.region) {
    return skip(
      { alarmName: alarm.alarmName },
      'foreign-alarm',
      `The event comes from account ${alarm.account} in ${alarm.region}; this runbook acts only on alarms of account ${deps.account} in ${deps.region}.`,
    );
  }
  const ageSeconds = (deps.now().getTime() - Date.parse(alarm.at)) / 1000;
  if (ageSeconds > MAX_EVENT_AGE_SECONDS) {
    return skip(
      { alarmName: alarm.alarmName },
      'stale-event',
      `The alarm entered ALARM at ${alarm.at}, ${Math.round(ageSeconds / 60)} min ago; events older than ${MAX_EVENT_AGE_SECONDS / 60} min are not acted on.`,
    );
  }
  const resolved = await resolveTarget(alarm, settings, deps.cloudwatch);
  if (resolved.kind === 'unmapped')
    return skip({ alarmName: alarm.alarmName }, resolved.reason, resolved.detail);

  const { target, source } = resolved;
  const mode = target.mode ?? settings.mode;
  const targetRef: RollbackTargetRef = { ...target, source };
  if (target.cooldownMinutes !== undefined) cooldownMinutes = target.cooldownMinutes;
  const key = `${target.cluster}/${target.namespace}/${target.deployment}`;
  const request = lockRequest(key, execution, alarm, deps, cooldownMinutes * 60);
  // Shadow mode reads the lock's guards (held, canary, cooldown, duplicate) and writes nothing.
  let lock =
    mode === 'shadow'
      ? await deps.lock.checkForRollback(request)
      : await deps.lock.acquireForRollback(request);
  if (!lock.acquired && lock.reason === 'canary-in-progress') {
    // A rollback under a running canary would fight its traffic shifts: the canary aborts instead.
    if (mode === 'shadow') {
      return skip(
        targetRef,
        lock.reason,
        `${lock.detail} In act mode the canary would be asked to abort.`,
        false,
        'would-request',
      );
    }
    const abort = await deps.lock.requestCanaryAbort(key, {
      alarmName: alarm.alarmName,
      executionId: execution.id,
      at: deps.now(),
    });
    if (abort.requested) {
      const { reason, by } = abort.abortRequested;
      const rejected = await deps.rejectCanaryApproval(key, {
        by: `rollback ${execution.id} (alarm "${alarm.alarmName}")`,
        at: deps.now(),
        executionArn: abort.holderExecution,
      });
      return skip(
        targetRef,
        lock.reason,
        rejected
          ? `${lock.detail} It was waiting for approval: the approval was rejected for the alarm (${reason}), which aborts it now and sends all traffic back to stable.`
          : `${lock.detail} It was asked to abort (${reason}, by ${by}); it reads the request within about a minute while a step holds its weight (at its next check otherwise), aborts and sends all traffic back to stable.`,
        false,
        'requested',
      );
    }
    // The canary released the lock between the read and the request: take it now.
    lock = await deps.lock.acquireForRollback(request);
  }
  if (!lock.acquired) return skip(targetRef, lock.reason, lock.detail, lock.quiet);
  const release = async () => {
    if (mode === 'act') await deps.lock.release(key, execution.id);
  };

  try {
    // A retried or late delivery can bring an ALARM event for an alarm that is OK again: act on its state
    // now. Read after the lock, so that a duplicate delivery stays quiet.
    const current = await describeAlarm(deps.cloudwatch, alarm.alarmName);
    if (current === undefined) {
      await release();
      return skip(
        targetRef,
        'alarm-missing',
        `Alarm "${alarm.alarmName}" no longer exists (DescribeAlarms found neither a metric nor a composite alarm).`,
      );
    }
    if (current.state !== 'ALARM') {
      await release();
      return skip(
        targetRef,
        'alarm-already-recovered',
        `Alarm "${alarm.alarmName}" is ${current.state} now${current.updatedAt ? ` (since ${current.updatedAt.toISOString()})` : ''}, although the event says ALARM.`,
      );
    }
    const timing = recoveryTiming(target.recoveryWindowMinutes, current.evaluationSeconds, settings);
    if (timing.kind === 'unmeasurable') {
      await release();
      return skip(targetRef, 'recovery-unmeasurable', timing.detail);
    }

    const client = await deps.kubernetes.clientFor(target.cluster);
    const plan = await readRollbackPlan(client, {
      namespace: target.namespace,
      deployment: target.deployment,
      ...(target.toRevision === undefined ? {} : { toRevision: target.toRevision }),
    });
    if (plan.kind === 'guarded') {
      await release();
      return skip(targetRef, plan.reason, plan.detail);
    }
    const change: Change = {
      fromRevision: plan.fromRevision,
      toRevision: plan.toRevision,
      fromImages: plan.fromImages,
      toImages: plan.toImages,
    };
    const workload = describeWorkload(targetRef);
    return {
      ...base,
      decision: mode === 'shadow' ? 'shadow' : 'proceed',
      mode,
      quiet: false,
      target: targetRef,
      ...workload,
      plan: change,
      planText: planText(target.deployment, change),
      timing: {
        recoveryWindowSeconds: timing.seconds,
        recoveryWindowMinutes: timing.seconds / 60,
        cooldownMinutes,
        ...(timing.note !== undefined && { note: timing.note }),
      },
      ...(mode === 'act' && {
        lock: {
          key,
          eventId: alarm.eventId,
          ...(lock.takenOverFrom !== undefined && { takenOverFrom: lock.takenOverFrom }),
        },
      }),
    };
  } catch (error) {
    await release();
    throw error;
  }
}

type RecoveryTiming =
  { kind: 'measurable'; seconds: number; note?: string } | { kind: 'unmeasurable'; detail: string };

/**
 * The recovery window for this alarm: the target's (or the section's), extended when the alarm looks back
 * further than that (period × evaluation periods: it cannot return to OK sooner), up to the most the execution
 * timeout was sized for; beyond that, recovery cannot be measured and the rollback is refused.
 */
export function recoveryTiming(
  targetWindowMinutes: number | undefined,
  evaluationSeconds: number | undefined,
  settings: Pick<PrepareSettings, 'recoveryWindowSeconds' | 'recoveryWindowMaxSeconds'>,
): RecoveryTiming {
  const configured =
    targetWindowMinutes === undefined ? settings.recoveryWindowSeconds : targetWindowMinutes * 60;
  if (evaluationSeconds === undefined || evaluationSeconds <= configured) {
    return { kind: 'measurable', seconds: configured };
  }
  const minutes = (seconds: number) => `${Math.ceil(seconds / 60)} min`;
  if (evaluationSeconds > settings.recoveryWindowMaxSeconds) {
    return {
      kind: 'unmeasurable',
      detail: `The alarm evaluates ${minutes(evaluationSeconds)} of data (period × evaluation periods), more than the ${minutes(settings.recoveryWindowMaxSeconds)} a recovery window may last (rollback.recoveryWindowMaxMinutes): it could not return to OK in time, so recovery could never be seen. Raise recoveryWindowMaxMinutes or map a faster alarm.`,
    };
  }
  const seconds = Math.ceil(evaluationSeconds / 60) * 60;
  return {
    kind: 'measurable',
    seconds,
    note: `Recovery window extended from ${minutes(configured)} to ${minutes(seconds)}: the alarm evaluates ${minutes(evaluationSeconds)} of data.`,
  };
}

/** "would roll back checkout-api from revision 7 (1.5.0) to 6 (1.4.2)", the plan in one line. */
export function planText(deployment: string, change: Change): string {
  const tags = (images: string[]) => images.map(imageTag).join(', ');
  return `roll back ${deployment} from revision ${change.fromRevision} (${tags(change.fromImages)}) to ${change.toRevision} (${tags(change.toImages)})`;
}

/** The tag or digest of an image reference; a registry's port (`registry:5000/app:1.0`) is not a tag. */
function imageTag(image: string): string {
  const name = image.slice(image.lastIndexOf('/') + 1);
  const digest = name.indexOf('@');
  if (digest >= 0) return name.slice(digest + 1);
  const tag = name.indexOf(':');
  return tag >= 0 ? name.slice(tag + 1) : image;
}

/** How the notifications name the workload: computed here, where the route is known, not in the ASL. */
export function describeWorkload(target: RollbackTargetRef): { subject: string; facts: ReportFact[] } {
  const { alarmName, cluster, namespace, deployment } = target;
  const path = deployment === undefined ? undefined : [namespace, deployment].filter(Boolean).join('/');
  const facts: ReportFact[] = [];
  if (path !== undefined) facts.push({ label: 'Deployment', value: path, code: true });
  if (cluster !== undefined) facts.push({ label: 'Cluster', value: cluster, code: true });
  facts.push({ label: 'Alarm', value: alarmName, code: true });
  return { subject: path ?? alarmName, facts };
}

function lockRequest(
  key: string,
  execution: Execution,
  alarm: AlarmEvent,
  deps: PrepareDeps,
  cooldownSeconds: number,
) {
  return {
    workload: key,
    executionId: execution.id,
    eventId: alarm.eventId,
    alarmName: alarm.alarmName,
    now: deps.now(),
    lockTtlSeconds: deps.settings.lockTtlSeconds,
    cooldownSeconds,
    holderIsRunning: deps.executionIsRunning,
  };
}
