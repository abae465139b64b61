import * as z from 'zod/mini';
import type { ReportFact, ReportFigure, ReportSection, RunbookReport } from '../notify/report';
import { causeMessage } from '../shared/error-cause';
import { executionSchema, type Execution } from '../shared/execution';
import type { History, HistoryRun } from './history';
import { REPORTS_PREFIX } from './metric-names';
import {
  cleanupResultSchema,
  planSchema,
  restoreStartedSchema,
  restoreStatusSchema,
  type RestorePlan,
} from './plan';

// What one run proved, from the workflow's whole state: the outcome, the figures against the targets, the
// report documents (JSON for tools, Markdown for people), the Slack summary, the lifecycle event and, when
// the run left a database behind, the page. Pure: the handler reads and writes, this decides.

const text = z.string().check(z.minLength(1));
const stepError = z.object({ Error: text, Cause: z.optional(z.string()) });
const failure = z.optional(z.object({ code: text, message: z.string() }));
const validationSchema = z.object({
  passed: z.boolean(),
  tables: z.array(
    z.object({
      schema: text,
      name: text,
      passed: z.boolean(),
      rows: z.optional(z.number()),
      minRows: z.optional(z.number()),
      previousRows: z.optional(z.number()),
      failure,
    }),
  ),
  assertions: z.array(z.object({ name: text, passed: z.boolean(), failure })),
  freshness: z.optional(
    z.object({
      schema: text,
      table: text,
      column: text,
      passed: z.boolean(),
      newest: z.optional(z.string()),
      ageSeconds: z.optional(z.number()),
      maxAgeMinutes: z.number(),
      failure,
    }),
  ),
  rpoSeconds: z.optional(z.number()),
  counts: z.record(z.string(), z.number()),
  durationMs: z.number(),
  validatedAt: text,
});
export type ValidationSummary = z.output<typeof validationSchema>;

/** The workflow's state when it reaches the report: what a failed run did not reach is absent. */
export const runStateSchema = z.object({
  event: z.unknown(),
  execution: executionSchema,
  plan: z.optional(planSchema),
  restore: z.optional(restoreStartedSchema),
  status: z.optional(restoreStatusSchema),
  validation: z.optional(validationSchema),
  cleanup: z.optional(cleanupResultSchema),
  /** The step that failed (prepare, restore, check-restore, validate), after its retries. */
  error: z.optional(stepError),
  /** Cleanup failed after its retries: something may be left running. */
  cleanupError: z.optional(stepError),
});
export type RunState = z.output<typeof runStateSchema>;

export type Stage = 'prepare' | 'restore' | 'validate' | 'checks' | 'complete';
export type RunOutcome = 'passed' | 'missed-targets' | 'failed';

export interface RunFigures {
  rtoSeconds?: number;
  rpoSeconds?: number;
  snapshotAgeSeconds?: number;
  restoreSeconds?: number;
  validationSeconds?: number;
}

export interface RestoreTestReport {
  database: string;
  environment: string;
  execution: Execution;
  outcome: RunOutcome;
  /** Where the run stopped: `complete` when the checks ran and passed. */
  stage: Stage;
  error?: { name: string; message: string };
  source?: RestorePlan['source'];
  restoredFrom?: RestorePlan['restore'];
  identifiers?: RestorePlan['identifiers'];
  figures: RunFigures;
  targets: { rtoMinutes?: number; rpoMinutes?: number };
  /** Targets this run missed. */
  missed: Array<'rto' | 'rpo'>;
  validation?: ValidationSummary;
  cleanup: { deleted: string[]; alreadyGone: string[]; leftBehind: string[]; error?: string };
  startedAt: string;
  generatedAt: string;
}

const seconds = (from: string | undefined, to: string | undefined): number | undefined =>
  from === undefined || to === undefined
    ? undefined
    : Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);

