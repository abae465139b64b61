import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createSlackAppClient, type SlackAppClient, type SlackMessageRef } from '../notify/slack-app';
import type { SlackMessage } from '../notify/slack-message';
import { postToSlack } from '../notify/slack-webhook';
import { createWebhookUrlSource, type WebhookUrlSource } from '../notify/webhook-url';
import { requiredEnv } from '../shared/env';

// Where the canary speaks. Slack-app mode (a bot token and a channel) gives the run one thread whose parent is
// rewritten at each step and Approve / Reject buttons; an incoming webhook can do neither, so in webhook mode
// the run posts its start, its approval request and its end as separate messages, and nothing per step.

export interface CanarySlack {
  /** Whether messages can be threaded and updated (Slack-app mode). */
  readonly threads: boolean;
  /** Posts a message, in the thread of `threadTs` when given; answers where it is (app mode only). */
  post(message: SlackMessage, threadTs?: string): Promise<SlackMessageRef | undefined>;
  /** Rewrites a message posted before (app mode only). */
  update(ref: SlackMessageRef, message: SlackMessage): Promise<void>;
}

export function appSlack(client: SlackAppClient, channel: string): CanarySlack {
  return {
    threads: true,
    post: (message, threadTs) =>
      client.postMessage({ channel, ...message, ...(threadTs !== undefined && { threadTs }) }),
    update: async (ref, message) => {
      await client.updateMessage({ channel: ref.channel, ts: ref.ts, ...message });
    },
  };
}

export function webhookSlack(url: WebhookUrlSource): CanarySlack {
  return {
    threads: false,
    post: async (message) => {
      await postToSlack(await url(), message);
      return undefined;
    },
    update: async () => {},
  };
}

/** The transport the deployment configured: Slack-app mode when a bot token secret and a channel are set. */
export function slackFromEnvironment(env: NodeJS.ProcessEnv, secrets: SecretsManagerClient): CanarySlack {
  const botTokenSecret = env.SLACK_BOT_TOKEN_SECRET_ID;
  const channel = env.SLACK_CHANNEL_ID;
  if (botTokenSecret && channel) {
    const baseUrl = env.SLACK_API_URL;
    return appSlack(
      createSlackAppClient({ secrets, secretId: botTokenSecret, ...(baseUrl ? { baseUrl } : {}) }),
      channel,
    );
  }
  return webhookSlack(createWebhookUrlSource({ secrets, secretId: requiredEnv('WEBHOOK_SECRET_ID', env) }));
}
