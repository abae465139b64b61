import type { RunbookFunctionEntry } from '../shared/function-table';

/** The notifier every runbook's ASL calls as `${NotifySlackFunctionArn}`; knows no runbook. */
export const notifySlackFunction = {
  handler: 'lambdas/notify/handlers/notify-slack.ts',
  serviceName: 'notify-slack',
  substitution: 'NotifySlackFunctionArn',
  description: 'Posts runbook milestones to Slack',
  reaches: ['secretsmanager', 'internet'],
} as const satisfies RunbookFunctionEntry;
