import type { Block, SlackMessage } from '../notify/slack-message';
import { formatWeight } from './routers/router';
import type { CanaryRun, CheckOutcome } from './run';

// What the canary says in Slack: one parent message per run, rewritten at each step (Slack-app mode), the
// steps as replies in its thread, the approval request with its buttons, and the end. Plain text and mrkdwn
// only; every value a person or CI wrote is escaped.

export type Phase =
  | 'starting'
  | 'smoke-test'
  | 'shifting'
  | 'analysing'
  | 'awaiting-approval'
  | 'promoting'
  | 'aborting'
  | 'promoted'
  | 'aborted'
  | 'failed';

export interface Outcome {
  kind: 'promoted' | 'aborted' | 'failed';
  reason: string;
  detail?: string;
}

const TEXT_MAX = 2_900;
/** Slack's mrkdwn: &, < and > must be escaped, or a name could render as a link or a mention. */
export const escapeMrkdwn = (text: string): string =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
/** Cut to `max` with "…", never inside an escaped `&amp;` or a surrogate pair. */
const clip = (text: string, max = TEXT_MAX): string =>
  text.length > max
    ? `${text
        .slice(0, max - 1)
        .replace(/[\uD800-\uDBFF]$/, '')
        .replace(/&[a-z]{0,3}$/, '')}…`
    : text;
/** The notification text: escaped as the blocks are, since Slack reads mentions in it too. */
const notification = (text: string): string => clip(escapeMrkdwn(text), 300);
const section = (text: string): Block => ({ type: 'section', text: { type: 'mrkdwn', text: clip(text) } });
const context = (text: string): Block => ({
  type: 'context',
  elements: [{ type: 'mrkdwn', text: clip(text) }],
});
const show = (value: number): string => String(Number(value.toPrecision(4)));

const PHASE_ICON: Record<Phase, string> = {
  starting: '🐤',
  'smoke-test': '🧪',
  shifting: '🔀',
  analysing: '🔎',
  'awaiting-approval': '✋',
  promoting: '🚀',
  aborting: '↩️',
  promoted: '✅',
  aborted: '↩️',
  failed: '🚨',
};

const STATUS_ICON: Record<CheckOutcome['status'], string> = {
  passed: '✅',
  failed: '❌',
  'no-data': '❔',
  'not-judged': '➖',
};

/** One line per check: its last values against its limits. */
export function checkLine(check: CheckOutcome): string {
  const values = [
    check.canary !== undefined ? `canary ${show(check.canary)}` : 'canary: no data',
    check.stable !== undefined ? `stable ${show(check.stable)}` : undefined,
  ]
    .filter(Boolean)
    .join(' · ');
  return `${STATUS_ICON[check.status]} *${escapeMrkdwn(check.name)}* ${values} (limit ${escapeMrkdwn(check.limit)})`;
}

/** The steps as a line: done ✔, current ●, pending ○. */
export function stepsLine(run: Pick<CanaryRun, 'steps' | 'stepIndex'>): string {
  return run.steps
    .map((weight, index) =>
      index < run.stepIndex ? `✔ ${weight} %` : index === run.stepIndex ? `● *${weight} %*` : `○ ${weight} %`,
    )
    .join('  ');
}

/** The parent message: what is running, where it stands, the last checks. */
export function parentMessage(
  run: CanaryRun,
  phase: Phase,
  environment: string,
  outcome?: Outcome,
): SlackMessage {
  const service = escapeMrkdwn(run.service.name);
  const title = outcome
    ? `${PHASE_ICON[phase]} Canary of ${service} ${outcome.kind === 'promoted' ? 'promoted' : outcome.kind === 'aborted' ? 'aborted' : 'needs a human'}`
    : `${PHASE_ICON[phase]} Canary of ${service}: ${phase.replace('-', ' ')}`;
  const blocks: Block[] = [
    section(`*${title}* (${escapeMrkdwn(environment)})`),
    section(
      [
        `*Canary* ${run.canaryImages.map((image) => `\`${escapeMrkdwn(image)}\``).join(', ')}`,
        `*Stable* ${run.stableImages.map((image) => `\`${escapeMrkdwn(image)}\``).join(', ')}`,
        `*Steps* ${stepsLine(run)} · canary weight ${formatWeight(run.weight)}`,
        `*Failed analyses* ${run.failures} of ${run.threshold}`,
      ].join('\n'),
    ),
  ];
  const checks = run.analysis?.checks ?? [];
  if (checks.length > 0) blocks.push(section(checks.map(checkLine).join('\n')));
  if (outcome) {
    blocks.push(
      section(
        `*Outcome* ${escapeMrkdwn(outcome.reason)}${outcome.detail ? `: ${escapeMrkdwn(outcome.detail)}` : ''}`,
      ),
    );
  }
  blocks.push(
    context(
      `Requested by ${escapeMrkdwn(run.requestedBy)} · ${escapeMrkdwn(run.reference)} · run ${escapeMrkdwn(run.runId)} · \`npm run canary -- status ${service}\``,
    ),
  );
  const text = outcome
    ? `Canary of ${run.service.name}: ${outcome.kind} (${outcome.reason})`
    : `Canary of ${run.service.name}: ${phase}, canary at ${formatWeight(run.weight)}`;
  return { text: notification(text), blocks };
}

