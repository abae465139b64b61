import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { RunbookError } from '../shared/errors';

/** The secret does not hold a usable webhook URL. The message names the secret, never its value. */
export class SlackWebhookMisconfigured extends RunbookError {
  override name = 'SlackWebhookMisconfigured';
}

export interface WebhookUrlSourceOptions {
  secrets: SecretsManagerClient;
  /** Name or ARN of the secret: a plain URL or `{"webhookUrl": "…"}`. */
  secretId: string;
  /** How long a read is reused, so a rotated URL is picked up without a redeploy. @default 300_000 */
  ttlMs?: number;
  /** Clock in epoch milliseconds. @default Date.now */
  now?: () => number;
}

export type WebhookUrlSource = () => Promise<URL>;

// Plain http only reaches a local receiver: tests and the offline rehearsal.
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Returns a function that resolves the webhook URL, reading the secret at most once per `ttlMs`. */
export function createWebhookUrlSource({
  secrets,
  secretId,
  ttlMs = 300_000,
  now = () => Date.now(),
}: WebhookUrlSourceOptions): WebhookUrlSource {
  let cached: { url: Promise<URL>; expiresAt: number } | undefined;
  return () => {
    if (cached === undefined || now() >= cached.expiresAt) {
      // Concurrent callers share one read; a failed read is not kept, so the next call tries again.
      const url = readWebhookUrl(secrets, secretId);
      const entry = { url, expiresAt: now() + ttlMs };
      cached = entry;
      url.catch(() => {
        if (cached === entry) cached = undefined;
      });
    }
    return cached.url;
  };
}

async function readWebhookUrl(secrets: SecretsManagerClient, secretId: string): Promise<URL> {
  const { SecretString: value } = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (value === undefined) throw new SlackWebhookMisconfigured(`secret ${secretId} has no string value`);
  const url = parseUrl(webhookUrlText(value.trim()));
  if (url === undefined) {
    throw new SlackWebhookMisconfigured(
      `secret ${secretId} does not hold a webhook URL: expected a URL or {"webhookUrl": "<url>"}`,
    );
  }
  const allowed = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
  if (!allowed) {
    throw new SlackWebhookMisconfigured(
      `secret ${secretId} does not hold an https URL (plain http is accepted only on loopback)`,
    );
  }
  return url;
}

/** Unwraps the JSON form. Parse errors are not kept: their messages quote the secret. */
function webhookUrlText(value: string): string | undefined {
  if (!value.startsWith('{')) return value;
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed === 'object' && parsed !== null && 'webhookUrl' in parsed) {
      return typeof parsed.webhookUrl === 'string' ? parsed.webhookUrl.trim() : undefined;
    }
  } catch {
    // Reported below as "does not hold a webhook URL".
  }
  return undefined;
}

function parseUrl(text: string | undefined): URL | undefined {
  return text !== undefined && URL.canParse(text) ? new URL(text) : undefined;
}
