import type { Outcome, RunbookName, RunbookReport } from './report';

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
export type Block = HeaderBlock | SectionBlock | ContextBlock;

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
// Enough to recognise the images at a glance; the execution has the full list.
const IMAGES_SHOWN = 5;

const RUNBOOK_TITLES: Record<RunbookName, string> = {
  rollback: 'Rollback',
};

const OUTCOMES: Record<Outcome, { emoji: string; words: string; reasonLabel: string }> = {
  'in-progress': { emoji: '🔄', words: 'in progress', reasonLabel: 'Reason' },
  succeeded: { emoji: '✅', words: 'succeeded', reasonLabel: 'Reason' },
  skipped: { emoji: '⏭️', words: 'skipped', reasonLabel: 'Skipped because' },
  failed: { emoji: '🚨', words: 'failed', reasonLabel: 'Error' },
  rejected: { emoji: '⛔', words: 'rejected', reasonLabel: 'Rejected because' },
};

/**
 * Builds the Block Kit message an on-call engineer reads: headline, figures against targets, what changed and
 * why, links. Every string from the report is escaped for mrkdwn and every text is cut to Slack's limits.
 * The message has at most six blocks, well under Slack's 50.
 */
export function buildSlackMessage(report: RunbookReport, options: SlackMessageOptions): SlackMessage {
  const outcome = OUTCOMES[report.outcome];
  const headline = [
    `${outcome.emoji} ${RUNBOOK_TITLES[report.runbook]} ${outcome.words}`,
    options.environment,
    workloadName(report),
  ]
    .filter((part) => part !== undefined)
    .join(' · ');
  const reasonText = report.reason === undefined ? undefined : reasonInWords(report.reason, report);

  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(headline, HEADER_MAX), emoji: true } },
  ];
  const figures = figuresAgainstTargets(report);
  if (figures.length > 0) blocks.push(section(`⏱ ${figures.join(' · ')}`));
  const context = [...whatChanged(report)];
  if (reasonText !== undefined) context.push(`*${outcome.reasonLabel}:* ${reasonText}`);
  if (report.paged) context.push('📟 *On-call paged*');
  if (context.length > 0) blocks.push(section(context.join('\n')));
  if (report.detail !== undefined && report.detail.trim() !== '') {
    const label = report.outcome === 'failed' || report.outcome === 'rejected' ? 'Cause' : 'Detail';
    blocks.push(section(`*${label}:* ${escapeMrkdwn(readableDetail(report.detail))}`));
  }
  const links = [
    executionConsoleUrl(report.execution.id),
    options.dashboardUrl === undefined ? undefined : link(options.dashboardUrl, 'Dashboard'),
  ].filter((part) => part !== undefined);
  if (links.length > 0) blocks.push(section(`🔗 ${links.join(' · ')}`));
  blocks.push({ type: 'context', elements: [mrkdwn(footer(report, options.environment))] });

  const summary =
    reasonText === undefined ? escapeMrkdwn(headline) : `${escapeMrkdwn(headline)} — ${reasonText}`;
  return { text: truncate(summary, NOTIFICATION_MAX), blocks };
}

