import * as z from 'zod/mini';
import { ConfigError } from './errors';
import { alarmName, boundedInt, clusterName, dnsLabel, dnsSubdomain } from './fields';
import type { EksCluster } from './shared';

// The rollback runbook's section of the configuration (`rollback:`), its checks against the shared
// sections, and what the runbook is deployed with, derived from it.

/** `act` rolls back; `shadow` runs every guard and plans the exact patch, then reports what it would do. */
export const rollbackMode = z.enum(['act', 'shadow']);
export type RollbackMode = z.output<typeof rollbackMode>;

const cooldownMinutes = boundedInt(0, 1440);
const recoveryWindowMinutes = boundedInt(1, 240);

/** One alarm mapped to the workload it rolls back. */
export const rollbackTargetSchema = z.strictObject({
  alarmName,
  cluster: clusterName,
  namespace: dnsLabel,
  deployment: dnsSubdomain,
  /** `kubectl rollout undo --to-revision`; omitted: the previous revision. */
  toRevision: z.optional(z.int().check(z.positive())),
  /** This target's mode; omitted: the section's `mode`. */
  mode: z.optional(rollbackMode),
  /** This target's cooldown; omitted: the section's `cooldownMinutes`. */
  cooldownMinutes: z.optional(cooldownMinutes),
  /** This target's recovery window; omitted: the section's `recoveryWindowMinutes`. */
  recoveryWindowMinutes: z.optional(recoveryWindowMinutes),
});
export type RollbackTarget = z.output<typeof rollbackTargetSchema>;

export const rollbackSectionSchema = z.strictObject({
  /**
   * `act`: roll back. `shadow`: run every guard, plan the exact patch, report "would roll back" to Slack and
   * as `RollbackPlanned`, and change nothing (no PATCH, no lock, no cooldown). Per target with `mode`.
   * @default 'act'
   */
  mode: z._default(rollbackMode, 'act'),
  /** A second rollback of one Deployment within this window is refused (a guard, not an action). @default 30 */
  cooldownMinutes: z._default(cooldownMinutes, 30),
  /** Seconds between two reads of the rollout's status. @default 10 */
  rolloutPollSeconds: z._default(boundedInt(1, 300), 10),
  /** Upper bound on waiting for the rollout when the Deployment's own progress deadline does not end it. @default 15 */
  rolloutTimeoutMinutes: z._default(boundedInt(1, 120), 15),
  /** The alarm must return to OK within this window after the rollout completes, or on-call is paged. @default 10 */
  recoveryWindowMinutes: z._default(recoveryWindowMinutes, 10),
  /**
   * How far a recovery window may be extended for an alarm that evaluates longer than its window (period ×
   * evaluation periods): such an alarm could never return to OK in time. Beyond it the rollback is refused.
   * @default 60
   */
  recoveryWindowMaxMinutes: z._default(recoveryWindowMinutes, 60),
  /** Seconds between two reads of the alarm's state while waiting for recovery. @default 30 */
  recoveryPollSeconds: z._default(boundedInt(10, 600), 30),
  /** Alarms mapped here, by name. @default [] */
  targets: z._default(z.array(rollbackTargetSchema), []),
  /**
   * Alarms whose names start with one of these prefixes are also considered, and mapped by their tag
   * `runbooks:rollback-target` = `cluster/namespace/deployment`. @default []
   */
  tagDiscoveryAlarmPrefixes: z._default(z.array(z.string().check(z.minLength(1), z.maxLength(255))), []),
});

export type RollbackSection = z.output<typeof rollbackSectionSchema>;

