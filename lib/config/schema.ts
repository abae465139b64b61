import { z } from 'zod';

/** Kubernetes object names (RFC 1123 labels / subdomains), checked so a typo fails synth, not a 3 a.m. run. */
const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a lowercase RFC 1123 label (a-z, 0-9, "-")');
const dnsSubdomain = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a lowercase RFC 1123 subdomain');
/** EKS cluster names: 1-100 characters, alphanumerics, hyphens and underscores, starting alphanumeric. */
const clusterName = z
  .string()
  .regex(/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/, 'must be an EKS cluster name (letters, digits, "-", "_")');
/** CloudWatch alarm names: 1-255 characters, any printable ASCII. */
const alarmName = z.string().min(1).max(255);

/** One alarm mapped to the workload it rolls back. */
export const rollbackTargetSchema = z.strictObject({
  alarmName,
  cluster: clusterName,
  namespace: dnsLabel,
  deployment: dnsSubdomain,
  /** `kubectl rollout undo --to-revision`; omitted: the previous revision. */
  toRevision: z.number().int().positive().optional(),
});
export type RollbackTarget = z.infer<typeof rollbackTargetSchema>;

export const rollbackSettingsSchema = z.strictObject({
  /** A second rollback of one Deployment within this window is refused (a guard, not an action). */
  cooldownMinutes: z.number().int().min(0).max(1440).default(30),
  /** Seconds between two reads of the rollout's status. */
  rolloutPollSeconds: z.number().int().min(1).max(300).default(10),
  /** Upper bound on waiting for the rollout when the Deployment's own progress deadline does not end it. */
  rolloutTimeoutMinutes: z.number().int().min(1).max(120).default(15),
  /** The alarm must return to OK within this window after the rollout completes, or on-call is paged. */
  recoveryWindowMinutes: z.number().int().min(1).max(240).default(10),
  /** Seconds between two reads of the alarm's state while waiting for recovery. */
  recoveryPollSeconds: z.number().int().min(10).max(600).default(30),
  /** Alarms mapped here, by name. */
  targets: z.array(rollbackTargetSchema).default([]),
  /**
   * Alarms whose names start with one of these prefixes are also considered, and mapped by their tag
   * `runbooks:rollback-target` = `cluster/namespace/deployment`.
   */
  tagDiscoveryAlarmPrefixes: z.array(z.string().min(1).max(255)).default([]),
});

export const eksClusterSchema = z.strictObject({
  name: clusterName,
  /** Namespaces the runbooks may act in: the EKS access entry is scoped to them. */
  namespaces: z.array(dnsLabel).min(1),
});

export const configSchema = z
  .strictObject({
    /** Short name of the environment, used in resource names and every message. */
    environment: z.string().regex(/^[a-z][a-z0-9-]{1,19}$/, 'must be 2-20 of a-z, 0-9, "-", starting with a letter'),
    account: z
      .string()
      .regex(/^\d{12}$/, 'must be a 12-digit AWS account id')
      .optional(),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1')
      .optional(),
    slack: z.strictObject({
      /** Secrets Manager secret holding the incoming-webhook URL (plain string or {"webhookUrl": "..."}). */
      webhookSecretName: z.string().min(1).max(512),
    }),
    onCall: z
      .strictObject({
        /** Page an existing topic (PagerDuty, Opsgenie, Chatbot…); omitted: the stack creates one. */
        existingTopicArn: z
          .string()
          .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'must be an SNS topic ARN')
          .optional(),
        /** E-mail addresses subscribed to the created topic. */
        emails: z.array(z.email()).default([]),
      })
      .default({ emails: [] }),
    /** Link shown in every message, e.g. the team's runbook dashboard. */
    dashboardUrl: z.url({ protocol: /^https$/ }).optional(),
    eksClusters: z.array(eksClusterSchema).min(1),
    rollback: rollbackSettingsSchema,
  })
  .superRefine((config, ctx) => {
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
    const clusterNames = new Set<string>();
    config.eksClusters.forEach((cluster, index) => {
      if (clusterNames.has(cluster.name)) {
        ctx.addIssue({ code: 'custom', path: ['eksClusters', index, 'name'], message: `cluster "${cluster.name}" is listed twice` });
      }
      clusterNames.add(cluster.name);
    });
  });

export type RunbooksConfig = z.infer<typeof configSchema>;
export type RollbackSettings = RunbooksConfig['rollback'];
