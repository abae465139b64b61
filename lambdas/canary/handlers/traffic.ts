import { clusterAccessFromEnvironment } from '../../kubernetes/lambda-cluster-access';
import { correlateWithExecution, logger } from '../../shared/logger';
import type { CanaryRun } from '../run';
import { changeTraffic, readTrafficRequest } from '../traffic';

const kubernetes = clusterAccessFromEnvironment();

/**
 * Answers the run itself, the workflow's `$.run`: a promotion's generation and time go into it, so the state
 * machine needs no extra state to carry them to the rollout check.
 */
export async function handler(event: unknown): Promise<CanaryRun> {
  const request = readTrafficRequest(event);
  correlateWithExecution(request.run.executionArn);
  const result = await changeTraffic(request, { kubernetes, now: () => new Date() });
  logger.info('traffic', {
    action: request.action,
    weight: result.run.weight,
    stepIndex: result.run.stepIndex,
    generation: result.generation,
    detail: result.detail,
  });
  return result.generation === undefined
    ? result.run
    : { ...result.run, promotedGeneration: result.generation, promotedAt: result.at };
}
