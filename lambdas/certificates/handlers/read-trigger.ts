import { parseOrThrow } from '../../shared/errors';
import { jsonEnv, requiredEnv } from '../../shared/env';
import { executionSchema } from '../../shared/execution';
import { correlateWithExecution, logger } from '../../shared/logger';
import * as z from 'zod/mini';
import { checkedRegions, readTrigger, regionsSetting, type CheckTrigger } from '../trigger';

const context = {
  account: requiredEnv('ACCOUNT_ID'),
  regions: checkedRegions(requiredEnv('AWS_REGION'), jsonEnv('REGIONS', regionsSetting)),
};

const inputSchema = z.object({ event: z.unknown(), execution: executionSchema });

export async function handler(input: unknown): Promise<CheckTrigger> {
  const { event, execution } = parseOrThrow(inputSchema, input, 'The read-trigger input');
  correlateWithExecution(execution.id);
  const trigger = readTrigger(event, context);
  logger.info('certificate check started', { trigger });
  return trigger;
}
