import { Logger } from '@aws-lambda-powertools/logger';

/** One logger per Lambda, created at module scope; `serviceName` comes from POWERTOOLS_SERVICE_NAME. */
export const logger = new Logger();

/** The execution id is the correlation id: every log line of one runbook run can be found with it. */
export function correlateWithExecution(executionId: string | undefined): void {
  if (executionId) logger.setCorrelationId(executionId);
}
