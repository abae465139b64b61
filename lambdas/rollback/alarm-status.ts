import { DescribeAlarmsCommand, type CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import * as z from 'zod/mini';
import { parseOrThrow } from '../shared/errors';

/** CloudWatch did not answer (throttled, 5xx): the state machine retries, then escalates. */
export class CloudWatchUnavailable extends Error {
  override name = 'CloudWatchUnavailable';
}

const alarmStatusInputSchema = z.object({ alarmName: z.string().check(z.minLength(1), z.maxLength(255)) });

const describedAlarm = z.object({
  AlarmName: z.string(),
  StateValue: z.enum(['OK', 'ALARM', 'INSUFFICIENT_DATA']),
  StateUpdatedTimestamp: z.optional(
    z.union([
      z.date(),
      z.pipe(
        z.string(),
        z.transform((value: string) => new Date(value)),
      ),
    ]),
  ),
  StateReason: z.optional(z.string()),
});
const describeAlarmsAnswer = z.object({
  MetricAlarms: z._default(z.array(describedAlarm), []),
  CompositeAlarms: z._default(z.array(describedAlarm), []),
});

export interface AlarmStatus {
  /** MISSING: the alarm was deleted meanwhile, so recovery can never be observed. */
  state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA' | 'MISSING';
  updatedAt: string;
  checkedAt: string;
  detail: string;
}

/**
 * Reads the alarm's state for the recovery check. INSUFFICIENT_DATA is not recovery: a workload that stopped
 * emitting metrics is not known to be healthy (reference.md: treat missing data as breaching).
 */
export async function readAlarmStatus(
  input: unknown,
  deps: { cloudwatch: CloudWatchClient; now: () => Date },
): Promise<AlarmStatus> {
  const { alarmName } = parseOrThrow(alarmStatusInputSchema, input, 'The alarm-status input');
  let raw: unknown;
  try {
    raw = await deps.cloudwatch.send(
      new DescribeAlarmsCommand({ AlarmNames: [alarmName], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] }),
    );
  } catch (error) {
    const name = (error as Error).name;
    if (
      name === 'Throttling' ||
      name === 'ThrottlingException' ||
      (error as { $fault?: string }).$fault === 'server'
    ) {
      throw new CloudWatchUnavailable(`DescribeAlarms failed: ${name}`);
    }
    throw error;
  }
  const answer = parseOrThrow(describeAlarmsAnswer, raw, 'The DescribeAlarms answer');
  const checkedAt = deps.now().toISOString();
  const alarm = [...answer.MetricAlarms, ...answer.CompositeAlarms].find(
    (found) => found.AlarmName === alarmName,
  );
  if (!alarm) {
    return {
      state: 'MISSING',
      updatedAt: checkedAt,
      checkedAt,
      detail: `Alarm "${alarmName}" no longer exists.`,
    };
  }
  return {
    state: alarm.StateValue,
    updatedAt: (alarm.StateUpdatedTimestamp ?? deps.now()).toISOString(),
    checkedAt,
    detail: `Alarm "${alarmName}" is ${alarm.StateValue}${alarm.StateReason ? `: ${alarm.StateReason}` : ''}.`,
  };
}
