import { RDSClient } from '@aws-sdk/client-rds';
import * as z from 'zod/mini';
import { awsClientOptions } from '../../aws/client-options';
import { requiredEnv } from '../../shared/env';
import { parseOrThrow } from '../../shared/errors';
import { executionSchema } from '../../shared/execution';
import { correlateWithExecution, logger } from '../../shared/logger';
import { cleanUpRun } from '../cleanup';
import { planSchema, type CleanupResult } from '../plan';

const environment = requiredEnv('ENVIRONMENT_NAME');
const rds = new RDSClient(awsClientOptions());
const inputSchema = z.object({ execution: executionSchema, plan: planSchema });

export async function handler(input: unknown): Promise<CleanupResult> {
  const { execution, plan } = parseOrThrow(inputSchema, input, 'The cleanup input');
  correlateWithExecution(execution.id);
  const result = await cleanUpRun(rds, {
    identifiers: plan.identifiers,
    environment,
    executionId: execution.id,
    now: new Date(),
  });
  logger.info('restore test cleaned up', { ...result });
  return result;
}
