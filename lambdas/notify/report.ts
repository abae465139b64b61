import * as z from 'zod/mini';
import { executionSchema } from '../shared/execution';

/**
 * What any runbook sends to the notifier. The notifier knows no runbook (Flagger's `pkg/notifier` model): a
 * runbook names itself, says what it acted on, and passes its facts, changes and figures as labelled fields;
 * its own wording (a guard's sentence) arrives ready-made in `reasonText`.
 *
 * Strings are not capped here (a long cause or name is cut when the message is built, as Slack requires);
 * arrays are, so a message stays one an on-call engineer can read at a glance and within Block Kit's limits.
 */

export const MAX_FACTS = 10;
export const MAX_CHANGES = 10;
export const MAX_FIGURES = 10;
export const MAX_LINKS = 5;
/** Titled lists (findings grouped by severity, sources that failed): each is one section block of the message. */
export const MAX_SECTIONS = 6;
export const MAX_SECTION_LINES = 20;
/** A presigned S3 URL signed with a session token runs to about 1,500 characters. */
export const MAX_URL = 2_000;
/** Items of one list value (images, hosts…): only the differing ones are shown, a few at most. */
export const MAX_LIST_ITEMS = 1_000;

export const outcomeSchema = z.enum([
  'in-progress',
  'succeeded',
  // The run did its job and found something a person must act on (expired certificates, say).
  'attention',
  'planned',
  'skipped',
  'failed',
  'rejected',
]);
export type Outcome = z.output<typeof outcomeSchema>;

const text = z.string().check(z.minLength(1));
/** ISO 8601; CloudWatch's `+0000` offsets included. */
const timestamp = z
  .string()
  .check(z.refine((value) => !Number.isNaN(Date.parse(value)), 'must be a timestamp'));
/** JSONPath hands over numbers as numbers (a revision, a weight); both are shown as written. */
const scalar = z.union([z.string(), z.number()], { error: 'must be a string or a number' });
const list = z
  .array(z.string())
  .check(z.maxLength(MAX_LIST_ITEMS, `must list at most ${MAX_LIST_ITEMS} items`));
const changeValue = z.union([z.string(), z.number(), list], {
  error: 'must be a string, a number or a list of strings',
});
const capped = <T extends z.ZodMiniType>(item: T, max: number, what: string) =>
  z
    .array(item)
    .check(
      z.maxLength(
        max,
        `must have at most ${max} ${what}: a message is read at a glance; put the rest in detail or behind a link`,
      ),
    );

/** One labelled value, e.g. `Cluster: prod-eks`; `code` shows the value as an identifier. */
export const factSchema = z.object({ label: text, value: scalar, code: z.optional(z.boolean()) });
export type ReportFact = z.output<typeof factSchema>;

/**
 * What changed from → to, e.g. `Revision: 3 → 2`. For lists (images), only the items that differ are shown,
 * with a count of those unchanged.
 */
export const changeSchema = z.object({
  label: text,
  from: changeValue,
  to: changeValue,
  code: z.optional(z.boolean()),
});
export type ReportChange = z.output<typeof changeSchema>;

/**
 * A duration the notifier computes, `from` → `to`, marked ✅/❌ against `withinMinutes` when given. Without
 * `to` the figure is still running: waiting while the run is in progress, missed (with a target) otherwise.
 */
export const figureSchema = z.object({
  label: text,
  from: timestamp,
  to: z.optional(timestamp),
  withinMinutes: z.optional(z.number().check(z.positive())),
});
export type ReportFigure = z.output<typeof figureSchema>;

/**
 * A titled list, e.g. `Expired (2)` and a line per certificate: a runbook's findings, grouped as it sees fit.
 * Shown as bullets in the order given; the lines that do not fit Slack's limit are counted, not cut.
 */
export const sectionSchema = z.object({
  title: text,
  lines: capped(text, MAX_SECTION_LINES, 'lines'),
});
export type ReportSection = z.output<typeof sectionSchema>;

export const linkSchema = z.object({
  // Not a `<!channel>` or `mailto:` in disguise; long enough for a presigned link, short enough to fit.
  url: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .check(z.maxLength(MAX_URL, `must be at most ${MAX_URL} characters`)),
  label: text,
});
export type ReportLink = z.output<typeof linkSchema>;

/**
 * Objects strip unknown keys instead of refusing them, so a state machine may pass a wider state without
 * breaking the notification.
 */
export const runbookReportSchema = z.object({
  /** The runbook's slug, e.g. `rollback`, `certificates`: any, the notifier has no list. */
  runbook: z
    .string()
    .check(z.regex(/^[a-z][a-z0-9-]*$/, 'must be a slug: lowercase letters, digits and hyphens')),
  /** The runbook as people call it, e.g. `Rollback`, `Certificate check`: heads the message. */
  title: text,
  outcome: outcomeSchema,
  /** What the run acted on, e.g. `checkout/checkout-api`; shown in the headline. */
  subject: z.optional(text),
  /** A code: a guard (`cooldown`) or an error name (`RolloutTimeout`). */
  reason: z.optional(text),
  /** The reason as a sentence, written by the runbook; shown instead of the code when present. */
  reasonText: z.optional(text),
  /** A human sentence or an error cause (a Lambda error's `Cause` is a JSON document); may be long. */
  detail: z.optional(z.string()),
  facts: z.optional(capped(factSchema, MAX_FACTS, 'facts')),
  changes: z.optional(capped(changeSchema, MAX_CHANGES, 'changes')),
  figures: z.optional(capped(figureSchema, MAX_FIGURES, 'figures')),
  sections: z.optional(capped(sectionSchema, MAX_SECTIONS, 'sections')),
  paged: z.optional(z.boolean()),
  /** Beside the execution's console link and the dashboard, which the notifier adds itself. */
  links: z.optional(capped(linkSchema, MAX_LINKS, 'links')),
  execution: executionSchema,
});
export type RunbookReport = z.output<typeof runbookReportSchema>;