/** Cross-section checks: every mapped alarm points into a granted cluster and namespace, once. */
export function checkRollbackSection(
  { rollback, eksClusters }: { rollback: RollbackSection; eksClusters: EksCluster[] },
  ctx: z.core.$RefinementCtx,
): void {
  const clusters = new Map(eksClusters.map((cluster) => [cluster.name, cluster]));
  const seenAlarms = new Set<string>();
  rollback.targets.forEach((target, index) => {
    const path = ['rollback', 'targets', index];
    const cluster = clusters.get(target.cluster);
    if (!cluster) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'cluster'],
        message: `cluster "${target.cluster}" is not listed in eksClusters`,
      });
    } else if (!cluster.namespaces.includes(target.namespace)) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'namespace'],
        message: `namespace "${target.namespace}" is not in eksClusters["${target.cluster}"].namespaces, so the runbook has no access to it`,
      });
    }
    if (seenAlarms.has(target.alarmName)) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'alarmName'],
        message: `alarm "${target.alarmName}" is mapped twice`,
      });
    }
    seenAlarms.add(target.alarmName);
  });
  // The execution timeout is sized for the largest window: no window may exceed it.
  const tooLong = (minutes: number | undefined) => (minutes ?? 0) > rollback.recoveryWindowMaxMinutes;
  const tooLongMessage = `is more than rollback.recoveryWindowMaxMinutes (${rollback.recoveryWindowMaxMinutes})`;
  if (tooLong(rollback.recoveryWindowMinutes)) {
    ctx.addIssue({ code: 'custom', path: ['rollback', 'recoveryWindowMinutes'], message: tooLongMessage });
  }
  rollback.targets.forEach((target, index) => {
    if (tooLong(target.recoveryWindowMinutes)) {
      ctx.addIssue({
        code: 'custom',
        path: ['rollback', 'targets', index, 'recoveryWindowMinutes'],
        message: tooLongMessage,
      });
    }
  });
  const events = historyEvents(rollback);
  if (events > HISTORY_EVENT_BUDGET) {
    ctx.addIssue({
      code: 'custom',
      path: ['rollback', 'rolloutPollSeconds'],
      message: `with rolloutTimeoutMinutes ${rollback.rolloutTimeoutMinutes}, recoveryPollSeconds ${rollback.recoveryPollSeconds} and recoveryWindowMaxMinutes ${rollback.recoveryWindowMaxMinutes}, one run could write ${events} execution history events, more than the ${HISTORY_EVENT_BUDGET} this runbook allows itself (Step Functions fails an execution at ${STEP_FUNCTIONS_HISTORY_QUOTA}, after the PATCH, without paging): poll less often or wait less long`,
    });
  }
  if (rollback.targets.length === 0 && rollback.tagDiscoveryAlarmPrefixes.length === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['rollback'],
      message:
        'targets and tagDiscoveryAlarmPrefixes are both empty, so no alarm could ever start the rollback runbook; map an alarm or give a prefix',
    });
  }
}

/** Step Functions' quota of events in one Standard execution's history. */
export const STEP_FUNCTIONS_HISTORY_QUOTA = 25_000;
/**
 * What a run may plan to write: the quota less a fifth, for the retries a slow or failing peer adds to the
 * loops (three events per retried Lambda attempt).
 */
export const HISTORY_EVENT_BUDGET = 20_000;
/**
 * History events of one poll of each wait loop of `state-machines/rollback.asl.json` (Wait 2, Lambda Task 5,
 * Choice 2) and an upper bound for all the states outside the loops, counted from the ASL's own shape by
 * test/conventions/history-quota.test.ts.
 */
export const ROLLOUT_POLL_EVENTS = 9;
export const RECOVERY_POLL_EVENTS = 9;
export const EVENTS_OUTSIDE_LOOPS = 400;

/**
 * The most events one run can write: every poll of both loops (bounded by the clock, so their count is the
 * wait over the poll interval, plus the one that sees the deadline), and everything else.
 */
export function historyEvents(
  rollback: Pick<
    RollbackSection,
    'rolloutTimeoutMinutes' | 'rolloutPollSeconds' | 'recoveryWindowMaxMinutes' | 'recoveryPollSeconds'
  >,
): number {
  const rolloutPolls = Math.ceil((rollback.rolloutTimeoutMinutes * 60) / rollback.rolloutPollSeconds) + 1;
  const recoveryPolls =
    Math.ceil((rollback.recoveryWindowMaxMinutes * 60) / rollback.recoveryPollSeconds) + 1;
  return rolloutPolls * ROLLOUT_POLL_EVENTS + recoveryPolls * RECOVERY_POLL_EVENTS + EVENTS_OUTSIDE_LOOPS;
}

