import type { Outcome, ReportChange, ReportFact, ReportFigure, ReportSection, RunbookReport } from './report';

/** The Block Kit subset the notifier sends. */
export interface PlainText {
  type: 'plain_text';
  text: string;
  emoji: boolean;
}
export interface MrkdwnText {
  type: 'mrkdwn';
  text: string;
}
export interface HeaderBlock {
  type: 'header';
  text: PlainText;
}
export interface SectionBlock {
  type: 'section';
  text: MrkdwnText;
}
export interface ContextBlock {
  type: 'context';
  elements: MrkdwnText[];
}
/** A button of an actions block: a click reaches the Slack app's interactivity endpoint with its value. */
export interface ButtonElement {
  type: 'button';
  text: PlainText;
  action_id: string;
  /** At most 2,000 characters (Block Kit). */
  value: string;
  style?: 'primary' | 'danger';
}
export interface ActionsBlock {
  type: 'actions';
  block_id?: string;
  elements: ButtonElement[];
}
export type Block = HeaderBlock | SectionBlock | ContextBlock | ActionsBlock;

export interface SlackMessage {
  /** Shown in notifications and by clients that cannot render blocks. */
  text: string;
  blocks: Block[];
}

export interface SlackMessageOptions {
  /** Short environment name, e.g. `production`. */
  environment: string;
  dashboardUrl?: string;
}

// Slack's Block Kit limits; a message beyond them is refused whole with `invalid_blocks`.
const HEADER_MAX = 150;
const TEXT_MAX = 3_000;
// A notification preview shows a line or two; the blocks carry the rest.
const NOTIFICATION_MAX = 300;
// Enough to recognise the items of a list (images) at a glance; the execution has the full list.
const ITEMS_SHOWN = 5;
// One value or label from the report, cut before it is set in a line, so a cut never opens a code span it
// cannot close; whole lines, figures and links that do not fit a text are left out and counted instead.
const VALUE_MAX = 300;
const LABEL_MAX = 100;
// A section line carries a sentence (a finding and what to do), longer than a value; cut so that one long
// line cannot push the others out of its block.
const LINE_MAX = 500;

const OUTCOMES: Record<Outcome, { emoji: string; words: string; reasonLabel: string }> = {
  'in-progress': { emoji: '🔄', words: 'in progress', reasonLabel: 'Reason' },
  succeeded: { emoji: '✅', words: 'succeeded', reasonLabel: 'Reason' },
  attention: { emoji: '⚠️', words: 'needs attention', reasonLabel: 'Why' },
  // Shadow mode: what the runbook would have done, nothing done.
  planned: { emoji: '🔍', words: 'planned (shadow mode, nothing changed)', reasonLabel: 'Shadow mode' },
  skipped: { emoji: '⏭️', words: 'skipped', reasonLabel: 'Skipped because' },
  failed: { emoji: '🚨', words: 'failed', reasonLabel: 'Error' },
  rejected: { emoji: '⛔', words: 'rejected', reasonLabel: 'Rejected because' },
};

/**
 * Builds the Block Kit message an on-call engineer reads: headline, figures against their targets, the facts
 * and what changed, why, the runbook's sections, links. It knows no runbook: everything but the outcome's words
 * comes from the report. Every string from the report is escaped for mrkdwn and every text is cut to Slack's
 * limits. The message has at most fourteen blocks (eight, plus one per section, six at most), well under
 * Slack's 50, however long the report's arrays.
 */
export function buildSlackMessage(report: RunbookReport, options: SlackMessageOptions): SlackMessage {
  const outcome = OUTCOMES[report.outcome];
  const headline = [`${outcome.emoji} ${report.title} ${outcome.words}`, options.environment, report.subject]
    .filter((part) => part !== undefined)
    .join(' · ');
  const reason = reasonInWords(report);

  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(headline, HEADER_MAX), emoji: true } },
  ];
  const figures = (report.figures ?? [])
    .map((figure) => figureText(figure, report.outcome))
    .filter((figure) => figure !== undefined);
  if (figures.length > 0) blocks.push(section(`⏱ ${joinWithin(figures, ' · ', TEXT_MAX - 2)}`));
  const facts = (report.facts ?? []).map(factLine);
  if (facts.length > 0) blocks.push(section(joinWithin(facts, '\n', TEXT_MAX)));
  const changes = (report.changes ?? []).map(changeLine);
  if (changes.length > 0) blocks.push(section(joinWithin(changes, '\n', TEXT_MAX)));
  const why: string[] = [];
  if (reason !== undefined) why.push(`*${outcome.reasonLabel}:* ${reason}`);
  if (report.paged) why.push('📟 *On-call paged*');
  if (why.length > 0) blocks.push(section(why.join('\n')));
  if (report.detail !== undefined && report.detail.trim() !== '') {
    const label = report.outcome === 'failed' || report.outcome === 'rejected' ? 'Cause' : 'Detail';
    blocks.push(section(`*${label}:* ${escapeMrkdwn(readableDetail(report.detail))}`));
  }
  // After the why: the headline sentence first, then the lists it sums up.
  for (const list of report.sections ?? []) blocks.push(section(sectionText(list)));
  const links = [
    executionConsoleUrl(report.execution.id),
    ...(report.links ?? []).map((extra) => link(extra.url, extra.label)),
    options.dashboardUrl === undefined ? undefined : link(options.dashboardUrl, 'Dashboard'),
  ].filter((part) => part !== undefined);
  if (links.length > 0) blocks.push(section(`🔗 ${joinWithin(links, ' · ', TEXT_MAX - 3)}`));
  blocks.push({ type: 'context', elements: [mrkdwn(footer(report, options.environment))] });

  const summary = reason === undefined ? escapeMrkdwn(headline) : `${escapeMrkdwn(headline)} — ${reason}`;
  return { text: truncate(summary, NOTIFICATION_MAX), blocks };
}

