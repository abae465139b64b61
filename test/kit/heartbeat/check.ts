import * as z from 'zod/mini';
import { RunbookError, parseOrThrow } from '../../../lambdas/shared/errors';
import { executionSchema } from '../../../lambdas/shared/execution';

/** The heartbeat's check could not answer: the workflow pages, as a real runbook's failure would. */
export class HeartbeatFailed extends RunbookError {
  override name = 'HeartbeatFailed';
}

const checkInputSchema = z.object({
  execution: executionSchema,
  /** The configured greeting, substituted into the ASL. */
  greeting: z.string().check(z.minLength(1)),
});

export interface HeartbeatCheck {
  greeting: string;
  checkedAt: string;
}

/** The heartbeat's domain: parse, answer, nothing else. */
export function checkHeartbeat(input: unknown, now: () => Date): HeartbeatCheck {
  const { greeting } = parseOrThrow(checkInputSchema, input, 'The heartbeat input');
  return { greeting, checkedAt: now().toISOString() };
}
