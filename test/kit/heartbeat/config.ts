import * as z from 'zod/mini';
import { boundedInt } from '../../../lib/config/fields';
import { checkSharedSections, sharedConfigSchema } from '../../../lib/config/shared';

/** The heartbeat's configuration section (`heartbeat:`). */
export const heartbeatSectionSchema = z.strictObject({
  /** An EventBridge Scheduler expression, e.g. `cron(0 3 * * ? *)`. */
  schedule: z.string().check(z.regex(/^(cron|rate)\(.+\)$/, 'must be a cron(…) or rate(…) expression')),
  /** IANA time zone of the schedule. @default 'UTC' */
  timeZone: z._default(z.string().check(z.minLength(1)), 'UTC'),
  /** Scheduler may start the run anywhere in this window. @default 0 (off) */
  flexibleWindowMinutes: z._default(boundedInt(0, 1440), 0),
  /** Echoed by the check, to prove a setting reaches the handler through the ASL. */
  greeting: z._default(z.string().check(z.minLength(1), z.maxLength(100)), 'hello'),
});
export type HeartbeatSection = z.output<typeof heartbeatSectionSchema>;

/** The shared sections plus the heartbeat's: how a runbook's section joins the configuration. */
export const heartbeatConfigSchema = z
  .extend(sharedConfigSchema, { heartbeat: heartbeatSectionSchema })
  .check(z.superRefine((config, ctx) => checkSharedSections(config, ctx)));
export type HeartbeatConfig = z.output<typeof heartbeatConfigSchema>;

/** The ASL substitutions its construct and its rehearsal both derive from the section. */
export const heartbeatSubstitutions = (settings: HeartbeatSection): Record<string, string> => ({
  Greeting: settings.greeting,
});