/** The database a run was about, even when the plan was never made. */
function databaseName(state: RunState): string {
  if (state.plan) return state.plan.database.name;
  const named = (state.event as { database?: unknown } | undefined)?.database;
  return typeof named === 'string' && named !== '' ? named : 'unknown';
}

function stageOf(state: RunState): Stage {
  if (!state.plan) return 'prepare';
  if (state.validation) return state.validation.passed ? 'complete' : 'checks';
  if (state.status?.available) return 'validate';
  return 'restore';
}

/** What the run measured: each figure only when the run got far enough to measure it. */
export function figuresOf(state: RunState): RunFigures {
  const { plan, restore, status, validation } = state;
  const restoredAt = status?.available ? status.checkedAt : undefined;
  const dataFrom =
    plan?.restore.mode === 'snapshot' ? plan.restore.snapshotCreatedAt : plan?.restore.restoreTime;
  const snapshotAgeSeconds = seconds(dataFrom, plan?.startedAt);
  const rpoSeconds = validation?.rpoSeconds ?? snapshotAgeSeconds;
  const rtoSeconds = validation?.passed ? seconds(restore?.startedAt, validation.validatedAt) : undefined;
  const figures: RunFigures = {};
  if (rtoSeconds !== undefined) figures.rtoSeconds = rtoSeconds;
  if (rpoSeconds !== undefined) figures.rpoSeconds = rpoSeconds;
  if (snapshotAgeSeconds !== undefined) figures.snapshotAgeSeconds = snapshotAgeSeconds;
  const restoreSeconds = seconds(restore?.startedAt, restoredAt);
  if (restoreSeconds !== undefined) figures.restoreSeconds = restoreSeconds;
  if (validation) figures.validationSeconds = validation.durationMs / 1000;
  return figures;
}

/** Builds the run's report from the workflow's state. */
export function buildRunReport(
  state: RunState,
  { environment, now }: { environment: string; now: Date },
): RestoreTestReport {
  const { plan, validation, cleanup, cleanupError, error } = state;
  const stage = stageOf(state);
  const figures = figuresOf(state);
  const targets = plan?.database.targets ?? {};
  const missed: RestoreTestReport['missed'] = [];
  if (
    targets.rtoMinutes !== undefined &&
    figures.rtoSeconds !== undefined &&
    figures.rtoSeconds > targets.rtoMinutes * 60
  )
    missed.push('rto');
  if (
    targets.rpoMinutes !== undefined &&
    figures.rpoSeconds !== undefined &&
    figures.rpoSeconds > targets.rpoMinutes * 60
  )
    missed.push('rpo');
  const outcome: RunOutcome =
    stage !== 'complete' ? 'failed' : missed.length > 0 ? 'missed-targets' : 'passed';
  const created = plan
    ? [plan.identifiers.instance, ...(plan.identifiers.cluster ? [plan.identifiers.cluster] : [])]
    : [];
  const gone = new Set([...(cleanup?.deleted ?? []), ...(cleanup?.alreadyGone ?? [])].map((item) => item.id));
  // No cleanup result at all (its step failed): whatever the plan named may still run.
  const leftBehind = cleanupError || (plan && !cleanup) ? created.filter((id) => !gone.has(id)) : [];
  return {
    database: databaseName(state),
    environment,
    execution: state.execution,
    outcome,
    stage,
    ...(error && { error: { name: error.Error, message: error.Cause ? causeMessage(error.Cause) : '' } }),
    ...(plan && { source: plan.source, restoredFrom: plan.restore, identifiers: plan.identifiers }),
    figures,
    targets,
    missed,
    ...(validation && { validation }),
    cleanup: {
      deleted: (cleanup?.deleted ?? []).map((item) => item.id),
      alreadyGone: (cleanup?.alreadyGone ?? []).map((item) => item.id),
      leftBehind,
      ...(cleanupError && {
        error: `${cleanupError.Error}: ${cleanupError.Cause ? causeMessage(cleanupError.Cause) : ''}`,
      }),
    },
    startedAt: plan?.startedAt ?? state.execution.startTime,
    generatedAt: now.toISOString(),
  };
}

