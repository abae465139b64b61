import * as z from 'zod/mini';
import { clusterName, dnsLabel } from './fields';
import { checkNetworkSection, logsSchema, networkSchema, securityGroupId } from './network';

// The sections every runbook reads: where it runs, who hears about it, and which clusters it may touch.

export const eksClusterSchema = z.strictObject({
  name: clusterName,
  /** Namespaces the runbooks may act in: the EKS access entry is scoped to them. */
  namespaces: z.array(dnsLabel).check(z.minLength(1)),
  /**
   * The cluster security group (`eks-cluster-sg-…`), with `network`: the stack lets the runbooks' security
   * groups reach the API server's private endpoint on 443. Omitted: add that ingress rule yourself.
   */
  securityGroupId: z.optional(securityGroupId),
});

export type EksCluster = z.output<typeof eksClusterSchema>;

/** A Secrets Manager secret name, as `slack.webhookSecretName` takes it. */
const secretName = z.string().check(z.minLength(1), z.maxLength(512));

/**
 * A Slack app installed in the workspace (lambdas/notify/slack-app.ts): its bot token posts and updates
 * messages, its signing secret proves that a button click comes from Slack.
 */
export const slackAppSchema = z.strictObject({
  /**
   * Secret holding the bot token (`xoxb-…`, plain or {"botToken": "…"}); the app needs the `chat:write` scope
   * and must be invited to `channelId`.
   */
  botTokenSecretName: secretName,
  /**
   * Secret holding the app's signing secret (Basic Information → App Credentials; plain or
   * {"signingSecret": "…"}): the approval endpoint refuses any request whose signature it does not verify.
   */
  signingSecretName: secretName,
  /** The channel the app posts to, by ID (channel details in Slack, e.g. C0123ABCD), not by name. */
  channelId: z
    .string()
    .check(
      z.regex(
        /^[CG][A-Z0-9]{8,20}$/,
        'must be a Slack channel ID such as C0123ABCD (channel details in Slack), not a #name',
      ),
    ),
});
export type SlackApp = z.output<typeof slackAppSchema>;

/** A key ARN, not an alias: IAM grants and key policies name the key itself. */
const kmsKeyArn = z
  .string()
  .check(
    z.regex(
      /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/,
      'must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)',
    ),
  );

/** The shared top-level fields. */
export const sharedConfigShape = {
  /** Short name of the environment, used in resource names and every message. */
  environment: z
    .string()
    .check(z.regex(/^[a-z][a-z0-9-]{1,19}$/, 'must be 2-20 of a-z, 0-9, "-", starting with a letter')),
  account: z.optional(z.string().check(z.regex(/^\d{12}$/, 'must be a 12-digit AWS account id'))),
  region: z.optional(
    z.string().check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1')),
  ),
  slack: z.strictObject({
    /** Secrets Manager secret holding the incoming-webhook URL (plain string or {"webhookUrl": "..."}). */
    webhookSecretName: z.string().check(z.minLength(1), z.maxLength(512)),
    /**
     * Slack-app mode, for what an incoming webhook cannot do: a thread per canary run, its parent message
     * updated at each step, and the Approve / Reject buttons. Omitted: every message goes through the webhook,
     * and a canary's approval is given from the CLI only (`npm run canary -- approve|reject`).
     */
    app: z.optional(slackAppSchema),
  }),
  onCall: z._default(
    z.strictObject({
      /** Page an existing topic (PagerDuty, Opsgenie, Chatbot…); omitted: the stack creates one. */
      existingTopicArn: z.optional(
        z
          .string()
          .check(
            z.regex(
              /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/,
              'must be an SNS topic ARN',
            ),
          ),
      ),
      /**
       * The customer managed key encrypting `existingTopicArn`, if it uses one: the state machines are granted
       * its use, and its key policy must let them and CloudWatch alarms use it. Only with `existingTopicArn`.
       */
      existingTopicKeyArn: z.optional(kmsKeyArn),
      /** E-mail addresses subscribed to the created topic. @default [] */
      emails: z._default(z.array(z.email()), []),
    }),
    { emails: [] },
  ),
  /** Link shown in every message, e.g. the team's runbook dashboard. */
  dashboardUrl: z.optional(z.url({ protocol: /^https$/ })),
  eksClusters: z.array(eksClusterSchema).check(z.minLength(1)),
  /** Run the Lambdas in a VPC (private EKS endpoints, Control Tower's CT.LAMBDA.PR.3). Omitted: outside any VPC. */
  network: z.optional(networkSchema),
  /** Retention and encryption of every log group; the defaults meet Control Tower's controls. */
  logs: z._default(logsSchema, { retentionDays: 365 }),
};

/** The shared sections alone; `schema.ts` extends it with one section per runbook. */
export const sharedConfigSchema = z.strictObject(sharedConfigShape);
export type SharedConfig = z.output<typeof sharedConfigSchema>;

/**
 * Shared checks: a topic key only with an existing topic, no cluster listed twice, a cluster security group
 * only with a network, the network's own.
 */
export function checkSharedSections(
  { onCall, eksClusters, network }: Pick<SharedConfig, 'onCall' | 'eksClusters' | 'network'>,
  ctx: z.core.$RefinementCtx,
): void {
  if (onCall.existingTopicKeyArn !== undefined && onCall.existingTopicArn === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['onCall', 'existingTopicKeyArn'],
      message:
        'is used only with onCall.existingTopicArn: the key of a topic the stack creates is created with it',
    });
  }
  if (network) checkNetworkSection(network, ctx);
  const clusterNames = new Set<string>();
  eksClusters.forEach((cluster, index) => {
    if (clusterNames.has(cluster.name)) {
      ctx.addIssue({
        code: 'custom',
        path: ['eksClusters', index, 'name'],
        message: `cluster "${cluster.name}" is listed twice`,
      });
    }
    clusterNames.add(cluster.name);
    if (cluster.securityGroupId !== undefined && network === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['eksClusters', index, 'securityGroupId'],
        message: 'is used only with network: the Lambdas reach a private endpoint only from inside a VPC',
      });
    }
  });
}
