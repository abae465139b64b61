import * as z from 'zod/mini';

// What `npm run canary -- status` shows: the run writes it on the lock item (attribute `canaryStatus`, JSON) at
// each milestone, and its last write, the outcome, outlives the lock's release. Modelled on Argo Rollouts'
// `kubectl argo rollouts get rollout`: phase, images, the steps with the current one marked, the analysis.

export const canaryPhases = [
  'starting',
  'smoke-test',
  'shifting',
  'analysing',
  'awaiting-approval',
  'promoting',
  'aborting',
  'promoted',
  'aborted',
  'failed',
] as const;
export type CanaryPhase = (typeof canaryPhases)[number];

/** The phases a run ends in: nothing more will be written for it. */
export const finalPhases: readonly CanaryPhase[] = ['promoted', 'aborted', 'failed'];

const isoTimestamp = z
  .string()
  .check(z.refine((value) => !Number.isNaN(Date.parse(value)), 'must be an ISO 8601 timestamp'));

export const statusCheckSchema = z.object({
  name: z.string(),
  status: z.enum(['passed', 'failed', 'no-data', 'not-judged']),
  canary: z.optional(z.number()),
  stable: z.optional(z.number()),
  /** The limit in words: "≤ 0.01", "≤ 1.5 × stable". */
  limit: z.string(),
  /** What decided the status, as the analysis said it. */
  reason: z.string(),
});
export type StatusCheck = z.output<typeof statusCheckSchema>;

export const canaryStatusSchema = z.object({
  service: z.string(),
  /** The execution's name. */
  runId: z.string(),
  executionArn: z.string(),
  phase: z.enum(canaryPhases),
  /** The canary's weight at each step. */
  steps: z.array(z.number()),
  /** The step being set or held, 0-based; -1 before the first shift. */
  stepIndex: z.number(),
  /** The canary's weight on the router now. */
  weight: z.number(),
  failures: z.number(),
  threshold: z.number(),
  intervalSeconds: z.number(),
  nextAnalysisAt: z.optional(isoTimestamp),
  updatedAt: isoTimestamp,
  requestedBy: z.string(),
  /** The commit the change was built from. */
  reference: z.string(),
  canaryImages: z.array(z.string()),
  stableImages: z.array(z.string()),
  /** Each check of the last analysis. */
  checks: z.array(statusCheckSchema),
  outcome: z.optional(
    z.object({
      kind: z.enum(['promoted', 'aborted', 'rejected', 'failed']),
      reason: z.string(),
      at: isoTimestamp,
    }),
  ),
});
export type CanaryStatus = z.output<typeof canaryStatusSchema>;

export interface FormatOptions {
  /** ANSI colours, for a terminal only. @default false */
  colour?: boolean;
}

const ANSI = { green: 32, red: 31, yellow: 33, grey: 90 } as const;
type Colour = keyof typeof ANSI;

const PHASE_COLOUR: Record<CanaryPhase, Colour> = {
  starting: 'yellow',
  'smoke-test': 'yellow',
  shifting: 'yellow',
  analysing: 'yellow',
  'awaiting-approval': 'yellow',
  promoting: 'yellow',
  aborting: 'red',
  promoted: 'green',
  aborted: 'red',
  failed: 'red',
};

const CHECK_MARK: Record<StatusCheck['status'], { mark: string; colour: Colour }> = {
  passed: { mark: '✔', colour: 'green' },
  failed: { mark: '✖', colour: 'red' },
  'no-data': { mark: '?', colour: 'yellow' },
  'not-judged': { mark: '–', colour: 'grey' },
};

/** "3m12s", "1h05m", "45s": a duration as people read it on a status line. */
export function formatDuration(milliseconds: number): string {
  const total = Math.max(0, Math.round(milliseconds / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (hours > 0) return `${hours}h${String(minutes).padStart(2, '0')}m`;
  if (minutes > 0) return `${minutes}m${String(seconds).padStart(2, '0')}s`;
  return `${seconds}s`;
}

/** A metric value with at most 4 significant digits, without a trailing exponent for ordinary values. */
function value(number: number | undefined): string {
  if (number === undefined) return '—';
  return String(Number(number.toPrecision(4)));
}

/** The CLI's `status`: one block of plain text (ANSI colours only when asked for a terminal). */
export function formatStatus(status: CanaryStatus, now: Date, options: FormatOptions = {}): string {
  const paint = (colour: Colour, text: string) =>
    options.colour ? `\u001b[${ANSI[colour]}m${text}\u001b[0m` : text;
  const field = (label: string, text: string) => `${`${label}:`.padEnd(16)}${text}`;
  const final = finalPhases.includes(status.phase);
  const lines: string[] = [
    field('Name', status.service),
    field('Run', `${status.runId} (${status.executionArn})`),
    field('Phase', paint(PHASE_COLOUR[status.phase], status.phase)),
    field('Requested by', `${status.requestedBy} (commit ${status.reference.slice(0, 12)})`),
    field('Images', `stable  ${status.stableImages.join(', ') || '—'}`),
    `${''.padEnd(16)}canary  ${status.canaryImages.join(', ') || '—'}`,
    field('Weight', `${status.weight} % canary, ${100 - status.weight} % stable`),
    'Steps:',
  ];
  status.steps.forEach((weight, index) => {
    const step = `step ${index + 1}`.padEnd(8);
    if (status.phase === 'promoted' || index < status.stepIndex) {
      lines.push(`  ${paint('green', '✔')} ${step}${weight} %`);
    } else if (index === status.stepIndex) {
      lines.push(`  ${paint('yellow', '●')} ${step}${weight} %  ← current`);
    } else {
      lines.push(`  ${paint('grey', '○')} ${step}${weight} %`);
    }
  });
  lines.push(
    field(
      'Failures',
      `${status.failures} of ${status.threshold} (the run aborts at ${status.threshold} failed analyses)`,
    ),
  );
  lines.push(field('Interval', formatDuration(status.intervalSeconds * 1000)));
  if (status.nextAnalysisAt !== undefined && !final) {
    const due = Date.parse(status.nextAnalysisAt) - now.getTime();
    const when = due > 0 ? `in ${formatDuration(due)}` : `due now (${formatDuration(-due)} late)`;
    lines.push(field('Next analysis', `${when} (${status.nextAnalysisAt})`));
  }
  if (status.checks.length === 0) {
    lines.push(field('Checks', 'not analysed yet'));
  } else {
    lines.push('Checks (last analysis):');
    const width = Math.max(...status.checks.map((check) => check.name.length));
    for (const check of status.checks) {
      const { mark, colour } = CHECK_MARK[check.status];
      lines.push(
        `  ${paint(colour, mark)} ${check.name.padEnd(width)}  canary ${value(check.canary)}  stable ${value(check.stable)}  limit ${check.limit}  ${check.status}: ${check.reason}`,
      );
    }
  }
  const age = now.getTime() - Date.parse(status.updatedAt);
  lines.push(field('Updated', `${formatDuration(age)} ago (${status.updatedAt})`));
  if (status.outcome !== undefined) {
    const colour = status.outcome.kind === 'promoted' ? 'green' : 'red';
    lines.push(
      field(
        'Outcome',
        `${paint(colour, status.outcome.kind)} at ${status.outcome.at}: ${status.outcome.reason}`,
      ),
    );
  }
  return lines.join('\n');
}
