import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import * as z from 'zod/mini';
import { rollbackTargetSchema, type RollbackTarget } from '../../lib/config/rollback';
import { resourceTags } from '../aws/cloudwatch';
import type { AlarmEvent } from './alarm-event';

/** The alarm tag that maps an alarm to the workload it rolls back: `cluster/namespace/deployment`. */
export const TARGET_TAG = 'runbooks:rollback-target';

export interface TargetSettings {
  targets: RollbackTarget[];
  tagDiscoveryPrefixes: string[];
  /** Namespaces the runbook has access to, per cluster (the EKS access entries). */
  clusters: Array<{ name: string; namespaces: string[] }>;
}

export type ResolvedTarget =
  | { kind: 'mapped'; target: RollbackTarget; source: 'config' | 'tag' }
  | {
      kind: 'unmapped';
      reason: 'unmapped-alarm' | 'invalid-target-tag' | 'target-not-permitted';
      detail: string;
    };

/** Finds the workload an alarm rolls back: the config mapping first, then the alarm's tag. */
export async function resolveTarget(
  alarm: AlarmEvent,
  settings: TargetSettings,
  cloudwatch: CloudWatchClient,
): Promise<ResolvedTarget> {
  const configured = settings.targets.find((target) => target.alarmName === alarm.alarmName);
  if (configured) return permitted({ kind: 'mapped', target: configured, source: 'config' }, settings);

  if (!settings.tagDiscoveryPrefixes.some((prefix) => alarm.alarmName.startsWith(prefix))) {
    return {
      kind: 'unmapped',
      reason: 'unmapped-alarm',
      detail: `Alarm "${alarm.alarmName}" is not mapped to a workload in the configuration.`,
    };
  }
  const value = (await resourceTags(cloudwatch, alarm.alarmArn)).get(TARGET_TAG);
  if (value === undefined) {
    return {
      kind: 'unmapped',
      reason: 'unmapped-alarm',
      detail: `Alarm "${alarm.alarmName}" has no "${TARGET_TAG}" tag.`,
    };
  }
  const [cluster, namespace, deployment, ...rest] = value.split('/');
  const parsed = z.safeParse(rollbackTargetSchema, {
    alarmName: alarm.alarmName,
    cluster,
    namespace,
    deployment,
  });
  if (rest.length > 0 || !parsed.success) {
    return {
      kind: 'unmapped',
      reason: 'invalid-target-tag',
      detail: `Alarm "${alarm.alarmName}" has tag ${TARGET_TAG}="${value}", which is not "cluster/namespace/deployment".`,
    };
  }
  return permitted({ kind: 'mapped', target: parsed.data, source: 'tag' }, settings);
}

/** A tag can name any namespace; the runbook acts only where the configuration granted access. */
function permitted(
  resolved: Extract<ResolvedTarget, { kind: 'mapped' }>,
  settings: TargetSettings,
): ResolvedTarget {
  const { cluster, namespace } = resolved.target;
  const access = settings.clusters.find((candidate) => candidate.name === cluster);
  if (access?.namespaces.includes(namespace)) return resolved;
  return {
    kind: 'unmapped',
    reason: 'target-not-permitted',
    detail: `Namespace ${namespace} on cluster ${cluster} is not one the runbook was granted access to (eksClusters in the configuration).`,
  };
}
