import { RDSClient } from '@aws-sdk/client-rds';
import * as z from 'zod/mini';
import { awsClientOptions } from '../../aws/client-options';
import { parseOrThrow } from '../../shared/errors';
import { executionSchema } from '../../shared/execution';
import { correlateWithExecution, logger } from '../../shared/logger';
import { planSchema, type RestoreStatus } from '../plan';
import { readRestoreStatus } from '../status';

const rds = new RDSClient(awsClientOptions());
const inputSchema = z.object({ execution: executionSchema, plan: planSchema });

export async function handler(input: unknown): Promise<RestoreStatus> {
  const { execution, plan } = parseOrThrow(inputSchema, input, 'The check-restore input');
  correlateWithExecution(execution.id);
  const status = await readRestoreStatus(rds, plan, new Date());
  logger.info('restored instance read', { instance: plan.identifiers.instance, status: status.status });
  return status;
}
