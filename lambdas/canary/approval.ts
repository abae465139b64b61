import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SFNClient } from '@aws-sdk/client-sfn';
import * as z from 'zod/mini';
import { parseSlackAction, SlackPayloadMalformed, verifySlackRequest } from '../notify/slack-signature';
import { parseOrThrow, RunbookError } from '../shared/errors';
import { logger } from '../shared/logger';
import type { ApprovalDecision } from '../workload-lock/canary-lock';
import { answerApproval, answerText, type ApprovalLock } from './answer-approval';
import type { RespondToSlack, SlackResponse } from './slack-response';

// The Slack approval endpoint's domain: a click verified (signature, age, approver) and answered through
// answer-approval.ts, the person who clicked told through the click's response_url.

/** `slack:U…`, as an answer from Slack records who clicked. */
export const slackUser = (userId: string): string => `slack:${userId}`;

/** Who answered, as Slack shows it: a Slack user as a mention, anyone else as recorded. */
export const slackMention = (by: string): string => (by.startsWith('slack:') ? `<@${by.slice(6)}>` : by);

/** The value of the Approve and Reject buttons (lambdas/canary/messages.ts writes it). */
export const approvalButtonValueSchema = z.strictObject({
  workload: z.string().check(z.minLength(1)),
  executionArn: z.string().check(z.regex(/^arn:aws[\w-]*:states:/, 'must be a Step Functions execution ARN')),
  decision: z.enum(['approve', 'reject']),
});

const ACTION_DECISIONS: Readonly<Record<string, ApprovalDecision>> = {
  'canary-approve': 'approve',
  'canary-reject': 'reject',
};

/** The approvers of each workload, by Slack user id: `CANARY_APPROVERS` = `{"<workload>": ["U…"]}`. */
export const approversSchema = z.record(z.string(), z.array(z.string().check(z.regex(/^[UW][A-Z0-9]+$/))));
export type Approvers = z.output<typeof approversSchema>;

/** A Lambda function URL request (payload format 2.0), the fields read here. */
const functionUrlEventSchema = z.object({
  headers: z._default(z.record(z.string(), z.string()), {}),
  body: z.optional(z.string()),
  isBase64Encoded: z._default(z.boolean(), false),
  requestContext: z.object({ http: z.object({ method: z.string() }) }),
});

export interface FunctionUrlResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export interface SlackApprovalDeps {
  /** The Slack app's signing secret (Secrets Manager, cached: createSigningSecretSource). */
  signingSecret: () => Promise<string>;
  approvers: Approvers;
  lock: ApprovalLock;
  sfn: SFNClient;
  now: () => Date;
  /** Posts the answer to the click's `response_url` (createSlackResponder: one short attempt, never throws). */
  respond: RespondToSlack;
}

const plain = (statusCode: number, body: string): FunctionUrlResponse => ({
  statusCode,
  headers: { 'content-type': 'text/plain; charset=utf-8' },
  body,
});

/** `text` for the clicker only; the message keeps its buttons (a refusal, or nothing left to decide). */
const ephemeral = (text: string): SlackResponse => ({
  response_type: 'ephemeral',
  replace_original: false,
  text,
});
/** The clicked message becomes `text`: the decision and who took it, its buttons gone. */
const replacement = (text: string): SlackResponse => ({ replace_original: true, text });

/** The request is not one the endpoint acts on (not Slack's, or not a button of ours). */
export class SlackApprovalRefused extends RunbookError {
  override name = 'SlackApprovalRefused';
}

/**
 * Answers a click on Approve or Reject. A request that is not verifiably Slack's (unsigned, forged, older than
 * 5 minutes) is refused with 401 before anything is read; a click by someone who is not an approver of that
 * workload gets a refusal and changes nothing. Slack needs an answer within 3 seconds: every outcome is a 200,
 * and the clicker is told through the click's `response_url`: a delivered decision replaces the clicked
 * message, anything else (a refusal, a second click, a failure to deliver: they may click again) is a
 * sentence for them alone. The 200's body is the same JSON, which Slack ignores for a button click.
 */
