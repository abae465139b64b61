import { RunbookError } from '../shared/errors';
import { readRun } from './run';

// The optional pre-rollout webhook (Flagger's `pre-rollout` hook): called once the canary's pods are ready and
// before any traffic reaches them. Anything but a 2xx answer in time stops the run, and the workflow's abort
// scales the canary back down.

/** The smoke test did not pass: an answer other than 2xx, no answer in time, no connection, or a redirect. */
export class SmokeTestFailed extends RunbookError {
  override name = 'SmokeTestFailed';
}

const BODY_SHOWN = 300;

export interface SmokeTestResult {
  status: number;
  ms: number;
}

export async function runSmokeTest(
  input: { run?: unknown },
  fetchImpl: typeof fetch = fetch,
): Promise<SmokeTestResult> {
  const run = readRun(input.run);
  const smokeTest = run.service.smokeTest;
  if (!smokeTest) throw new SmokeTestFailed(`${run.service.name} has no smoke test configured`);
  const url = new URL(smokeTest.url);
  const began = performance.now();
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        service: run.service.name,
        runId: run.runId,
        namespace: run.service.namespace,
        canaryDeployment: run.service.canaryDeployment,
        canaryImages: run.canaryImages,
        requestedBy: run.requestedBy,
        reference: run.reference,
      }),
      signal: AbortSignal.timeout(smokeTest.timeoutSeconds * 1000),
      redirect: 'error',
    });
  } catch (error) {
    // fetch says only "fetch failed"; its cause says why (refused, DNS, TLS, a redirect answered).
    const { message, cause } = error as Error;
    const reason =
      (error as Error).name === 'TimeoutError'
        ? `no answer within ${smokeTest.timeoutSeconds} s`
        : `the request failed (${cause instanceof Error ? `${message}: ${cause.message}` : message})`;
    throw new SmokeTestFailed(`The smoke test at ${url.host}${url.pathname} failed: ${reason}`);
  }
  const body = (await response.text().catch(() => '')).slice(0, BODY_SHOWN);
  if (response.status < 200 || response.status > 299) {
    throw new SmokeTestFailed(
      `The smoke test at ${url.host}${url.pathname} answered ${response.status}${body ? `: ${body}` : ''}`,
    );
  }
  return { status: response.status, ms: Math.round(performance.now() - began) };
}
