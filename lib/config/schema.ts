// zod/mini, not zod: the Lambdas import these schemas, and full zod adds ~440 KB to every bundle
// (all its locales) against ~14 KB for mini (measured with esbuild, minified).
import * as z from 'zod/mini';
import '../../lambdas/shared/zod-messages';

/** Kubernetes object names (RFC 1123 labels / subdomains), checked so a typo fails synth, not a 3 a.m. run. */
const dnsLabel = z
  .string()
  .check(
    z.regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a lowercase RFC 1123 label (a-z, 0-9, "-")'),
  );
const dnsSubdomain = z
  .string()
  .check(
    z.maxLength(253),
    z.regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a lowercase RFC 1123 subdomain'),
  );
/** EKS cluster names: 1-100 characters, alphanumerics, hyphens and underscores, starting alphanumeric. */
const clusterName = z
  .string()
  .check(
    z.regex(/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/, 'must be an EKS cluster name (letters, digits, "-", "_")'),
  );
/** CloudWatch alarm names: 1-255 characters. */
const alarmName = z.string().check(z.minLength(1), z.maxLength(255));
const boundedInt = (min: number, max: number) => z.int().check(z.gte(min), z.lte(max));

/** One alarm mapped to the workload it rolls back. */
export const rollbackTargetSchema = z.strictObject({
  alarmName,
  cluster: clusterName,
  namespace: dnsLabel,
  deployment: dnsSubdomain,
  /** `kubectl rollout undo --to-revision`; omitted: the previous revision. */
  toRevision: z.optional(z.int().check(z.positive())),
});
export type RollbackTarget = z.output<typeof rollbackTargetSchema>;

export const rollbackSettingsSchema = z.strictObject({
  /** A second rollback of one Deployment within this window is refused (a guard, not an action). @default 30 */
  cooldownMinutes: z._default(boundedInt(0, 1440), 30),
  /** Seconds between two reads of the rollout's status. @default 10 */
  rolloutPollSeconds: z._default(boundedInt(1, 300), 10),
  /** Upper bound on waiting for the rollout when the Deployment's own progress deadline does not end it. @default 15 */
  rolloutTimeoutMinutes: z._default(boundedInt(1, 120), 15),
  /** The alarm must return to OK within this window after the rollout completes, or on-call is paged. @default 10 */
  recoveryWindowMinutes: z._default(boundedInt(1, 240), 10),
  /** Seconds between two reads of the alarm's state while waiting for recovery. @default 30 */
  recoveryPollSeconds: z._default(boundedInt(10, 600), 30),
  /** Alarms mapped here, by name. @default [] */
  targets: z._default(z.array(rollbackTargetSchema), []),
  /**
   * Alarms whose names start with one of these prefixes are also considered, and mapped by their tag
   * `runbooks:rollback-target` = `cluster/namespace/deployment`. @default []
   */
  tagDiscoveryAlarmPrefixes: z._default(z.array(z.string().check(z.minLength(1), z.maxLength(255))), []),
});

export const eksClusterSchema = z.strictObject({
  name: clusterName,
  /** Namespaces the runbooks may act in: the EKS access entry is scoped to them. */
  namespaces: z.array(dnsLabel).check(z.minLength(1)),
});

export const configSchema = z
  .strictObject({
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
        /** E-mail addresses subscribed to the created topic. @default [] */
        emails: z._default(z.array(z.email()), []),
      }),
      { emails: [] },
    ),
    /** Link shown in every message, e.g. the team's runbook dashboard. */
    dashboardUrl: z.optional(z.url({ protocol: /^https$/ })),
    eksClusters: z.array(eksClusterSchema).check(z.minLength(1)),
    rollback: rollbackSettingsSchema,
  })
  .check(
    z.superRefine((config, ctx) => {
      const clusters = new Map(config.eksClusters.map((cluster) => [cluster.name, cluster]));
      const seenAlarms = new Set<string>();
      config.rollback.targets.forEach((target, index) => {
        const path = ['rollback', 'targets', index];
        const cluster = clusters.get(target.cluster);
        if (!cluster) {
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'cluster'],
            message: `cluster "${target.cluster}" is not listed in eksClusters`,
          });
        } else if (!cluster.namespaces.includes(target.namespace)) {
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'namespace'],
            message: `namespace "${target.namespace}" is not in eksClusters["${target.cluster}"].namespaces, so the runbook has no access to it`,
          });
        }
        if (seenAlarms.has(target.alarmName)) {
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'alarmName'],
            message: `alarm "${target.alarmName}" is mapped twice`,
          });
        }
        seenAlarms.add(target.alarmName);
      });
      if (config.rollback.targets.length === 0 && config.rollback.tagDiscoveryAlarmPrefixes.length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['rollback'],
          message:
            'targets and tagDiscoveryAlarmPrefixes are both empty, so no alarm could ever start the rollback runbook; map an alarm or give a prefix',
        });
      }
      const clusterNames = new Set<string>();
      config.eksClusters.forEach((cluster, index) => {
        if (clusterNames.has(cluster.name)) {
          ctx.addIssue({
            code: 'custom',
            path: ['eksClusters', index, 'name'],
            message: `cluster "${cluster.name}" is listed twice`,
          });
        }
        clusterNames.add(cluster.name);
      });
    }),
  );

export type RunbooksConfig = z.output<typeof configSchema>;
