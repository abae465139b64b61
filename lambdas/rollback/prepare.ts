import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import * as z from 'zod/mini';
import { executionSchema, type Execution } from '../shared/execution';
import { parseOrThrow } from '../shared/errors';
import type { KubernetesClient } from '../kubernetes/client';
import type { ReportFact } from '../notify/report';
import { parseAlarmEvent, type AlarmEvent } from './alarm-event';
import { reasonText, type RollbackGuard } from './reason-text';
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
  decision: 'proceed' | 'skip';
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
  lock?: { key: string; eventId: string };
}

export interface PrepareDeps {
  settings: PrepareSettings;
  cloudwatch: CloudWatchClient;
  lock: WorkloadLock;
  kubernetes: { clientFor(cluster: string): Promise<KubernetesClient> };
  now: () => Date;
}

/**
 * Decides whether this alarm event leads to a rollback. Every refusal is a `skip` with a reason; the only
 * side effect is the workload lock, which is released again on every path that does not proceed.
 */
export async function prepareRollback(input: unknown, deps: PrepareDeps): Promise<PreparedRun> {
  const { event, execution } = parseOrThrow(prepareInputSchema, input, 'The prepare input');
  const alarm = parseAlarmEvent(event);
  const base = {
    runbook: 'rollback' as const,
    environment: deps.settings.environment,
    execution,
    alarm: { name: alarm.alarmName, at: alarm.at, reason: alarm.reason, eventId: alarm.eventId },
  };
  const cooldownMinutes = deps.settings.cooldownSeconds / 60;
  const skip = (
    target: RollbackTargetRef,
    reason: RollbackGuard,
    detail: string,
    quiet = false,
  ): PreparedRun => ({
    ...base,
    decision: 'skip',
    quiet,
    reason,
    reasonText: reasonText(reason, { cooldownMinutes }),
    detail,
    target,
    ...describeWorkload(target),
  });

  if (alarm.state !== 'ALARM') {
    return skip({ alarmName: alarm.alarmName }, 'not-in-alarm', `Alarm is ${alarm.state}, not ALARM.`, true);
  }
  const resolved = await resolveTarget(alarm, deps.settings, deps.cloudwatch);
  if (resolved.kind === 'unmapped')
    return skip({ alarmName: alarm.alarmName }, resolved.reason, resolved.detail);

  const { target, source } = resolved;
  const targetRef: RollbackTargetRef = { ...target, source };
  const key = `${target.cluster}/${target.namespace}/${target.deployment}`;
  const lock = await deps.lock.acquireForRollback(lockRequest(key, execution, alarm, deps));
  if (!lock.acquired) return skip(targetRef, lock.reason, lock.detail, lock.quiet);

  try {
    const client = await deps.kubernetes.clientFor(target.cluster);
    const plan = await readRollbackPlan(client, {
      namespace: target.namespace,
      deployment: target.deployment,
      ...(target.toRevision === undefined ? {} : { toRevision: target.toRevision }),
    });
    if (plan.kind === 'guarded') {
      await deps.lock.release(key, execution.id);
      return skip(targetRef, plan.reason, plan.detail);
    }
    return {
      ...base,
      decision: 'proceed',
      quiet: false,
      target: targetRef,
      ...describeWorkload(targetRef),
      plan: {
        fromRevision: plan.fromRevision,
        toRevision: plan.toRevision,
        fromImages: plan.fromImages,
        toImages: plan.toImages,
      },
      lock: { key, eventId: alarm.eventId },
    };
  } catch (error) {
    await deps.lock.release(key, execution.id);
    throw error;
  }
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

function lockRequest(key: string, execution: Execution, alarm: AlarmEvent, deps: PrepareDeps) {
  return {
    workload: key,
    executionId: execution.id,
    eventId: alarm.eventId,
    alarmName: alarm.alarmName,
    now: deps.now(),
    lockTtlSeconds: deps.settings.lockTtlSeconds,
    cooldownSeconds: deps.settings.cooldownSeconds,
  };
}
