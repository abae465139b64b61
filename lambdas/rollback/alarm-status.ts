import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import * as z from 'zod/mini';
import { describeAlarm } from '../aws/cloudwatch';
import { hasExpired, isoTimestamp } from '../shared/deadline';
import { parseOrThrow } from '../shared/errors';

const alarmStatusInputSchema = z.object({
  alarmName: z.string().check(z.minLength(1), z.maxLength(255)),
  /** When the recovery window opened (the rollout completed) and how long it lasts. */
  since: isoTimestamp,
  windowSeconds: z.int().check(z.positive()),
});

export interface AlarmStatus {
  /** MISSING: the alarm was deleted meanwhile, so recovery can never be observed. */
  state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA' | 'MISSING';
  updatedAt: string;
  checkedAt: string;
  detail: string;
  /** The recovery window has closed: not recovered, whatever the count of polls. */
  expired: boolean;
}

/**
 * Reads the alarm's state for the recovery check. INSUFFICIENT_DATA is not recovery: a workload that stopped
 * emitting metrics is not known to be healthy (reference.md: treat missing data as breaching).
 */
export async function readAlarmStatus(
  input: unknown,
  deps: { cloudwatch: CloudWatchClient; now: () => Date },
): Promise<AlarmStatus> {
  const { alarmName, since, windowSeconds } = parseOrThrow(
    alarmStatusInputSchema,
    input,
    'The alarm-status input',
  );
  // Throttling and 5xx surface as CloudWatchUnavailable (retried by the state machine).
  const alarm = await describeAlarm(deps.cloudwatch, alarmName);
  const now = deps.now();
  const checkedAt = now.toISOString();
  const expired = hasExpired(since, windowSeconds, now);
  if (!alarm) {
    return {
      state: 'MISSING',
      updatedAt: checkedAt,
      checkedAt,
      detail: `Alarm "${alarmName}" no longer exists.`,
      expired,
    };
  }
  return {
    state: alarm.state,
    updatedAt: (alarm.updatedAt ?? deps.now()).toISOString(),
    checkedAt,
    detail: `Alarm "${alarmName}" is ${alarm.state}${alarm.reason ? `: ${alarm.reason}` : ''}.`,
    expired,
  };
}
