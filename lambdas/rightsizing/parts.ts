import type { S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import { getJsonObject, putObject } from '../aws/s3-objects';
import type { RecommendationLine } from './model';

// What each collecting step of a run leaves in the reports bucket for the report step: its lines and the
// sources it could not read. Ten thousand workloads do not fit a state's 256 KB, so the state carries only
// where a part is and how many lines it holds.

export const RUNS_PREFIX = 'rightsizing/runs/';
export const REPORTS_PREFIX = 'rightsizing/reports/';

export type PartName = 'workloads' | 'compute';

/** A source a step could not read (a namespace denied, Compute Optimizer throttled): reported, not fatal. */
export interface SourceFailure {
  /** `kubernetes`, `container-insights`, `ec2`, `compute-optimizer`… */
  source: string;
  /** The cluster (and namespace), or the region. */
  location: string;
  error: string;
}

export interface PartSummary {
  part: PartName;
  /** The cluster, for a workloads part. */
  cluster?: string;
  bucket: string;
  key: string;
  lines: number;
  failures: number;
  /** GetMetricData calls the step made, and the least the API's limits allow for its series. */
  metricCalls?: number;
  metricCallsLowerBound?: number;
}

const text = z.string().check(z.minLength(1));
const resources = z.looseObject({
  cpuMillicores: z.optional(z.number()),
  memoryBytes: z.optional(z.number()),
  instanceType: z.optional(z.string()),
});
/** A line as the report step reads it back: the fields it uses are checked, the evidence passes through. */
export const recommendationLineSchema = z.looseObject({
  kind: z.enum(['workload', 'ec2', 'asg', 'rds']),
  id: text,
  cluster: z.optional(z.string()),
  namespace: z.optional(z.string()),
  name: text,
  source: z.enum(['cloudwatch', 'compute-optimizer']),
  finding: z.enum([
    'over-provisioned',
    'under-provisioned',
    'optimized',
    'insufficient-data',
    'hpa-managed',
    'no-requests',
  ]),
  current: resources,
  recommended: resources,
  evidence: z.looseObject({}),
  reason: z.string(),
  cost: z.looseObject({
    current: z.optional(z.number()),
    recommended: z.optional(z.number()),
    savings: z.optional(z.number()),
    priceSource: z.enum(['price-list', 'bundled', 'none']),
    method: z.string(),
  }),
});

const failureSchema = z.object({ source: text, location: z.string(), error: z.string() });

export const collectedPartSchema = z.object({
  part: z.enum(['workloads', 'compute']),
  cluster: z.optional(z.string()),
  collectedAt: text,
  lines: z.array(recommendationLineSchema),
  failures: z.array(failureSchema),
});

export const partSummarySchema = z.object({
  part: z.enum(['workloads', 'compute']),
  cluster: z.optional(z.string()),
  bucket: text,
  key: text,
  lines: z.number(),
  failures: z.number(),
  metricCalls: z.optional(z.number()),
  metricCallsLowerBound: z.optional(z.number()),
});

export const partKey = (executionName: string, part: PartName, cluster?: string): string =>
  `${RUNS_PREFIX}${executionName}/${part}${cluster ? `-${cluster}` : ''}.json`;

/** Writes one collecting step's lines where the report step reads them, and says where, in the state. */
export async function storePart(
  s3: S3Client,
  where: { bucket: string; executionName: string; part: PartName; cluster?: string; now: Date },
  found: { lines: RecommendationLine[]; failures: SourceFailure[] },
  calls?: { metricCalls: number; metricCallsLowerBound: number },
): Promise<PartSummary> {
  const key = partKey(where.executionName, where.part, where.cluster);
  await putObject(
    s3,
    { bucket: where.bucket, key },
    {
      part: where.part,
      ...(where.cluster !== undefined && { cluster: where.cluster }),
      collectedAt: where.now.toISOString(),
      lines: found.lines,
      failures: found.failures,
    },
  );
  return {
    part: where.part,
    ...(where.cluster !== undefined && { cluster: where.cluster }),
    bucket: where.bucket,
    key,
    lines: found.lines.length,
    failures: found.failures.length,
    ...calls,
  };
}

/** Reads a part back, parsed; a missing or malformed part is S3InvalidObject (the report names it). */
export function readPart(s3: S3Client, summary: z.output<typeof partSummarySchema>) {
  return getJsonObject(s3, { bucket: summary.bucket, key: summary.key }, collectedPartSchema);
}
