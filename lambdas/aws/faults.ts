import type { RunbookError } from '../shared/errors';

/** The error names AWS services use for throttling (after the SDK's own retries). */
const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
]);

/** Whether an SDK error is the service's throttling (a request-rate limit), after the SDK's own retries. */
export function isThrottling(error: unknown): boolean {
  return THROTTLING.has((error as Error | undefined)?.name ?? '');
}

/**
 * Whether an SDK error means "the service did not answer, ask again later": throttling, a 5xx, or
 * `TimeoutError` (the request timeout of awsClientOptions ran out on every attempt).
 */
export function isTransientAwsFault(error: unknown): boolean {
  const name = (error as Error | undefined)?.name ?? '';
  return (
    THROTTLING.has(name) || name === 'TimeoutError' || (error as { $fault?: string }).$fault === 'server'
  );
}

/**
 * Runs one SDK call and names a transient fault with the adapter's `…Unavailable` error (the original kept
 * as cause), so the workflow can route on it; any other error passes through unchanged.
 */
export async function sendNamingFaults<T>(
  operation: string,
  call: () => Promise<T>,
  Unavailable: new (message: string, options?: { cause?: unknown }) => RunbookError,
): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isTransientAwsFault(error)) {
      throw new Unavailable(`${operation} failed: ${(error as Error).name}`, { cause: error });
    }
    throw error;
  }
}
