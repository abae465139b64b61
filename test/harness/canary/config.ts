import { configSchema, type RunbooksConfig } from '../../../lib/config/schema';
import { ACCOUNT, REGION } from '../simulated-account';

// The rehearsal's canary configuration: one cluster, one namespace, one service per router (ALB with its metric
// templates, Gateway API and the replica ratio with the application's own metrics), and one service that asks
// for approval and pauses on no data. Slack-app mode: the loopback receiver plays Slack's Web API.

export const CLUSTER = 'prod-eu';
export const NAMESPACE = 'shop';
export const APPROVER = 'U024BE7LH';
export const NOT_AN_APPROVER = 'U0NOTALLOWED';
export const SLACK_CHANNEL = 'C000RUNBOOKS';
export const SECRETS = {
  webhook: 'platform-runbooks/slack-webhook',
  botToken: 'platform-runbooks/slack-bot-token',
  signing: 'platform-runbooks/slack-signing-secret',
} as const;

/** A metric the application publishes per version: `Shop/<metric>` with dimensions Service and Version. */
export const appMetric = (
  service: string,
  metricName: string,
  version: 'canary' | 'stable',
  stat = 'Average',
) => ({
  type: 'metric' as const,
  metric: { namespace: 'Shop', metricName, dimensions: { Service: service, Version: version }, stat },
});

const errorRateCheck = (service: string) => ({
  name: 'error-rate',
  canary: appMetric(service, 'ErrorRate', 'canary'),
  stable: appMetric(service, 'ErrorRate', 'stable'),
  max: 0.05,
  ratio: { limit: 2, minStable: 0.001 },
  mannWhitney: { alpha: 0.05 },
});

export function canaryRehearsalConfig(): RunbooksConfig {
  return configSchema.parse({
    environment: 'rehearsal',
    account: ACCOUNT,
    region: REGION,
    slack: {
      webhookSecretName: SECRETS.webhook,
      app: {
        botTokenSecretName: SECRETS.botToken,
        signingSecretName: SECRETS.signing,
        channelId: SLACK_CHANNEL,
      },
    },
    eksClusters: [{ name: CLUSTER, namespaces: [NAMESPACE] }],
    canary: {
      services: [
        {
          name: 'checkout',
          cluster: CLUSTER,
          namespace: NAMESPACE,
          stableDeployment: 'checkout',
          canaryDeployment: 'checkout-canary',
          router: {
            type: 'alb',
            ingress: 'shop',
            actionName: 'checkout-split',
            stable: { service: 'checkout', port: 80 },
            canary: { service: 'checkout-canary', port: 80 },
          },
          intervalMinutes: 5,
          threshold: 2,
          checks: [
            {
              name: 'error-rate',
              template: 'alb-5xx-rate',
              max: 0.02,
              ratio: { limit: 2, minStable: 0.001 },
            },
            { name: 'p99-latency', template: 'alb-p99-latency', max: 0.8, mannWhitney: { alpha: 0.05 } },
          ],
        },
        {
          name: 'search',
          cluster: CLUSTER,
          namespace: NAMESPACE,
          stableDeployment: 'search',
          canaryDeployment: 'search-canary',
          router: {
            type: 'gateway-api',
            httpRoute: 'search',
            stable: { service: 'search', port: 8080 },
            canary: { service: 'search-canary', port: 8080 },
          },
          intervalMinutes: 5,
          threshold: 2,
          checks: [errorRateCheck('search')],
        },
        {
          name: 'worker',
          cluster: CLUSTER,
          namespace: NAMESPACE,
          stableDeployment: 'worker',
          canaryDeployment: 'worker-canary',
          router: { type: 'replica-ratio', totalReplicas: 10 },
          stepWeights: [10, 20, 50, 100],
          intervalMinutes: 5,
          threshold: 2,
          checks: [errorRateCheck('worker')],
        },
        {
          name: 'payments',
          cluster: CLUSTER,
          namespace: NAMESPACE,
          stableDeployment: 'payments',
          canaryDeployment: 'payments-canary',
          router: {
            type: 'gateway-api',
            httpRoute: 'payments',
            stable: { service: 'payments', port: 8080 },
            canary: { service: 'payments-canary', port: 8080 },
          },
          intervalMinutes: 5,
          threshold: 2,
          checks: [errorRateCheck('payments')],
          noData: 'pause',
          approval: { approvers: [APPROVER], timeoutMinutes: 30 },
        },
      ],
    },
  });
}
