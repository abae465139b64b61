import { S3Client } from '@aws-sdk/client-s3';
import { awsClientOptions } from '../../aws/client-options';
import { putObject, s3ConsoleUrl } from '../../aws/s3-objects';
import type { RunbookReport } from '../../notify/report';
import { requiredEnv } from '../../shared/env';
import { parseOrThrow } from '../../shared/errors';
import { correlateWithExecution, logger } from '../../shared/logger';
import { readHistory, withRun } from '../history';
import { historyKey } from '../metric-names';
import { publishRestoreTestMetrics } from '../metrics';
import {
  buildRunReport,
  historyRun,
  leftBehindPage,
  reportKeys,
  reportMarkdown,
  reportNotification,
  runStateSchema,
  type RestoreTestReport,
  type RunOutcome,
} from '../report';

const s3 = new S3Client(awsClientOptions());
const bucket = requiredEnv('REPORT_BUCKET');
const environment = requiredEnv('ENVIRONMENT_NAME');
const region = requiredEnv('AWS_REGION');

export interface ReportOutput {
  outcome: RunOutcome;
  reportKey: string;
  markdownKey: string;
  figures: RestoreTestReport['figures'];
  notification: RunbookReport;
  /** `RunbookSucceeded` when the backup proved restorable (targets missed included), else `RunbookFailed`. */
  detailType: 'RunbookSucceeded' | 'RunbookFailed';
  eventDetail: Record<string, unknown>;
  /** Only when the run left a database behind: the workflow pages with it. */
  page?: ReturnType<typeof leftBehindPage>;
}

export async function handler(input: unknown): Promise<ReportOutput> {
  const state = parseOrThrow(runStateSchema, input, 'The report input');
  correlateWithExecution(state.execution.id);
  const report = buildRunReport(state, { environment, now: new Date() });
  const history = withRun(
    await readHistory(s3, bucket, report.database),
    report.database,
    historyRun(report),
  );
  const { reportKey, markdownKey } = reportKeys(report);
  // The report first: a history without its report would count a run nobody can read.
  await Promise.all([
    putObject(s3, { bucket, key: reportKey }, report),
    putObject(
      s3,
      { bucket, key: markdownKey },
      reportMarkdown(report, history),
      'text/markdown; charset=utf-8',
    ),
  ]);
  await putObject(s3, { bucket, key: historyKey(report.database) }, history);
  const metrics = publishRestoreTestMetrics(report);
  logger.info('restore test reported', {
    database: report.database,
    outcome: report.outcome,
    stage: report.stage,
    figures: report.figures,
    leftBehind: report.cleanup.leftBehind,
    metrics,
    reportKey,
  });
  return {
    outcome: report.outcome,
    reportKey,
    markdownKey,
    figures: report.figures,
    notification: reportNotification(report, history, [
      { label: 'Report', url: s3ConsoleUrl(bucket, markdownKey, region) },
    ]),
    detailType: report.outcome === 'failed' ? 'RunbookFailed' : 'RunbookSucceeded',
    eventDetail: {
      runbook: 'restore-test',
      environment,
      execution: report.execution,
      database: report.database,
      outcome: report.outcome,
      stage: report.stage,
      figures: report.figures,
      missedTargets: report.missed,
      leftBehind: report.cleanup.leftBehind,
      reportKey,
    },
    ...(report.cleanup.leftBehind.length > 0 && { page: leftBehindPage(report) }),
  };
}