/** A step's reply in the thread: the weight, the verdict, each check. */
export function stepMessage(run: CanaryRun): SlackMessage {
  const analysis = run.analysis;
  const summary = analysis?.summary ?? `canary at ${formatWeight(run.weight)}`;
  const blocks: Block[] = [section(escapeMrkdwn(summary))];
  if (analysis && analysis.checks.length > 0) blocks.push(section(analysis.checks.map(checkLine).join('\n')));
  return { text: notification(summary), blocks };
}

/** The button value the approval endpoint reads back (lambdas/canary/approval.ts parses it). */
export const approvalButtonValue = (run: CanaryRun, decision: 'approve' | 'reject'): string =>
  JSON.stringify({ workload: run.workload, executionArn: run.executionArn, decision });

/** Asks the approvers; with `buttons` (Slack-app mode) Approve and Reject, always the CLI commands. */
export function approvalMessage(
  run: CanaryRun,
  kind: 'promotion' | 'no-data',
  timeoutAt: Date,
  buttons: boolean,
): SlackMessage {
  const service = escapeMrkdwn(run.service.name);
  const approvers = (run.service.approval?.approvers ?? []).map((id) => `<@${id}>`).join(' ');
  const question =
    kind === 'promotion'
      ? `✋ *Promote ${service}?* Every step passed at up to ${formatWeight(run.weight)}.`
      : `✋ *Go on with ${service}?* ${escapeMrkdwn(run.analysis?.summary ?? 'A check has no data.')}`;
  const blocks: Block[] = [
    section(
      `${question}\n${approvers} — no answer by <!date^${Math.floor(timeoutAt.getTime() / 1000)}^{time}|${timeoutAt.toISOString()}> aborts the canary.`,
    ),
  ];
  if (buttons) {
    blocks.push({
      type: 'actions',
      block_id: 'canary-approval',
      elements: [
        {
          type: 'button',
          text: { type: 'plain_text', text: 'Approve', emoji: false },
          action_id: 'canary-approve',
          value: approvalButtonValue(run, 'approve'),
          style: 'primary',
        },
        {
          type: 'button',
          text: { type: 'plain_text', text: 'Reject', emoji: false },
          action_id: 'canary-reject',
          value: approvalButtonValue(run, 'reject'),
          style: 'danger',
        },
      ],
    });
  }
  blocks.push(context(`\`npm run canary -- approve ${service}\` · \`npm run canary -- reject ${service}\``));
  return { text: notification(`Canary of ${run.service.name} waits for approval`), blocks };
}

/**
 * The errors of a request the runbook refuses (malformed, unknown service, another run holds the workload, a
 * container it cannot find); anything else is a start that failed (the cluster unreachable after retries).
 */
const REFUSALS = new Set([
  'InvalidCanaryRequest',
  'UnknownCanaryService',
  'CanaryAlreadyRunning',
  'CanaryTargetInvalid',
]);

/** A request that never started: refused, or failed before any change (the start releases the lock it took). */
export function rejectedMessage(environment: string, error: { name: string; message: string }): SlackMessage {
  const what = REFUSALS.has(error.name) ? 'Canary request refused' : 'Canary could not start';
  return {
    text: notification(`${what}: ${error.message}`),
    blocks: [
      section(`*🚫 ${what}* (${escapeMrkdwn(environment)}): nothing was changed.`),
      section(`*${escapeMrkdwn(error.name)}* ${escapeMrkdwn(error.message)}`),
    ],
  };
}

/** The thread's last reply: the outcome and why. */
export function outcomeMessage(run: CanaryRun, outcome: Outcome): SlackMessage {
  const icon = outcome.kind === 'promoted' ? '✅' : outcome.kind === 'aborted' ? '↩️' : '🚨';
  const text = `${icon} ${outcome.kind}: ${outcome.reason}${outcome.detail ? ` — ${outcome.detail}` : ''}`;
  return {
    text: notification(`Canary of ${run.service.name} ${outcome.kind}`),
    blocks: [section(escapeMrkdwn(text))],
  };
}