/** `&`, `<` and `>` are mrkdwn control characters: unescaped, `<!channel>` in a name would ping everyone. */
function escapeMrkdwn(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function code(text: string): string {
  // A backtick inside would end the code span early.
  return `\`${truncate(escapeMrkdwn(text).replaceAll('`', "'"), VALUE_MAX)}\``;
}

function plain(text: string, max = VALUE_MAX): string {
  return truncate(escapeMrkdwn(text), max);
}

function link(url: string, label: string): string {
  // `|` and `>` delimit the link itself.
  const safeUrl = url
    .replaceAll('&', '&amp;')
    .replaceAll('|', '%7C')
    .replaceAll('<', '%3C')
    .replaceAll('>', '%3E');
  return `<${safeUrl}|${plain(label, LABEL_MAX)}>`;
}

/** Cuts to `max` UTF-16 units with "…", without splitting a surrogate pair or an escaped `&amp;`. */
function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text
    .slice(0, max - 1)
    .replace(/[\uD800-\uDBFF]$/, '')
    .replace(/&[a-z]{0,3}$/, '');
  return `${cut}…`;
}

function mrkdwn(text: string): MrkdwnText {
  return { type: 'mrkdwn', text: truncate(text, TEXT_MAX) };
}

function section(text: string): SectionBlock {
  return { type: 'section', text: mrkdwn(text) };
}

/** Joins whole items within `max` characters; those that do not fit are counted ("…and 3 more"), not cut. */
function joinWithin(items: string[], separator: string, max: number): string {
  const note = (omitted: number) => (omitted > 0 ? `${separator}…and ${omitted} more` : '');
  const kept: string[] = [];
  for (const item of items) {
    const length = [...kept, item].join(separator).length + note(items.length - kept.length - 1).length;
    if (length > max) break;
    kept.push(item);
  }
  const omitted = items.length - kept.length;
  if (kept.length === 0) return truncate(items[0] ?? '', max - note(omitted - 1).length) + note(omitted - 1);
  return kept.join(separator) + note(omitted);
}

/** `*title*`, then a bullet per line; the lines beyond the block's limit are counted. */
function sectionText({ title, lines }: ReportSection): string {
  const heading = `*${plain(title, LABEL_MAX)}*`;
  if (lines.length === 0) return heading;
  const bullets = lines.map((line) => `• ${plain(line, LINE_MAX)}`);
  return `${heading}\n${joinWithin(bullets, '\n', TEXT_MAX - heading.length - 1)}`;
}

/** The runbook's own sentence when it wrote one, else the code, as code. */
function reasonInWords(report: RunbookReport): string | undefined {
  if (report.reasonText !== undefined) return plain(report.reasonText, TEXT_MAX);
  return report.reason === undefined ? undefined : code(report.reason);
}

function value(item: string | number, asCode: boolean | undefined): string {
  return asCode ? code(String(item)) : plain(String(item));
}

function label(text: string): string {
  return `*${plain(text, LABEL_MAX)}:*`;
}

function factLine(fact: ReportFact): string {
  return `${label(fact.label)} ${value(fact.value, fact.code)}`;
}

function changeLine(change: ReportChange): string {
  const heading = label(change.label);
  if (!Array.isArray(change.from) && !Array.isArray(change.to)) {
    return `${heading} ${value(change.from, change.code)} → ${value(change.to, change.code)}`;
  }
  return `${heading} ${listChange(asList(change.from), asList(change.to), change.code)}`;
}

function asList(side: ReportChange['from']): string[] {
  return Array.isArray(side) ? side : [String(side)];
}

/** Lists only the items that differ: sidecars that stay the same would hide the one that matters. */
function listChange(from: string[], to: string[], asCode: boolean | undefined): string {
  const removed = from.filter((item) => !to.includes(item));
  const added = to.filter((item) => !from.includes(item));
  const unchanged = from.length - removed.length;
  const unchangedNote = unchanged > 0 ? ` (${unchanged} unchanged)` : '';
  if (removed.length === 0 && added.length === 0) return `unchanged${unchangedNote}`;
  return `${itemList(removed, asCode)} → ${itemList(added, asCode)}${unchangedNote}`;
}

