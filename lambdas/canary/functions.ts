import type { RunbookFunctionEntry, RunbookFunctionTable } from '../shared/function-table';

/**
 * The canary promotion's Lambdas; read by `lib/canary-runbook.ts` and by its rehearsal. One role per kind of
 * access: `start` and `traffic` write in the cluster (edit), `observe` only reads it and the load balancer,
 * `analyse` only reads metrics and the lock, `approval` is the Slack endpoint (a function URL).
 */
export const canaryFunctions = {
  start: {
    handler: 'lambdas/canary/handlers/start.ts',
    serviceName: 'canary-start',
    substitution: 'CanaryStartFunctionArn',
    description:
      'Canary promotion: reads the CanaryRequested event, takes the workload lock, deploys the new version to the canary Deployment',
    reaches: ['dynamodb', 'states', 'eks', 'kubernetes'],
  },
  traffic: {
    handler: 'lambdas/canary/handlers/traffic.ts',
    serviceName: 'canary-traffic',
    substitution: 'CanaryTrafficFunctionArn',
    description:
      "Canary promotion: sets the canary's weight on its router, promotes the canary's pod template, scales the canary down",
    reaches: ['eks', 'kubernetes'],
  },
  observe: {
    handler: 'lambdas/canary/handlers/observe.ts',
    serviceName: 'canary-observe',
    substitution: 'CanaryObserveFunctionArn',
    description:
      "Canary promotion: reads whether a step's weight really routes (load balancer rules, route status, ready pods) and rollouts",
    reaches: ['eks', 'kubernetes', 'elasticloadbalancing'],
  },
  analyse: {
    handler: 'lambdas/canary/handlers/analyse.ts',
    serviceName: 'canary-analyse',
    substitution: 'CanaryAnalyseFunctionArn',
    description:
      'Canary promotion: judges a step from CloudWatch (one GetMetricData call), honours an abort asked by an alarm or a person',
    reaches: ['monitoring', 'dynamodb'],
  },
  smokeTest: {
    handler: 'lambdas/canary/handlers/smoke-test.ts',
    serviceName: 'canary-smoke-test',
    substitution: 'CanarySmokeTestFunctionArn',
    description: "Canary promotion: calls the service's smoke-test webhook before any traffic shifts",
    reaches: ['internet'],
    timeoutSeconds: 900,
  },
  requestApproval: {
    handler: 'lambdas/canary/handlers/request-approval.ts',
    serviceName: 'canary-request-approval',
    substitution: 'CanaryRequestApprovalFunctionArn',
    description:
      'Canary promotion: records the approval task token on the lock and asks the approvers in Slack',
    reaches: ['dynamodb', 'secretsmanager', 'internet'],
  },
  thread: {
    handler: 'lambdas/canary/handlers/thread.ts',
    serviceName: 'canary-thread',
    substitution: 'CanaryThreadFunctionArn',
    description:
      "Canary promotion: the run's Slack thread (the parent updated at each step) and the status the CLI reads",
    reaches: ['dynamodb', 'secretsmanager', 'internet'],
  },
} as const satisfies RunbookFunctionTable;

/** The Slack approval endpoint (a Lambda function URL): not a step of the workflow. */
export const canaryApprovalEndpoint = {
  handler: 'lambdas/canary/handlers/approval-endpoint.ts',
  serviceName: 'canary-approval-endpoint',
  substitution: 'CanaryApprovalEndpointFunctionArn',
  description:
    "Canary promotion: Slack's Approve / Reject buttons (signature, age, approvers checked; a second click does nothing)",
  // The internet: hooks.slack.com, the click's response_url, where the clicker's answer goes.
  reaches: ['dynamodb', 'secretsmanager', 'states', 'internet'],
} as const satisfies RunbookFunctionEntry;
