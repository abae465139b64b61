import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PricingClient } from '@aws-sdk/client-pricing';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import * as z from 'zod/mini';
import { awsClientOptions } from '../../aws/client-options';
import { PRICING_ENDPOINT_REGION } from '../../aws/pricing';
import { putObject, S3InvalidObject } from '../../aws/s3-objects';
import type { RunbookReport } from '../../notify/report';
import { requiredEnv } from '../../shared/env';
import { parseOrThrow } from '../../shared/errors';
import { executionSchema } from '../../shared/execution';
import { correlateWithExecution, logger } from '../../shared/logger';
import type { RecommendationLine } from '../model';
import { readPart, REPORTS_PREFIX } from '../parts';
import { PriceBook, priceLines } from '../pricing';
import { renderCsv } from '../render/csv';
import { renderHtml } from '../render/html';
import { renderMarkdown } from '../render/markdown';
import { describeStrategy, type ReportGap } from '../render/report-input';
import {
  collectedPartsSchema,
  gapOf,
  linkLifetime,
  reportNotification,
  reportTotals,
  sortParts,
  withNodeTypes,
  type ReportTotals,
} from '../report';
import { rightsizingSettingsSchema } from '../settings';

const bucket = requiredEnv('REPORT_BUCKET');
const environment = requiredEnv('ENVIRONMENT_NAME');
const s3 = new S3Client(awsClientOptions());
// One price book per warm function: GetProducts answers are reused between runs.
const prices = new PriceBook(new PricingClient({ ...awsClientOptions(), region: PRICING_ENDPOINT_REGION }));

const inputSchema = z.object({
  execution: executionSchema,
  settings: rightsizingSettingsSchema,
  parts: collectedPartsSchema,
});

export interface ReportOutput {
  totals: ReportTotals;
  reportKey: string;
  notification: RunbookReport;
}

/**
 * A link that works until the earlier of `linkExpiryHours` and the signing credentials' own expiry: S3 refuses
 * a URL whose signing session has expired, whatever it asked for.
 */
async function presign(key: string, hours: number): Promise<{ url: string; expiresAt: Date }> {
  const credentials = await s3.config.credentials();
  const { expiresIn, expiresAt } = linkLifetime(hours, credentials.expiration, new Date());
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn });
  return { url, expiresAt };
}

export async function handler(input: unknown): Promise<ReportOutput> {
  const { execution, settings, parts } = parseOrThrow(inputSchema, input, 'The report input');
  correlateWithExecution(execution.id);
  const now = new Date();
  const sorted = sortParts(parts);
  const gaps: ReportGap[] = [...sorted.gaps];
  const found: RecommendationLine[] = [];
  for (const summary of sorted.summaries) {
    try {
      const part = await readPart(s3, summary);
      found.push(...(part.lines as RecommendationLine[]));
      gaps.push(...part.failures.map(gapOf));
    } catch (error) {
      // A part that is missing or malformed is a gap; S3 not answering is retried by the workflow.
      if (!(error instanceof S3InvalidObject)) throw error;
      gaps.push({
        scope: summary.cluster ? `cluster ${summary.cluster}` : summary.part,
        reason: error.message,
      });
    }
  }
  const lines = await priceLines(withNodeTypes(found, sorted.nodeTypes), prices);
  const totals = reportTotals(lines, gaps);

  const base = `${REPORTS_PREFIX}${now.toISOString().slice(0, 10)}-${execution.name}/`;
  const keys = { csv: `${base}report.csv`, markdown: `${base}report.md`, html: `${base}report.html` };
  // The CSV first: the page links it, signed for as long as the page's own link.
  await putObject(s3, { bucket, key: keys.csv }, renderCsv(lines), 'text/csv; charset=utf-8');
  const csvLink = await presign(keys.csv, settings.linkExpiryHours);
  const summary = {
    lines,
    generatedAt: now.toISOString(),
    environment,
    lookbackDays: settings.lookbackDays,
    periodSeconds: settings.periodSeconds,
    strategy: describeStrategy(settings.strategy),
    priceSources: [
      prices.apiLookups > 0 ? `AWS Price List API (${PRICING_ENDPOINT_REGION})` : undefined,
      'bundled table (lambdas/rightsizing/prices.ts) where the API did not answer',
    ].filter((source): source is string => source !== undefined),
    gaps,
    csvHref: csvLink.url,
    topN: settings.topN,
    executionName: execution.name,
  };
  await Promise.all([
    putObject(s3, { bucket, key: keys.markdown }, renderMarkdown(summary), 'text/markdown; charset=utf-8'),
    putObject(s3, { bucket, key: keys.html }, await renderHtml(summary), 'text/html; charset=utf-8'),
  ]);
  const htmlLink = await presign(keys.html, settings.linkExpiryHours);
  logger.info('right-sizing report written', { totals, keys, gaps: gaps.length });
  return {
    totals,
    reportKey: keys.html,
    notification: reportNotification({
      lines,
      gaps,
      totals,
      topN: settings.topN,
      links: [
        { label: 'Report (HTML)', url: htmlLink.url },
        { label: 'Every line (CSV)', url: csvLink.url },
      ],
      linkExpiresAt: htmlLink.expiresAt,
      execution,
    }),
  };
}
