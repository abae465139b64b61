import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { requiredEnv } from '../../shared/env';
import { parseOrThrow } from '../../shared/errors';
import { correlateWithExecution, logger } from '../../shared/logger';
import { runbookReportSchema, type RunbookReport } from '../report';
import { buildSlackMessage } from '../slack-message';
import { postToSlack, type PostToSlackOptions } from '../slack-webhook';
import { createWebhookUrlSource, type WebhookUrlSource } from '../webhook-url';
import { awsClientOptions } from '../../aws/client-options';

const secrets = new SecretsManagerClient(awsClientOptions());
const webhookUrl = createWebhookUrlSource({ secrets, secretId: requiredEnv('WEBHOOK_SECRET_ID') });
const environment = requiredEnv('ENVIRONMENT_NAME');
const dashboardUrl = process.env.DASHBOARD_URL || undefined;

export interface NotifySlackDeps {
  webhookUrl: WebhookUrlSource;
  environment: string;
  dashboardUrl?: string;
  post?: PostToSlackOptions;
}

export interface NotifySlackResult {
  delivered: true;
  attempts: number;
}

/** Sends one runbook report to Slack. Failures are logged with the run's context and rethrown by name. */
export async function notifySlack(report: RunbookReport, deps: NotifySlackDeps): Promise<NotifySlackResult> {
  const about = { runbook: report.runbook, outcome: report.outcome };
  const message = buildSlackMessage(report, {
    environment: deps.environment,
    dashboardUrl: deps.dashboardUrl,
  });
  try {
    const url = await deps.webhookUrl();
    const { attempts } = await postToSlack(url, message, deps.post);
    logger.info('Slack notified', { ...about, host: url.host, attempts });
    return { delivered: true, attempts };
  } catch (error) {
    logger.error('Slack notification failed', { ...about, error });
    throw error;
  }
}

export const handler = async (event: unknown): Promise<NotifySlackResult> => {
  const report = parseOrThrow(runbookReportSchema, event, 'runbook report');
  correlateWithExecution(report.execution.id);
  logger.debug('Runbook report', { report });
  return notifySlack(report, { webhookUrl, environment, dashboardUrl });
};
