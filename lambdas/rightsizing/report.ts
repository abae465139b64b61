import * as z from 'zod/mini';
import type { ReportFact, ReportSection, RunbookReport } from '../notify/report';
import { causeMessage } from '../shared/error-cause';
import type { Execution } from '../shared/execution';
import type { RecommendationLine } from './model';
import { partSummarySchema, type SourceFailure } from './parts';
import { costTotals } from './pricing';
import { displayName, topSavings, usd, type ReportGap } from './render/report-input';

// The report step's decisions, pure: which parts the workflow brought (a failed branch is a gap the report
// names, never a lost report), which node type prices a cluster's pods, and the Slack summary.

const stepError = z.object({ Error: z.string(), Cause: z.optional(z.string()) });
/** A Map iteration or a branch whose step failed after its retries, as its Catch leaves it. */
const failedPartSchema = z.object({
  part: z.enum(['workloads', 'compute']),
  cluster: z.optional(z.string()),
  failed: stepError,
});
const computeSummarySchema = z.extend(partSummarySchema, {
  nodeTypes: z._default(z.record(z.string(), z.string()), {}),
  source: z.optional(z.enum(['compute-optimizer', 'cloudwatch'])),
});
const partOrFailure = z.union([computeSummarySchema, failedPartSchema], {
  error:
    'must be a part summary {part, bucket, key, lines, failures} or a failed step {part, failed: {Error, Cause}}',
});

/** The Parallel's output: the Map's results (one per cluster), then the compute branch's. */
export const collectedPartsSchema = z.tuple([z.array(partOrFailure), partOrFailure]);
export type PartSummaryWithNodes = z.output<typeof computeSummarySchema>;
export type FailedPart = z.output<typeof failedPartSchema>;

export interface SortedParts {
  summaries: PartSummaryWithNodes[];
  gaps: ReportGap[];
  /** Each cluster's node type, from the compute step. */
  nodeTypes: Record<string, string>;
}

/** Splits what the workflow brought into parts to read and gaps to name. */
export function sortParts(parts: z.output<typeof collectedPartsSchema>): SortedParts {
  const [clusters, compute] = parts;
  const summaries: PartSummaryWithNodes[] = [];
  const gaps: ReportGap[] = [];
  for (const part of [...clusters, compute]) {
    if ('failed' in part) {
      const cause = part.failed.Cause ? `: ${causeMessage(part.failed.Cause)}` : '';
      gaps.push({
        scope: part.part === 'workloads' ? `cluster ${part.cluster ?? '?'}` : 'EC2, Auto Scaling and RDS',
        reason: `${part.failed.Error}${cause}`,
      });
    } else {
      summaries.push(part);
    }
  }
  const nodeTypes = 'failed' in compute ? {} : compute.nodeTypes;
  return { summaries, gaps, nodeTypes };
}

/**
 * A failure inside a part (a namespace denied, Compute Optimizer not enabled) as a gap of the report; one
 * located at a whole cluster (its API server did not answer any read) is a cluster the report did not cover.
 */
export const gapOf = (failure: SourceFailure): ReportGap => ({
  scope:
    failure.source === 'kubernetes' && !failure.location.includes('/')
      ? `cluster ${failure.location}`
      : `${failure.source} ${failure.location}`,
  reason: failure.error,
});

/**
 * Workload lines priced at their cluster's node type: the most common type among the nodes the compute step
 * found tagged with the cluster. Without one (EC2 not sized, no tagged nodes) the line stays unpriced and
 * says why.
 */
export function withNodeTypes(
  lines: readonly RecommendationLine[],
  nodeTypes: Readonly<Record<string, string>>,
): RecommendationLine[] {
  return lines.map((line) => {
    if (line.kind !== 'workload' || line.nodeInstanceType !== undefined) return line;
    const type = line.cluster === undefined ? undefined : nodeTypes[line.cluster];
    return type ? { ...line, nodeInstanceType: type } : line;
  });
}

export interface ReportTotals {
  lines: number;
  /** USD a month: what shrinking over-provisioned lines saves, what growing under-provisioned ones adds, the net. */
  savings: number;
  added: number;
  net: number;
  unpriced: number;
  gaps: number;
}

export function reportTotals(lines: readonly RecommendationLine[], gaps: readonly ReportGap[]): ReportTotals {
  return {
    lines: lines.length,
    ...costTotals(lines),
    unpriced: lines.filter((line) => line.cost.priceSource === 'none').length,
    gaps: gaps.length,
  };
}

const MAX_GAP_LINES = 10;

/** The Slack summary: the totals, the top savings, what was not covered, and the links. */
export function reportNotification({
  lines,
  gaps,
  totals,
  topN,
  links,
  linkExpiresAt,
  execution,
}: {
  lines: RecommendationLine[];
  gaps: readonly ReportGap[];
  totals: ReportTotals;
  topN: number;
  links: RunbookReport['links'];
  linkExpiresAt: Date;
  execution: Execution;
}): RunbookReport {
  const facts: ReportFact[] = [
    { label: 'Savings a month', value: usd(totals.savings) },
    { label: 'Growing under-provisioned lines', value: usd(totals.added) },
    { label: 'Net a month', value: usd(totals.net) },
    { label: 'Lines', value: `${totals.lines} (${totals.unpriced} unpriced)` },
    { label: 'Links work until', value: linkExpiresAt.toISOString() },
  ];
  const top = topSavings(lines, topN).filter((line) => (line.cost.savings ?? 0) > 0);
  const sections: ReportSection[] = [];
  if (top.length > 0) {
    sections.push({
      title: `Top ${top.length} savings`,
      lines: top.map(
        (line) => `${displayName(line)}: ${usd(line.cost.savings ?? 0)} a month. ${line.reason}`,
      ),
    });
  }
  if (gaps.length > 0) {
    const shown = gaps.slice(0, MAX_GAP_LINES).map((gap) => `${gap.scope}: ${gap.reason}`);
    if (gaps.length > MAX_GAP_LINES) shown.push(`… and ${gaps.length - MAX_GAP_LINES} more in the report`);
    sections.push({ title: `Not covered (${gaps.length})`, lines: shown });
  }
  return {
    runbook: 'rightsizing',
    title: 'Right-sizing report',
    // A cluster or source not read needs someone; the report itself was written.
    outcome: gaps.some((gap) => gap.scope.startsWith('cluster ')) ? 'attention' : 'succeeded',
    subject: `${usd(totals.net)} a month to save`,
    facts,
    sections,
    ...(links && { links }),
    execution,
  };
}

/**
 * How long a presigned link can work: what the settings ask, but never past the signing credentials' own
 * expiry (S3 refuses a URL whose session has ended, whatever its X-Amz-Expires says). `expiresAt` is what the
 * Slack message promises. SigV4 takes at least one second; a minute is asked at the least.
 */
export function linkLifetime(
  askedHours: number,
  credentialsExpiration: Date | undefined,
  now: Date,
): { expiresIn: number; expiresAt: Date } {
  const asked = askedHours * 3600;
  const left =
    credentialsExpiration === undefined
      ? asked
      : Math.floor((credentialsExpiration.getTime() - now.getTime()) / 1000);
  const expiresIn = Math.max(60, Math.min(asked, left));
  return { expiresIn, expiresAt: new Date(now.getTime() + Math.min(expiresIn, Math.max(left, 0)) * 1000) };
}
