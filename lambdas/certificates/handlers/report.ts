import { S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import { awsClientOptions } from '../../aws/client-options';
import { getJsonObject, putObject, S3InvalidObject, s3ConsoleUrl } from '../../aws/s3-objects';
import type { ReportFact, ReportLink, ReportSection } from '../../notify/report';
import { InvalidSetting, requiredEnv } from '../../shared/env';
import { parseOrThrow } from '../../shared/errors';
import { executionSchema, type Execution } from '../../shared/execution';
import { correlateWithExecution, logger } from '../../shared/logger';
import type { ObservedCertificate } from '../certificate';
import { classifyAll, type Thresholds } from '../classify';
import { publishCertificateMetrics } from '../metrics';
import {
  collectedPartSchema,
  PARTS,
  partSummarySchema,
  type PartSummary,
  type SourceFailure,
} from '../parts';
import { buildCertificateReport, failedPartFailure, reportKeys, type SeverityCounts } from '../report';
import { ACM_EVENT_TYPES } from '../trigger';

/** A whole number of days from the environment; InvalidSetting names the variable. */
function daysSetting(name: string): number {
  const value = requiredEnv(name);
  if (!/^\d+$/.test(value)) {
    throw new InvalidSetting(`environment variable ${name} must be a whole number of days, not "${value}"`);
  }
  return Number(value);
}

const s3 = new S3Client(awsClientOptions());
const bucket = requiredEnv('REPORT_BUCKET');
const environment = requiredEnv('ENVIRONMENT_NAME');
const region = requiredEnv('AWS_REGION');
const thresholds: Thresholds = {
  warningDays: daysSetting('WARNING_DAYS'),
  criticalDays: daysSetting('CRITICAL_DAYS'),
};
if (thresholds.criticalDays >= thresholds.warningDays) {
  throw new InvalidSetting(
    `environment variable CRITICAL_DAYS (${thresholds.criticalDays}) must be less than WARNING_DAYS (${thresholds.warningDays})`,
  );
}

const text = z.string().check(z.minLength(1));
const triggerSchema = z.union(
  [
    z.object({ kind: z.literal('schedule') }),
    z.object({
      kind: z.literal('acm-event'),
      detailType: z.enum(ACM_EVENT_TYPES),
      certificateArn: text,
      region: text,
    }),
  ],
  { error: 'must be {kind: "schedule"} or {kind: "acm-event", detailType, certificateArn, region}' },
);
/** A Parallel branch whose step failed after its retries, as its Catch leaves it. */
const failedBranchSchema = z.object({
  part: z.enum(PARTS),
  failed: z.object({ Error: text, Cause: z.optional(z.string()) }),
});
const inputSchema = z.object({
  execution: executionSchema,
  trigger: triggerSchema,
  parts: z.array(
    z.union([partSummarySchema, failedBranchSchema], {
      error:
        'must be a part summary {part, bucket, key, certificates, failures} or a failed branch {part, failed: {Error, Cause}}',
    }),
  ),
});

/** The notifier's input, whole: the workflow may pass it as it is or pick its fields. */
export interface ReportNotification {
  runbook: 'certificates';
  title: string;
  /** `attention` when a certificate is expired or critical: the check ran, what it found needs someone. */
  outcome: 'succeeded' | 'attention';
  subject?: string;
  reasonText?: string;
  facts: ReportFact[];
  sections: ReportSection[];
  links: ReportLink[];
  execution: Execution;
}

/** Small whatever the number of certificates (a state holds 256 KB): the lines are in the report objects. */
export interface ReportResult {
  counts: SeverityCounts;
  total: number;
  /** Sources not read, failed steps and unreadable parts included. */
  sourceFailures: number;
  reportKey: string;
  markdownKey: string;
  notification: ReportNotification;
}

export async function handler(input: unknown): Promise<ReportResult> {
  const { execution, trigger, parts } = parseOrThrow(inputSchema, input, 'The report input');
  correlateWithExecution(execution.id);
  const started = performance.now();
  const read = await Promise.all(parts.map((part) => ('failed' in part ? failedPart(part) : readPart(part))));
  const certificates = read.flatMap((part) => part.certificates);
  const failures = read.flatMap((part) => part.failures);

  const now = new Date();
  const classified = classifyAll(certificates, thresholds, now);
  const { document, markdown, notification } = buildCertificateReport(classified, failures, {
    environment,
    execution,
    generatedAt: now,
    trigger,
    thresholds,
  });
  const { reportKey, markdownKey } = reportKeys(execution.name, now);
  await Promise.all([
    putObject(s3, { bucket, key: reportKey }, document),
    putObject(s3, { bucket, key: markdownKey }, markdown, 'text/markdown; charset=utf-8'),
  ]);
  const emfDocuments = publishCertificateMetrics({
    environment,
    certificates: classified,
    sourceFailures: failures.length,
  });
  logger.info('certificate report written', {
    counts: document.counts,
    total: document.total,
    failedSources: failures,
    reportKey,
    emfDocuments,
    ms: Math.round(performance.now() - started),
  });
  return {
    counts: document.counts,
    total: document.total,
    sourceFailures: failures.length,
    reportKey,
    markdownKey,
    notification: {
      runbook: 'certificates',
      title: 'Certificate check',
      outcome: document.counts.expired + document.counts.critical > 0 ? 'attention' : 'succeeded',
      ...notification,
      links: [{ label: 'Report', url: s3ConsoleUrl(bucket, markdownKey, region) }],
      execution,
    },
  };
}

interface ReadPart {
  certificates: ObservedCertificate[];
  failures: SourceFailure[];
}

function failedPart(part: z.output<typeof failedBranchSchema>): ReadPart {
  return { certificates: [], failures: [failedPartFailure(part.part, part.failed)] };
}

/** A part that is missing or malformed is a source the report names; S3 not answering is retried by the workflow. */
async function readPart(summary: PartSummary): Promise<ReadPart> {
  try {
    const { certificates, failures } = await getJsonObject(
      s3,
      { bucket: summary.bucket, key: summary.key },
      collectedPartSchema,
    );
    return { certificates, failures };
  } catch (error) {
    if (!(error instanceof S3InvalidObject)) throw error;
    return {
      certificates: [],
      failures: [{ source: summary.part, location: '-', error: `${error.name}: ${error.message}` }],
    };
  }
}