function itemList(items: string[], asCode: boolean | undefined): string {
  if (items.length === 0) return '(none)';
  const shown = items
    .slice(0, ITEMS_SHOWN)
    .map((item) => value(item, asCode))
    .join(', ');
  const more = items.length - ITEMS_SHOWN;
  return more > 0 ? `${shown} and ${more} more` : shown;
}

/**
 * A Lambda error's `Cause` is `{"errorType","errorMessage","trace"}`, possibly followed by text the state
 * machine added (`States.Format('{} (during {})', …)`): the message and that text are what a person needs.
 */
function readableDetail(detail: string): string {
  const start = detail.length - detail.trimStart().length;
  const end = endOfJsonObject(detail, start);
  if (end === undefined) return detail;
  try {
    const parsed: unknown = JSON.parse(detail.slice(start, end));
    if (typeof parsed === 'object' && parsed !== null && 'errorMessage' in parsed) {
      if (typeof parsed.errorMessage === 'string') return parsed.errorMessage + detail.slice(end);
    }
  } catch {
    // Braces that balance but are not JSON: show the text as it is.
  }
  return detail;
}

/** Index just past the `{…}` that opens at `start`, skipping braces inside JSON strings. */
function endOfJsonObject(text: string, start: number): number | undefined {
  if (text[start] !== '{') return undefined;
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === '\\') i++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === '{') depth++;
    else if (char === '}' && --depth === 0) return i + 1;
  }
  return undefined;
}

/**
 * `label *duration*`, against the target when there is one; a figure still open is waiting while the run is
 * in progress and missed once it is over. Out-of-order timestamps (clocks that disagree) show nothing.
 */
function figureText(figure: ReportFigure, outcome: Outcome): string | undefined {
  const label = plain(figure.label, LABEL_MAX);
  const target = figure.withinMinutes === undefined ? undefined : `${figure.withinMinutes} min`;
  if (figure.to === undefined) {
    if (outcome === 'in-progress')
      return target === undefined ? `${label}: waiting` : `${label}: waiting (target ${target})`;
    return target === undefined ? undefined : `${label}: not within ${target} ❌`;
  }
  const ms = elapsed(figure.from, figure.to);
  if (ms === undefined) return undefined;
  if (figure.withinMinutes === undefined) return `${label} *${duration(ms)}*`;
  const met = ms <= figure.withinMinutes * 60_000 ? '✅' : '❌';
  return `${label} *${duration(ms)}* (target ${target}) ${met}`;
}

/** Milliseconds from `start` to `end`, or nothing when the clocks disagree. */
function elapsed(start: string, end: string): number | undefined {
  const ms = Date.parse(end) - Date.parse(start);
  return ms >= 0 ? ms : undefined;
}

function duration(ms: number): string {
  const totalSeconds = Math.round(ms / 1000);
  if (totalSeconds < 60) return `${totalSeconds} s`;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours > 0) return minutes > 0 ? `${hours} h ${minutes} min` : `${hours} h`;
  return seconds > 0 ? `${minutes} min ${seconds} s` : `${minutes} min`;
}

interface ExecutionArn {
  partition: string;
  region: string;
  account: string;
}

/** `arn:<partition>:states:<region>:<account>:execution:<stateMachine>:<name>` */
function parseExecutionArn(arn: string): ExecutionArn | undefined {
  const [prefix, partition, service, region, account] = arn.split(':');
  if (prefix !== 'arn' || service !== 'states' || !partition || !region || !account) return undefined;
  return { partition, region, account };
}

function executionConsoleUrl(executionArn: string): string | undefined {
  const arn = parseExecutionArn(executionArn);
  // Other partitions have their own console domains; their messages still name the execution in the footer.
  if (arn?.partition !== 'aws' || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(arn.region)) return undefined;
  const url = `https://${arn.region}.console.aws.amazon.com/states/home?region=${arn.region}#/v2/executions/details/${executionArn}`;
  return link(url, 'Execution in Step Functions');
}

function footer(report: RunbookReport, environment: string): string {
  const arn = parseExecutionArn(report.execution.id);
  const started = Date.parse(report.execution.startTime);
  // Slack renders the date in the reader's time zone; the ISO text is the fallback.
  const startedText = Number.isNaN(started)
    ? escapeMrkdwn(report.execution.startTime)
    : `<!date^${Math.floor(started / 1000)}^{date_short_pretty} {time_secs}|${new Date(started).toISOString()}>`;
  return [
    escapeMrkdwn(environment),
    arn === undefined ? undefined : `account ${escapeMrkdwn(arn.account)}`,
    arn === undefined ? undefined : escapeMrkdwn(arn.region),
    `execution ${code(report.execution.name)}`,
    `started ${startedText}`,
  ]
    .filter((part) => part !== undefined)
    .join(' · ');
}