/** `&`, `<` and `>` are mrkdwn control characters: unescaped, `<!channel>` in an alarm name would ping everyone. */
function escapeMrkdwn(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function code(text: string): string {
  // A backtick inside would end the code span early.
  return `\`${escapeMrkdwn(text).replaceAll('`', "'")}\``;
}

function link(url: string, label: string): string {
  // `|` and `>` delimit the link itself.
  const safeUrl = url
    .replaceAll('&', '&amp;')
    .replaceAll('|', '%7C')
    .replaceAll('<', '%3C')
    .replaceAll('>', '%3E');
  return `<${safeUrl}|${escapeMrkdwn(label)}>`;
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

type Target = NonNullable<RunbookReport['target']>;

/** The Deployment as `namespace/name`, or the alarm when the runbook never got as far as a Deployment. */
function workloadName(report: RunbookReport): string | undefined {
  return report.target === undefined ? undefined : (deploymentPath(report.target) ?? report.target.alarmName);
}

function deploymentPath(target: Target): string | undefined {
  if (target.deployment === undefined) return undefined;
  return target.namespace === undefined ? target.deployment : `${target.namespace}/${target.deployment}`;
}

function whatChanged(report: RunbookReport): string[] {
  const lines: string[] = [];
  const { target, change } = report;
  const deployment = target === undefined ? undefined : deploymentPath(target);
  if (deployment !== undefined) {
    const cluster = target?.cluster === undefined ? '' : ` on cluster ${code(target.cluster)}`;
    lines.push(`*Deployment:* ${code(deployment)}${cluster}`);
  }
  if (target !== undefined) lines.push(`*Alarm:* ${code(target.alarmName)}`);
  if (change !== undefined) {
    lines.push(`*Revision:* ${change.fromRevision} → ${change.toRevision}`);
    lines.push(`*Images:* ${imagesChange(change.fromImages, change.toImages)}`);
  }
  return lines;
}

/** Lists only the images that differ: sidecars that stay the same would hide the one that matters. */
function imagesChange(fromImages: string[], toImages: string[]): string {
  const removed = fromImages.filter((image) => !toImages.includes(image));
  const added = toImages.filter((image) => !fromImages.includes(image));
  const unchanged = fromImages.length - removed.length;
  const unchangedNote = unchanged > 0 ? ` (${unchanged} unchanged)` : '';
  if (removed.length === 0 && added.length === 0) return `unchanged${unchangedNote}`;
  return `${imageList(removed)} → ${imageList(added)}${unchangedNote}`;
}

function imageList(images: string[]): string {
  if (images.length === 0) return '(none)';
  const shown = images.slice(0, IMAGES_SHOWN).map(code).join(', ');
  const more = images.length - IMAGES_SHOWN;
  return more > 0 ? `${shown} and ${more} more` : shown;
}

function reasonInWords(reason: string, report: RunbookReport): string {
  switch (reason) {
    case 'cooldown': {
      const minutes = report.settings?.cooldownMinutes;
      if (minutes === undefined) return 'already rolled back within the cooldown period';
      return `rolled back less than ${minutes} minute${minutes === 1 ? '' : 's'} ago`;
    }
    case 'deployment-paused':
      return 'the Deployment is paused: someone is already working on it';
    case 'unmapped-alarm':
      return 'the alarm is not mapped to any workload';
    case 'invalid-target-tag':
      return 'the alarm\'s runbooks:rollback-target tag is not "cluster/namespace/deployment"';
    case 'target-not-permitted':
      return 'the runbook has no access to that namespace (eksClusters in the configuration)';
    case 'deployment-missing':
      return 'the Deployment does not exist';
    case 'no-previous-revision':
      return 'there is no earlier revision to roll back to';
    case 'revision-not-found':
      return 'the configured revision is no longer in the rollout history';
    case 'already-at-revision':
      return 'the Deployment already runs the revision it would roll back to';
    case 'deployment-changed':
      return 'the Deployment was deployed again while the rollback was being prepared; that deploy was left alone';
    case 'canary-in-progress':
      return 'a canary is in progress on this workload; its analysis decides';
    case 'rollback-in-progress':
      return 'another alarm already started a rollback of this workload';
    default:
      return code(reason);
  }
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

function figuresAgainstTargets(report: RunbookReport): string[] {
  const timeline = report.timeline ?? {};
  const windowMinutes = report.settings?.recoveryWindowMinutes;
  const figures: string[] = [];
  const toPatch = elapsed(timeline.alarmAt, timeline.patchedAt);
  if (toPatch !== undefined) figures.push(`alarm → patch *${duration(toPatch)}*`);
  const rollout = elapsed(timeline.patchedAt, timeline.rolloutCompletedAt);
  if (rollout !== undefined) figures.push(`rollout *${duration(rollout)}*`);
  // The recovery window starts when the rollout completes (the runbook's setting says so).
  const afterRollout = elapsed(timeline.rolloutCompletedAt, timeline.recoveredAt);
  if (afterRollout !== undefined && windowMinutes !== undefined) {
    const met = afterRollout <= windowMinutes * 60_000 ? '✅' : '❌';
    figures.push(`recovered *${duration(afterRollout)}* after rollout (window ${windowMinutes} min) ${met}`);
  } else if (afterRollout !== undefined) {
    figures.push(`recovered *${duration(afterRollout)}* after rollout`);
  } else if (windowMinutes !== undefined && timeline.rolloutCompletedAt !== undefined) {
    figures.push(
      report.outcome === 'in-progress'
        ? `waiting for recovery (window ${windowMinutes} min)`
        : `not recovered within ${windowMinutes} min ❌`,
    );
  }
  const toRecovery = elapsed(timeline.alarmAt, timeline.recoveredAt);
  if (toRecovery !== undefined) figures.push(`time to recovery *${duration(toRecovery)}*`);
  return figures;
}

/** Milliseconds from `start` to `end`, or nothing when either is missing or the clocks disagree. */
function elapsed(start: string | undefined, end: string | undefined): number | undefined {
  if (start === undefined || end === undefined) return undefined;
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
