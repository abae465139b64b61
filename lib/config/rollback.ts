import * as z from 'zod/mini';
import { ConfigError } from './errors';
import { alarmName, boundedInt, clusterName, dnsLabel, dnsSubdomain } from './fields';
import type { EksCluster } from './shared';

// The rollback runbook's section of the configuration (`rollback:`), its checks against the shared
// sections, and what the runbook is deployed with, derived from it.

/** One alarm mapped to the workload it rolls back. */
export const rollbackTargetSchema = z.strictObject({
  alarmName,
  cluster: clusterName,
  namespace: dnsLabel,
  deployment: dnsSubdomain,
  /** `kubectl rollout undo --to-revision`; omitted: the previous revision. */
  toRevision: z.optional(z.int().check(z.positive())),
});
export type RollbackTarget = z.output<typeof rollbackTargetSchema>;

export const rollbackSectionSchema = z.strictObject({
  /** A second rollback of one Deployment within this window is refused (a guard, not an action). @default 30 */
  cooldownMinutes: z._default(boundedInt(0, 1440), 30),
  /** Seconds between two reads of the rollout's status. @default 10 */
  rolloutPollSeconds: z._default(boundedInt(1, 300), 10),
  /** Upper bound on waiting for the rollout when the Deployment's own progress deadline does not end it. @default 15 */
  rolloutTimeoutMinutes: z._default(boundedInt(1, 120), 15),
  /** The alarm must return to OK within this window after the rollout completes, or on-call is paged. @default 10 */
  recoveryWindowMinutes: z._default(boundedInt(1, 240), 10),
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
  if (rollback.targets.length === 0 && rollback.tagDiscoveryAlarmPrefixes.length === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['rollback'],
      message:
        'targets and tagDiscoveryAlarmPrefixes are both empty, so no alarm could ever start the rollback runbook; map an alarm or give a prefix',
    });
  }
}

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
  const rolloutMaxPolls = Math.ceil((settings.rolloutTimeoutMinutes * 60) / settings.rolloutPollSeconds);
  const recoveryMaxPolls = Math.ceil((settings.recoveryWindowMinutes * 60) / settings.recoveryPollSeconds);
  // Room for the rollout, the recovery window, and ten minutes of notifications and retries.
  const stateMachineTimeoutSeconds =
    (settings.rolloutTimeoutMinutes + settings.recoveryWindowMinutes + 10) * 60;
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
      RolloutMaxPolls: String(rolloutMaxPolls),
      RecoveryPollSeconds: String(settings.recoveryPollSeconds),
      RecoveryMaxPolls: String(recoveryMaxPolls),
      RecoveryWindowMinutes: String(settings.recoveryWindowMinutes),
      CooldownMinutes: String(settings.cooldownMinutes),
    },
    /** The prepare function's environment, less LOCK_TABLE_NAME (a resource attribute). */
    prepareEnvironment: {
      ENVIRONMENT_NAME: environment,
      ROLLBACK_TARGETS: targetsJson,
      TAG_DISCOVERY_PREFIXES: prefixesJson,
      EKS_CLUSTERS: clustersJson,
      COOLDOWN_SECONDS: String(settings.cooldownMinutes * 60),
      // The lock outlives a crashed execution by no more than the execution could have run.
      LOCK_TTL_SECONDS: String(stateMachineTimeoutSeconds),
    },
  };
}
