import * as z from 'zod/mini';

/** An ISO 8601 timestamp as Step Functions writes `$$.State.EnteredTime`. */
export const isoTimestamp = z
  .string()
  .check(z.refine((value) => !Number.isNaN(Date.parse(value)), 'must be an ISO 8601 timestamp'));

/**
 * Whether a wait that began at `startedAt` and may last `seconds` is over at `now`. The runbooks' waits are
 * bounded by the clock, not by a count of polls: a poll that takes 30 s against a slow API server makes the
 * wait poll less often, never last longer.
 */
export function hasExpired(startedAt: string, seconds: number, now: Date): boolean {
  return now.getTime() - Date.parse(startedAt) >= seconds * 1000;
}