export function reportKeys(report: Pick<RestoreTestReport, 'database' | 'execution' | 'generatedAt'>) {
  const base = `${REPORTS_PREFIX}${report.database}/${report.generatedAt.slice(0, 10)}-${report.execution.name}`;
  return { reportKey: `${base}.json`, markdownKey: `${base}.md` };
}

/** This run as the history keeps it. */
export function historyRun(report: RestoreTestReport): HistoryRun {
  const { rtoSeconds, rpoSeconds, snapshotAgeSeconds } = report.figures;
  return {
    execution: report.execution.name,
    startedAt: report.startedAt,
    passed: report.outcome !== 'failed',
    ...(rtoSeconds !== undefined && { rtoSeconds }),
    ...(rpoSeconds !== undefined && { rpoSeconds }),
    ...(snapshotAgeSeconds !== undefined && { snapshotAgeSeconds }),
    ...(report.outcome !== 'failed' && report.validation && { counts: report.validation.counts }),
  };
}

// Wording ------------------------------------------------------------------------------------------------

export const formatDuration = (totalSeconds: number): string => {
  const minutes = Math.round(totalSeconds / 60);
  if (totalSeconds < 90) return `${Math.round(totalSeconds)} s`;
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes < 48 * 60 ? `${hours} h ${minutes % 60} min` : `${Math.round(minutes / 60 / 24)} days`;
};

const vs = (value: number | undefined, targetMinutes: number | undefined): string =>
  value === undefined
    ? 'not measured'
    : `${formatDuration(value)}${targetMinutes === undefined ? '' : ` (target ${formatDuration(targetMinutes * 60)}${value > targetMinutes * 60 ? ', missed' : ''})`}`;

/** Every check that did not pass, as a line. */
export function failedChecks(validation: ValidationSummary | undefined): string[] {
  if (!validation) return [];
  return [
    ...validation.tables
      .filter((t) => !t.passed)
      .map((t) => `table ${t.schema}.${t.name}: ${t.failure?.message ?? 'failed'}`),
    ...validation.assertions
      .filter((a) => !a.passed)
      .map((a) => `assertion ${a.name}: ${a.failure?.message ?? 'failed'}`),
    ...(validation.freshness && !validation.freshness.passed
      ? [
          `freshness of ${validation.freshness.table}.${validation.freshness.column}: ${validation.freshness.failure?.message ?? 'failed'}`,
        ]
      : []),
  ];
}

const checkCount = (validation: ValidationSummary): number =>
  validation.tables.length + validation.assertions.length + (validation.freshness ? 1 : 0);

/** Why the run failed, as one sentence for on-call. */
export function failureSentence(report: RestoreTestReport): string {
  const error = report.error ? `${report.error.name}: ${report.error.message}` : 'no reason recorded';
  switch (report.stage) {
    case 'prepare':
      return `Nothing was restored: ${error}`;
    case 'restore':
      return `The restore did not produce a usable instance: ${error}`;
    case 'validate':
      return `The restored instance could not be checked: ${error}`;
    case 'checks': {
      const failed = failedChecks(report.validation).length;
      return `The restored data failed ${failed} of ${report.validation ? checkCount(report.validation) : failed} checks.`;
    }
    case 'complete':
      return report.missed.length > 0
        ? `The data came back, but the run missed its ${report.missed.map((m) => m.toUpperCase()).join(' and ')} target.`
        : 'The data came back and every check passed.';
  }
}

export function restoredFromText(from: RestorePlan['restore'] | undefined): string | undefined {
  if (!from) return undefined;
  return from.mode === 'snapshot'
    ? `${from.snapshotKind} snapshot ${from.snapshotId} of ${from.snapshotCreatedAt}${from.newerInProgress > 0 ? ` (${from.newerInProgress} newer still being created)` : ''}`
    : `point in time ${from.restoreTime}`;
}

