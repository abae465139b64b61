import * as z from 'zod/mini';
import { parseOrThrow, RunbookError } from '../shared/errors';
import type { RestoreDatabase } from '../../lib/config/restore-tests';

// What starts a restore test: its database's schedule, `{task, database, scheduledTime}`, or a person with
// `aws stepfunctions start-execution` and the same input without the time.

/** The start names no configured database, or is not a restore-test start: nothing is restored. */
export class InvalidRestoreTestInput extends RunbookError {
  override name = 'InvalidRestoreTestInput';
}

const startSchema = z.object({
  task: z.literal('restore-test', { error: 'must be "restore-test"' }),
  database: z.string().check(z.minLength(1)),
  /** Filled by EventBridge Scheduler (`<aws.scheduler.scheduled-time>`): two deliveries of one start share it. */
  scheduledTime: z.optional(
    z.string().check(z.refine((value) => !Number.isNaN(Date.parse(value)), 'must be an ISO 8601 time')),
  ),
});

export interface RestoreTestStart {
  database: RestoreDatabase;
  /** Names the run: the database and its scheduled time, or the execution when started by hand. */
  runKey: string;
}

/** The database a start names, or InvalidRestoreTestInput naming what is wrong and what is configured. */
export function readStart(
  event: unknown,
  databases: Readonly<Record<string, RestoreDatabase>>,
  executionName: string,
): RestoreTestStart {
  const start = parseOrThrow(startSchema, event, 'The restore test start', InvalidRestoreTestInput);
  const database = databases[start.database];
  if (!database || !Object.hasOwn(databases, start.database)) {
    throw new InvalidRestoreTestInput(
      `The restore test start names database "${start.database}", which is not configured (configured: ${Object.keys(databases).join(', ')})`,
    );
  }
  return { database, runKey: `${database.name}/${start.scheduledTime ?? executionName}` };
}
