import type { RunbookFunctionTable } from '../shared/function-table';

/** The rollback runbook's Lambdas; read by `lib/rollback-runbook.ts` and by its rehearsal. */
export const rollbackFunctions = {
  prepare: {
    handler: 'lambdas/rollback/handlers/prepare.ts',
    serviceName: 'rollback-prepare',
    substitution: 'PrepareFunctionArn',
    description: 'Rollback runbook: maps the alarm to a Deployment, takes the lock, honours the cooldown',
    reaches: ['monitoring', 'dynamodb', 'states', 'eks', 'kubernetes'],
  },
  undo: {
    handler: 'lambdas/rollback/handlers/undo.ts',
    serviceName: 'rollback-undo',
    substitution: 'UndoFunctionArn',
    description: 'Rollback runbook: rolls the Deployment back to its previous revision',
    reaches: ['dynamodb', 'eks', 'kubernetes'],
  },
  rolloutStatus: {
    handler: 'lambdas/rollback/handlers/rollout-status.ts',
    serviceName: 'rollback-rollout-status',
    substitution: 'RolloutStatusFunctionArn',
    description: "Rollback runbook: reads the Deployment's rollout status",
    reaches: ['eks', 'kubernetes'],
  },
  alarmStatus: {
    handler: 'lambdas/rollback/handlers/alarm-status.ts',
    serviceName: 'rollback-alarm-status',
    substitution: 'AlarmStatusFunctionArn',
    description: "Rollback runbook: reads the alarm's state while waiting for recovery",
    reaches: ['monitoring'],
  },
} as const satisfies RunbookFunctionTable;
