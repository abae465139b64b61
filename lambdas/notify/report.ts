import * as z from 'zod/mini';
import { executionSchema } from '../shared/execution';

/** The runbooks that report to Slack; each later runbook adds its value (and its title in slack-message). */
export const runbookNameSchema = z.enum(['rollback']);
export type RunbookName = z.output<typeof runbookNameSchema>;

export const outcomeSchema = z.enum(['in-progress', 'succeeded', 'skipped', 'failed', 'rejected']);
export type Outcome = z.output<typeof outcomeSchema>;

const text = z.string().check(z.minLength(1));
/** ISO 8601; CloudWatch's `+0000` offsets included. */
const timestamp = z
  .string()
  .check(z.refine((value) => !Number.isNaN(Date.parse(value)), 'must be a timestamp'));
const revision = z.int().check(z.nonnegative());

/**
 * What a state machine sends to the notifier. Objects strip unknown keys instead of refusing them, so the ASL
 * may pass a wider state (`"change.$": "$.run.plan"`) without breaking the notification.
 */
export const runbookReportSchema = z.object({
  runbook: runbookNameSchema,
  outcome: outcomeSchema,
  /** A guard code (`cooldown`, `deployment-paused`, `unmapped-alarm`, …) or an error name. */
  reason: z.optional(text),
  /** A human sentence or an error cause (a Lambda error's `Cause` is a JSON document); may be long. */
  detail: z.optional(z.string()),
  target: z.optional(
    z.object({
      alarmName: text,
      cluster: z.optional(text),
      namespace: z.optional(text),
      deployment: z.optional(text),
    }),
  ),
  change: z.optional(
    z.object({
      fromRevision: revision,
      toRevision: revision,
      fromImages: z.array(z.string()),
      toImages: z.array(z.string()),
    }),
  ),
  timeline: z.optional(
    z.object({
      alarmAt: z.optional(timestamp),
      patchedAt: z.optional(timestamp),
      rolloutCompletedAt: z.optional(timestamp),
      recoveredAt: z.optional(timestamp),
    }),
  ),
  settings: z.optional(
    z.object({
      /** The alarm must return to OK within this window after the rollout completes. */
      recoveryWindowMinutes: z.optional(z.number().check(z.positive())),
      /** Lets the `cooldown` guard say how recent the previous rollback was. */
      cooldownMinutes: z.optional(z.number().check(z.nonnegative())),
    }),
  ),
  paged: z.optional(z.boolean()),
  execution: executionSchema,
});
export type RunbookReport = z.output<typeof runbookReportSchema>;
