import { correlateWithExecution, logger } from '../../shared/logger';
import { runSmokeTest, type SmokeTestResult } from '../smoke-test';

export async function handler(event: { run?: { executionArn?: string } }): Promise<SmokeTestResult> {
  correlateWithExecution(event.run?.executionArn);
  const result = await runSmokeTest(event);
  logger.info('smoke test passed', { ...result });
  return result;
}
