import { RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import { restoreDatabaseSchema } from '../../../lib/config/restore-tests';
import { awsClientOptions } from '../../aws/client-options';
import { InvalidSetting, requiredEnv } from '../../shared/env';
import { parseOrThrow } from '../../shared/errors';
import { executionSchema } from '../../shared/execution';
import { correlateWithExecution, logger } from '../../shared/logger';
import { readHistory } from '../history';
import type { RestorePlan } from '../plan';
import { planRestoreTest } from '../prepare';
import { readStart } from '../start';

const bucket = requiredEnv('REPORT_BUCKET');
const rds = new RDSClient(awsClientOptions());
const s3 = new S3Client(awsClientOptions());

const inputSchema = z.object({
  event: z.unknown(),
  execution: executionSchema,
  /** The configured databases by name, as the construct wrote them into the definition. */
  databasesJson: z.string(),
});
const databasesSchema = z.record(z.string(), restoreDatabaseSchema);

function readDatabases(json: string) {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    throw new InvalidSetting(`The Databases substitution is not JSON: ${(error as Error).message}`);
  }
  return parseOrThrow(databasesSchema, raw, 'The Databases substitution', InvalidSetting);
}

export async function handler(input: unknown): Promise<RestorePlan> {
  const { event, execution, databasesJson } = parseOrThrow(inputSchema, input, 'The prepare input');
  correlateWithExecution(execution.id);
  const { database, runKey } = readStart(event, readDatabases(databasesJson), execution.name);
  const plan = await planRestoreTest(
    { rds, readHistory: (database) => readHistory(s3, bucket, database) },
    { database, runKey, now: new Date() },
  );
  logger.info('restore test planned', {
    database: database.name,
    source: plan.source,
    restore: plan.restore,
    identifiers: plan.identifiers,
    deadline: plan.deadline,
  });
  return plan;
}
