import * as z from 'zod/mini';
import { parseOrThrow, RunbookError } from '../shared/errors';

// What started a certificate check: the schedule (or a person, with the same input) checks everything; an
// ACM event checks the one certificate it names. Anything else is refused before a single API call.

/** The input is neither a scheduled start nor an ACM event this runbook handles: nothing is checked. */
export class InvalidCertificateEvent extends RunbookError {
  override name = 'InvalidCertificateEvent';
}

export const ACM_EVENT_TYPES = [
  'ACM Certificate Approaching Expiration',
  'ACM Certificate Expired',
  'ACM Certificate Renewal Action Required',
] as const;
export type AcmEventType = (typeof ACM_EVENT_TYPES)[number];

export type CheckTrigger =
  | { kind: 'schedule' }
  | {
      kind: 'acm-event';
      detailType: AcmEventType;
      certificateArn: string;
      region: string;
      eventId: string;
      /** As ACM counted it when it sent the event. */
      daysToExpiry?: number;
    };

/** What the schedule sends (`{"trigger":"schedule"}`), or `{}` from a person starting a check by hand. */
const scheduledStart = z.strictObject({ trigger: z.optional(z.literal('schedule')) });

const acmArn = /^arn:aws[a-z-]*:acm:([a-z0-9-]+):(\d{12}):certificate\/[0-9A-Za-z-]{1,128}$/;

const acmEventSchema = z.object({
  id: z.string().check(z.minLength(1)),
  'detail-type': z.enum(ACM_EVENT_TYPES, {
    error: `must be one of ${ACM_EVENT_TYPES.map((type) => `"${type}"`).join(', ')}`,
  }),
  source: z.literal('aws.acm'),
  account: z.string().check(z.regex(/^\d{12}$/, 'must be a 12-digit account id')),
  region: z.string().check(z.minLength(1)),
  time: z.string().check(z.refine((value) => !Number.isNaN(Date.parse(value)), 'must be a timestamp')),
  resources: z
    .array(z.string().check(z.regex(acmArn, 'must be an ACM certificate ARN')))
    .check(z.length(1, 'must name exactly one certificate ARN')),
  detail: z.object({ DaysToExpiry: z.optional(z.number()) }),
});

export interface TriggerContext {
  /** This stack's account: an event of another account is refused. */
  account: string;
  /** The regions the check reads (the stack's, us-east-1 and the configured ones). */
  regions: readonly string[];
}

/** Reads the workflow's input; throws InvalidCertificateEvent naming what is wrong. */
export function readTrigger(input: unknown, context: TriggerContext): CheckTrigger {
  const source = (input as { source?: unknown } | null)?.source;
  if (source === undefined) {
    parseOrThrow(
      scheduledStart,
      input,
      'The start input (expected {} or {"trigger":"schedule"}, or an ACM event)',
      InvalidCertificateEvent,
    );
    return { kind: 'schedule' };
  }
  const event = parseOrThrow(acmEventSchema, input, 'The ACM event', InvalidCertificateEvent);
  const certificateArn = event.resources[0] as string;
  const [, arnRegion, arnAccount] = acmArn.exec(certificateArn) ?? [];
  if (arnRegion !== event.region || arnAccount !== event.account) {
    throw new InvalidCertificateEvent(
      `The ACM event is malformed: resources[0] (${certificateArn}) is not in the event's region ${event.region} and account ${event.account}`,
    );
  }
  if (event.account !== context.account) {
    throw new InvalidCertificateEvent(
      `The ACM event is from account ${event.account}; this check acts only on account ${context.account}`,
    );
  }
  if (!context.regions.includes(event.region)) {
    throw new InvalidCertificateEvent(
      `The ACM event is from region ${event.region}, which the check does not read (${context.regions.join(', ')}): add it to certificates.regions`,
    );
  }
  return {
    kind: 'acm-event',
    detailType: event['detail-type'],
    certificateArn,
    region: event.region,
    eventId: event.id,
    ...(event.detail.DaysToExpiry !== undefined && { daysToExpiry: event.detail.DaysToExpiry }),
  };
}

/** The regions a check reads: its own, CloudFront's us-east-1, and the configured ones, once each. */
export function checkedRegions(ownRegion: string, configured: readonly string[]): string[] {
  return [...new Set([ownRegion, 'us-east-1', ...configured])];
}

/** `REGIONS` as the construct sets it: a JSON array of region names. */
export const regionsSetting = z.array(
  z.string().check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be a region')),
);
