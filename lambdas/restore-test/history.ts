import type { S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import { getJsonObject, S3InvalidObject } from '../aws/s3-objects';
import { logger } from '../shared/logger';
import { historyKey } from './metric-names';

// One document per database (`restore-test/history/<database>.json`): the last runs' figures, for the next
// run's row-count comparison (`maxDropRatio`) and the trend in the report and the Slack summary.

/** Runs kept: two years of monthly tests. */
export const HISTORY_RUNS = 24;

const seconds = z.optional(z.number().check(z.nonnegative()));

export const historyRunSchema = z.object({
  execution: z.string(),
  startedAt: z.string(),
  passed: z.boolean(),
  rtoSeconds: seconds,
  rpoSeconds: seconds,
  snapshotAgeSeconds: seconds,
  /** Row counts of a validated run, by `schema.table`. */
  counts: z.optional(z.record(z.string(), z.number())),
});
export type HistoryRun = z.output<typeof historyRunSchema>;

export const historySchema = z.object({
  database: z.string(),
  /** Newest first. */
  runs: z.array(historyRunSchema),
});
export type History = z.output<typeof historySchema>;

/** The row counts of the newest run that passed: what `maxDropRatio` compares with. */
export function previousCounts(history: History | undefined): Record<string, number> | undefined {
  return history?.runs.find((run) => run.passed && run.counts !== undefined)?.counts;
}

/** The history with `run` added in front, the oldest dropped past HISTORY_RUNS. */
export function withRun(history: History | undefined, database: string, run: HistoryRun): History {
  return { database, runs: [run, ...(history?.runs ?? [])].slice(0, HISTORY_RUNS) };
}

/**
 * The database's history, or undefined: none yet (a first run), or unreadable (logged, and treated as none, so a
 * damaged document never stops a restore test). S3 not answering throws S3Unavailable, which the workflow
 * retries.
 */
export async function readHistory(
  s3: S3Client,
  bucket: string,
  database: string,
): Promise<History | undefined> {
  try {
    return await getJsonObject(s3, { bucket, key: historyKey(database) }, historySchema);
  } catch (error) {
    if (!(error instanceof S3InvalidObject)) throw error;
    if ((error.cause as Error | undefined)?.name !== 'NoSuchKey') {
      logger.warn('history unreadable: the run goes on as if it were the first', { error });
    }
    return undefined;
  }
}
