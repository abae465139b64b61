import { RDSClient } from '@aws-sdk/client-rds';
import * as z from 'zod/mini';
import { awsClientOptions } from '../../aws/client-options';
import type { RunbookReport } from '../../notify/report';
import { InvalidSetting, requiredEnv } from '../../shared/env';
import { parseOrThrow } from '../../shared/errors';
import { executionSchema } from '../../shared/execution';
import { correlateWithExecution, logger } from '../../shared/logger';
import { deleteLeftovers, type Leftover } from '../cleanup';

const environment = requiredEnv('ENVIRONMENT_NAME');
const maxAgeHours = Number(requiredEnv('MAX_AGE_HOURS'));
if (!Number.isInteger(maxAgeHours) || maxAgeHours < 1) {
  throw new InvalidSetting(
    `environment variable MAX_AGE_HOURS must be a whole number of hours, not "${process.env.MAX_AGE_HOURS}"`,
  );
}
const rds = new RDSClient(awsClientOptions());
const inputSchema = z.object({ execution: executionSchema });

export interface JanitorOutput {
  deleted: Leftover[];
  young: number;
  /** Present only when something was deleted: the workflow stays quiet otherwise. */
  notification?: RunbookReport;
}

const MAX_LINES = 20;

export async function handler(input: unknown): Promise<JanitorOutput> {
  const { execution } = parseOrThrow(inputSchema, input, 'The janitor input');
  correlateWithExecution(execution.id);
  const { deleted, young } = await deleteLeftovers(rds, { environment, maxAgeHours, now: new Date() });
  logger.info('restore-test leftovers checked', { deleted, young, maxAgeHours });
  if (deleted.length === 0) return { deleted, young };
  const lines = deleted.map(
    (item) =>
      `${item.kind} ${item.id}${item.database ? ` (${item.database})` : ''}, ${item.ageHours} h old${item.execution ? `, from ${item.execution.split(':').pop() ?? item.execution}` : ''}`,
  );
  return {
    deleted,
    young,
    notification: {
      runbook: 'restore-test',
      title: 'Restore test janitor',
      outcome: 'attention',
      subject: `${deleted.length} leftover database${deleted.length === 1 ? '' : 's'} deleted`,
      reasonText: `A restore test left these behind (a run stopped before its cleanup): they were older than ${maxAgeHours} hours and are now being deleted. Look at the run that created each.`,
      sections: [
        {
          title: `Deleted (${deleted.length})`,
          lines:
            lines.length > MAX_LINES
              ? [...lines.slice(0, MAX_LINES - 1), `… and ${lines.length - MAX_LINES + 1} more`]
              : lines,
        },
      ],
      execution,
    },
  };
}
