import * as z from 'zod/mini';
import { parseOrThrow, RunbookError } from '../shared/errors';

/** The event is not a CloudWatch alarm state change we can act on: nothing is done. */
export class InvalidAlarmEvent extends RunbookError {
  override name = 'InvalidAlarmEvent';
}

/** CloudWatch writes offsets as `+0000`; anything Date.parse cannot read is rejected. */
const timestamp = z.pipe(
  z.string().check(z.refine((value) => !Number.isNaN(Date.parse(value)), 'must be a timestamp')),
  z.transform((value: string) => new Date(Date.parse(value)).toISOString()),
);

const alarmState = z.enum(['OK', 'ALARM', 'INSUFFICIENT_DATA']);

/** `CloudWatch Alarm State Change`, as EventBridge delivers it (reference.md, "CloudWatch and EventBridge"). */
const alarmEventSchema = z.object({
  id: z.string().check(z.minLength(1)),
  'detail-type': z.literal('CloudWatch Alarm State Change'),
  source: z.literal('aws.cloudwatch'),
  account: z.string().check(z.regex(/^\d{12}$/, 'must be a 12-digit account id')),
  region: z.string().check(z.minLength(1)),
  time: timestamp,
  resources: z
    .array(
      z
        .string()
        .check(z.regex(/^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+$/, 'must be an alarm ARN')),
    )
    .check(z.minLength(1, 'must name the alarm ARN')),
  detail: z.object({
    alarmName: z.string().check(z.minLength(1), z.maxLength(255)),
    state: z.object({
      value: alarmState,
      reason: z._default(z.string(), ''),
      timestamp,
    }),
    previousState: z.optional(z.object({ value: alarmState })),
  }),
});

export interface AlarmEvent {
  eventId: string;
  alarmName: string;
  alarmArn: string;
  state: z.output<typeof alarmState>;
  reason: string;
  /** When the alarm changed state: the start of the clock for every figure the runbook reports. */
  at: string;
  account: string;
  region: string;
}

export function parseAlarmEvent(raw: unknown): AlarmEvent {
  const event = parseOrThrow(alarmEventSchema, raw, 'The alarm event', InvalidAlarmEvent);
  const alarmArn = event.resources[0] as string;
  if (!alarmArn.endsWith(`:alarm:${event.detail.alarmName}`)) {
    throw new InvalidAlarmEvent(
      `The alarm event is malformed: resources[0] (${alarmArn}) is not the ARN of alarm "${event.detail.alarmName}"`,
    );
  }
  return {
    eventId: event.id,
    alarmName: event.detail.alarmName,
    alarmArn,
    state: event.detail.state.value,
    reason: event.detail.state.reason,
    at: event.detail.state.timestamp,
    account: event.account,
    region: event.region,
  };
}
