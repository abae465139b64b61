import { ConfigError } from './load';
import type { RunbooksConfig } from './schema';

/** Lambda environment variables are limited to 4 KB in all; the mapping must leave room for the rest. */
export const MAX_SETTINGS_JSON_BYTES = 3_500;

/**
 * What the rollback runbook is deployed with, derived from the configuration in one place so the CDK
 * construct and the offline rehearsal cannot drift apart.
 */
export function rollbackRuntime(config: RunbooksConfig) {
  const settings = config.rollback;
  const rolloutMaxPolls = Math.ceil((settings.rolloutTimeoutMinutes * 60) / settings.rolloutPollSeconds);
  const recoveryMaxPolls = Math.ceil((settings.recoveryWindowMinutes * 60) / settings.recoveryPollSeconds);
  // Room for the rollout, the recovery window, and ten minutes of notifications and retries.
  const stateMachineTimeoutSeconds =
    (settings.rolloutTimeoutMinutes + settings.recoveryWindowMinutes + 10) * 60;
  const targetsJson = JSON.stringify(settings.targets);
  const prefixesJson = JSON.stringify(settings.tagDiscoveryAlarmPrefixes);
  const clustersJson = JSON.stringify(config.eksClusters);
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
      EnvironmentName: config.environment,
      RolloutPollSeconds: String(settings.rolloutPollSeconds),
      RolloutMaxPolls: String(rolloutMaxPolls),
      RecoveryPollSeconds: String(settings.recoveryPollSeconds),
      RecoveryMaxPolls: String(recoveryMaxPolls),
      RecoveryWindowMinutes: String(settings.recoveryWindowMinutes),
      CooldownMinutes: String(settings.cooldownMinutes),
    },
    /** The prepare function's environment, less LOCK_TABLE_NAME (a resource attribute). */
    prepareEnvironment: {
      ENVIRONMENT_NAME: config.environment,
      ROLLBACK_TARGETS: targetsJson,
      TAG_DISCOVERY_PREFIXES: prefixesJson,
      EKS_CLUSTERS: clustersJson,
      COOLDOWN_SECONDS: String(settings.cooldownMinutes * 60),
      // The lock outlives a crashed execution by no more than the execution could have run.
      LOCK_TTL_SECONDS: String(stateMachineTimeoutSeconds),
    },
  };
}