/**
 * How far past its deadline one wait loop can run: one more poll interval, and one status check with its
 * retries (the Task's 60 s timeout, 3 Lambda and 3 peer retries with their backoff, rounded up).
 */
const LOOP_OVERRUN_SECONDS = 8 * 60;
/** The states outside the loops: Prepare and Undo with retries, notifications (a Slack retry a minute later), events. */
const OUTSIDE_LOOPS_SECONDS = 15 * 60;

export interface RollbackRuntimeInput {
  environment: string;
  settings: RollbackSection;
  /** Where the prepare function may act. */
  clusters: EksCluster[];
}

/** Lambda environment variables are limited to 4 KB in all; the mapping must leave room for the rest. */
export const MAX_SETTINGS_JSON_BYTES = 3_500;

/**
 * What the rollback runbook is deployed with, derived from the configuration in one place so the CDK
 * construct and the offline rehearsal cannot drift apart.
 */
export function rollbackRuntime({ environment, settings, clusters }: RollbackRuntimeInput) {
  // The execution timeout is a last resort, kept above the longest run the clock-bounded loops allow, so a
  // run always reaches its page, its Slack summary and its lock release first.
  const stateMachineTimeoutSeconds =
    settings.rolloutTimeoutMinutes * 60 +
    settings.recoveryWindowMaxMinutes * 60 +
    2 * LOOP_OVERRUN_SECONDS +
    OUTSIDE_LOOPS_SECONDS;
  const targetsJson = JSON.stringify(settings.targets);
  const prefixesJson = JSON.stringify(settings.tagDiscoveryAlarmPrefixes);
  const clustersJson = JSON.stringify(clusters);
  const bytes = (json: string): number => Buffer.byteLength(json, 'utf8');
  const settingsBytes = bytes(targetsJson) + bytes(prefixesJson) + bytes(clustersJson);
  if (settingsBytes > MAX_SETTINGS_JSON_BYTES) {
    throw new ConfigError(
      `Invalid configuration: rollback.targets (${bytes(targetsJson)} bytes as JSON), rollback.tagDiscoveryAlarmPrefixes (${bytes(prefixesJson)}) and eksClusters (${bytes(clustersJson)}) take ${settingsBytes} bytes in the prepare Lambda's environment, more than the ${MAX_SETTINGS_JSON_BYTES} that fit (Lambda allows 4 KB for all variables). Map alarms by tag instead of listing them in rollback.targets: give their name prefix in rollback.tagDiscoveryAlarmPrefixes and tag each alarm runbooks:rollback-target = cluster/namespace/deployment.`,
    );
  }
  return {
    stateMachineTimeoutSeconds,
    /** `definitionSubstitutions` of rollback.asl.json other than resource names and ARNs. */
    substitutions: {
      RolloutPollSeconds: String(settings.rolloutPollSeconds),
      RolloutTimeoutSeconds: String(settings.rolloutTimeoutMinutes * 60),
      RecoveryPollSeconds: String(settings.recoveryPollSeconds),
    },
    /** The prepare function's environment, less LOCK_TABLE_NAME (a resource attribute). */
    prepareEnvironment: {
      ENVIRONMENT_NAME: environment,
      ROLLBACK_TARGETS: targetsJson,
      TAG_DISCOVERY_PREFIXES: prefixesJson,
      EKS_CLUSTERS: clustersJson,
      COOLDOWN_SECONDS: String(settings.cooldownMinutes * 60),
      MODE: settings.mode,
      RECOVERY_WINDOW_SECONDS: String(settings.recoveryWindowMinutes * 60),
      RECOVERY_WINDOW_MAX_SECONDS: String(settings.recoveryWindowMaxMinutes * 60),
      // The lock outlives a crashed execution by no more than the execution could have run.
      LOCK_TTL_SECONDS: String(stateMachineTimeoutSeconds),
    },
  };
}