export async function handleSlackApproval(
  event: unknown,
  deps: SlackApprovalDeps,
): Promise<FunctionUrlResponse> {
  const request = z.safeParse(functionUrlEventSchema, event);
  if (!request.success) return plain(400, 'not a function URL request');
  const { headers, body = '', isBase64Encoded, requestContext } = request.data;
  if (requestContext.http.method !== 'POST') return plain(405, 'only POST is accepted');
  const rawBody = isBase64Encoded ? Buffer.from(body, 'base64') : body;
  let signingSecret: string;
  try {
    signingSecret = await deps.signingSecret();
  } catch (error) {
    // Ours to fix, not the caller's: logged by name, and the caller learns nothing about the setup.
    logger.error('Slack signing secret not readable', {
      error: (error as Error).name,
      reason: (error as Error).message,
    });
    return plain(500, 'the endpoint cannot verify requests now');
  }
  try {
    verifySlackRequest(signingSecret, headers, rawBody, { now: deps.now().getTime() });
  } catch (error) {
    if (!(error instanceof RunbookError)) throw error;
    logger.warn('Slack request refused', { error: error.name, reason: error.message });
    return plain(401, `refused: ${error.message}`);
  }

  let click: Click;
  try {
    click = readClick(rawBody);
  } catch (error) {
    if (!(error instanceof SlackPayloadMalformed || error instanceof SlackApprovalRefused)) throw error;
    logger.warn('Slack action not understood', { error: error.name, reason: error.message });
    return plain(400, error.message);
  }
  const approvers = Object.hasOwn(deps.approvers, click.workload)
    ? (deps.approvers[click.workload] ?? [])
    : [];
  const reply = (response: SlackResponse) => tellClicker(deps.respond, click.responseUrl, response);
  if (!approvers.includes(click.userId)) {
    logger.warn('Slack approval by a non-approver refused', { user: click.userId, workload: click.workload });
    return reply(
      ephemeral(
        `<@${click.userId}>, you are not an approver of this canary, so nothing was done.${approvers.length > 0 ? ` Its approvers: ${approvers.map((id) => `<@${id}>`).join(', ')}.` : ''}`,
      ),
    );
  }

  const by = slackUser(click.userId);
  try {
    const answer = await answerApproval({
      lock: deps.lock,
      sfn: deps.sfn,
      workload: click.workload,
      decision: click.decision,
      by,
      at: deps.now(),
      executionArn: click.executionArn,
    });
    logger.info('canary approval answered', { ...answer, workload: click.workload });
    const text = answerText(answer, slackMention);
    return reply(answer.outcome === 'delivered' ? replacement(text) : ephemeral(text));
  } catch (error) {
    logger.error('canary approval not delivered', {
      error: (error as Error).name,
      reason: (error as Error).message,
    });
    return reply(
      ephemeral(
        `Your answer could not be delivered (${(error as Error).name}); nothing was decided. Click again, or answer with the CLI.`,
      ),
    );
  }
}

/** Posts the answer to `response_url`, then answers the request with it: 200 whatever the post did. */
async function tellClicker(
  respond: RespondToSlack,
  responseUrl: string | undefined,
  response: SlackResponse,
): Promise<FunctionUrlResponse> {
  if (responseUrl !== undefined) await respond(responseUrl, response);
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(response) };
}

interface Click {
  userId: string;
  workload: string;
  executionArn: string;
  decision: ApprovalDecision;
  /** Where Slack takes the answer; absent, the clicker learns nothing but the decision is taken all the same. */
  responseUrl?: string;
}

/** The clicked button: who clicked, the decision, workload and run its value names, and where to answer. */
function readClick(rawBody: string | Buffer): Click {
  const action = parseSlackAction(rawBody);
  const actionDecision = ACTION_DECISIONS[action.actionId];
  if (actionDecision === undefined) {
    throw new SlackApprovalRefused(`action ${action.actionId} is not canary-approve or canary-reject`);
  }
  if (action.value === undefined) throw new SlackApprovalRefused('the button has no value');
  let json: unknown;
  try {
    json = JSON.parse(action.value);
  } catch {
    throw new SlackApprovalRefused('the button value is not JSON');
  }
  const value = parseOrThrow(approvalButtonValueSchema, json, 'the button value', SlackApprovalRefused);
  if (value.decision !== actionDecision) {
    throw new SlackApprovalRefused(
      `the button value says ${value.decision}, its action ${action.actionId}: refused as tampered`,
    );
  }
  return {
    userId: action.userId,
    ...value,
    ...(action.responseUrl === undefined ? {} : { responseUrl: action.responseUrl }),
  };
}

/** The signing secret does not hold a usable value. The message names the secret, never its value. */
export class SlackSigningSecretMisconfigured extends RunbookError {
  override name = 'SlackSigningSecretMisconfigured';
}

/**
 * The signing secret from Secrets Manager (a plain string, or `{"signingSecret": "…"}`), read at most once per
 * `ttlMs` so a rotation is picked up without a redeploy. A failed read is not kept.
 */
export function createSigningSecretSource({
  secrets,
  secretId,
  ttlMs = 300_000,
  now = () => Date.now(),
}: {
  secrets: SecretsManagerClient;
  secretId: string;
  ttlMs?: number;
  now?: () => number;
}): () => Promise<string> {
  let cached: { secret: Promise<string>; expiresAt: number } | undefined;
  return () => {
    if (cached === undefined || now() >= cached.expiresAt) {
      const secret = readSigningSecret(secrets, secretId);
      const entry = { secret, expiresAt: now() + ttlMs };
      cached = entry;
      secret.catch(() => {
        if (cached === entry) cached = undefined;
      });
    }
    return cached.secret;
  };
}

async function readSigningSecret(secrets: SecretsManagerClient, secretId: string): Promise<string> {
  const { SecretString: value } = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
  const secret = value === undefined ? undefined : signingSecretText(value.trim());
  if (secret === undefined || secret === '') {
    throw new SlackSigningSecretMisconfigured(
      `secret ${secretId} does not hold a Slack signing secret: expected the secret or {"signingSecret": "…"}`,
    );
  }
  return secret;
}

/** Unwraps the JSON form. Parse errors are not kept: their messages quote the secret. */
function signingSecretText(value: string): string | undefined {
  if (!value.startsWith('{')) return value;
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed === 'object' && parsed !== null && 'signingSecret' in parsed) {
      return typeof parsed.signingSecret === 'string' ? parsed.signingSecret.trim() : undefined;
    }
  } catch {
    // Reported as "does not hold a Slack signing secret".
  }
  return undefined;
}
