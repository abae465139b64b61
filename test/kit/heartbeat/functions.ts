import type { RunbookFunctionTable } from '../../../lambdas/shared/function-table';

/** The heartbeat's one Lambda, read by its construct and by its rehearsal like any runbook's table. */
export const heartbeatFunctions = {
  check: {
    handler: 'test/kit/heartbeat/handlers/check.ts',
    serviceName: 'heartbeat-check',
    substitution: 'CheckFunctionArn',
    description: 'Heartbeat (test-only runbook): answers that the kit works',
    reaches: [],
  },
} as const satisfies RunbookFunctionTable;