const trendLine = (run: HistoryRun): string =>
  `${run.startedAt.slice(0, 10)}: ${run.passed ? 'passed' : 'failed'}` +
  (run.rtoSeconds !== undefined ? `, RTO ${formatDuration(run.rtoSeconds)}` : '') +
  (run.rpoSeconds !== undefined ? `, RPO ${formatDuration(run.rpoSeconds)}` : '');

/** The report for people: what was tested, the figures against the targets, each check, the cleanup, the trend. */
export function reportMarkdown(report: RestoreTestReport, history: History): string {
  const lines = [
    `# Restore test of ${report.database} (${report.environment}): ${report.outcome}`,
    '',
    failureSentence(report),
    '',
    `- Execution: \`${report.execution.id}\``,
    `- Started: ${report.startedAt}`,
  ];
  if (report.source) lines.push(`- Source: ${report.source.kind} \`${report.source.id}\``);
  const from = restoredFromText(report.restoredFrom);
  if (from) lines.push(`- Restored from: ${from}`);
  if (report.identifiers)
    lines.push(
      `- Temporary instance: \`${report.identifiers.instance}\`${report.identifiers.cluster ? ` in cluster \`${report.identifiers.cluster}\`` : ''}`,
    );
  lines.push(
    '',
    '## Figures',
    '',
    '| figure | value |',
    '|---|---|',
    `| RTO (restore start → validated) | ${vs(report.figures.rtoSeconds, report.targets.rtoMinutes)} |`,
    `| RPO (age of the newest data) | ${vs(report.figures.rpoSeconds, report.targets.rpoMinutes)} |`,
    `| Snapshot age | ${vs(report.figures.snapshotAgeSeconds, undefined)} |`,
    `| Restore (start → available) | ${vs(report.figures.restoreSeconds, undefined)} |`,
    `| Validation | ${vs(report.figures.validationSeconds, undefined)} |`,
  );
  if (report.validation) {
    lines.push('', '## Checks', '', '| check | result | detail |', '|---|---|---|');
    for (const table of report.validation.tables) {
      lines.push(
        `| table ${table.schema}.${table.name} | ${table.passed ? 'passed' : 'FAILED'} | ${table.failure?.message ?? `${table.rows ?? '?'} rows`} |`,
      );
    }
    for (const assertion of report.validation.assertions) {
      lines.push(
        `| assertion ${assertion.name} | ${assertion.passed ? 'passed' : 'FAILED'} | ${assertion.failure?.message ?? ''} |`,
      );
    }
    const freshness = report.validation.freshness;
    if (freshness) {
      lines.push(
        `| freshness ${freshness.table}.${freshness.column} | ${freshness.passed ? 'passed' : 'FAILED'} | ${freshness.failure?.message ?? `newest ${freshness.newest ?? '?'}`} |`,
      );
    }
  }
  lines.push('', '## Cleanup', '');
  if (report.cleanup.leftBehind.length > 0) {
    lines.push(
      `**Left behind: ${report.cleanup.leftBehind.join(', ')}** (${report.cleanup.error ?? 'cleanup did not run'}). The janitor deletes them once they are older than its limit.`,
    );
  } else if (report.cleanup.deleted.length + report.cleanup.alreadyGone.length > 0) {
    lines.push(
      `Deleted: ${[...report.cleanup.deleted, ...report.cleanup.alreadyGone].join(', ')} (no final snapshot, automated backups deleted).`,
    );
  } else {
    lines.push('Nothing was created.');
  }
  if (history.runs.length > 1) {
    lines.push('', '## Previous runs', '', ...history.runs.slice(1, 13).map((run) => `- ${trendLine(run)}`));
  }
  return `${lines.join('\n')}\n`;
}

/** The Slack summary, through the generic notifier. */
export function reportNotification(
  report: RestoreTestReport,
  history: History,
  links: RunbookReport['links'],
): RunbookReport {
  const facts: ReportFact[] = [];
  if (report.source)
    facts.push({ label: 'Source', value: `${report.source.kind} ${report.source.id}`, code: true });
  const from = restoredFromText(report.restoredFrom);
  if (from) facts.push({ label: 'Restored from', value: from });
  if (report.identifiers)
    facts.push({ label: 'Temporary instance', value: report.identifiers.instance, code: true });
  facts.push({
    label: 'Cleanup',
    value:
      report.cleanup.leftBehind.length > 0
        ? `LEFT BEHIND: ${report.cleanup.leftBehind.join(', ')}`
        : report.cleanup.deleted.length + report.cleanup.alreadyGone.length > 0
          ? 'deleted'
          : 'nothing created',
  });
  const figures: ReportFigure[] = [];
  const restore = report.restoredFrom;
  const validatedAt = report.validation?.validatedAt;
  if (report.figures.rtoSeconds !== undefined && validatedAt) {
    figures.push({
      label: 'RTO',
      from: new Date(Date.parse(validatedAt) - report.figures.rtoSeconds * 1000).toISOString(),
      to: validatedAt,
      ...(report.targets.rtoMinutes !== undefined && { withinMinutes: report.targets.rtoMinutes }),
    });
  }
  if (report.figures.rpoSeconds !== undefined) {
    figures.push({
      label: 'RPO (data age)',
      from: new Date(Date.parse(report.startedAt) - report.figures.rpoSeconds * 1000).toISOString(),
      to: report.startedAt,
      ...(report.targets.rpoMinutes !== undefined && { withinMinutes: report.targets.rpoMinutes }),
    });
  }
  if (restore?.mode === 'snapshot') {
    figures.push({ label: 'Snapshot age', from: restore.snapshotCreatedAt, to: report.startedAt });
  }
  const sections: ReportSection[] = [];
  const failed = failedChecks(report.validation);
  if (failed.length > 0)
    sections.push({ title: `Failed checks (${failed.length})`, lines: failed.slice(0, 20) });
  const previous = history.runs.slice(1, 7);
  if (previous.length > 0) sections.push({ title: 'Previous runs', lines: previous.map(trendLine) });
  return {
    runbook: 'restore-test',
    title: 'Restore test',
    // A copy left behind needs a person even when the backup proved restorable.
    outcome:
      report.outcome === 'failed'
        ? 'failed'
        : report.outcome === 'missed-targets' || report.cleanup.leftBehind.length > 0
          ? 'attention'
          : 'succeeded',
    subject: report.database,
    reasonText: failureSentence(report),
    ...(report.error && { reason: report.error.name }),
    facts,
    figures,
    sections,
    ...(links && { links }),
    execution: report.execution,
  };
}

/** The page for a run that left a database behind (AWS Chatbot's custom schema, like every page). */
export function leftBehindPage(report: RestoreTestReport) {
  return {
    version: '1.0',
    source: 'custom',
    content: {
      title: `[${report.environment}] Restore test of ${report.database} left ${report.cleanup.leftBehind.join(', ')} running`,
      description: `The run could not delete what it created: ${report.cleanup.error ?? 'its cleanup did not run'}. It costs money while it runs and holds a copy of production data.`,
      nextSteps: [
        `Open the execution ${report.execution.id}`,
        `Delete it: aws rds delete-db-instance --db-instance-identifier ${report.identifiers?.instance ?? '<id>'} --skip-final-snapshot --delete-automated-backups${report.identifiers?.cluster ? ` (then aws rds delete-db-cluster --db-cluster-identifier ${report.identifiers.cluster} --skip-final-snapshot)` : ''}`,
        'Or leave it to the janitor, which deletes it once it is older than its maximum age',
      ],
    },
  };
}
