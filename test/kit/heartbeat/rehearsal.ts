import { fileURLToPath } from 'node:url';
import type { RehearsedRunbook, Scenario } from '../../harness/rehearsal';
import { HeartbeatFailed } from './check';
import { heartbeatConfigSchema, heartbeatSubstitutions, type HeartbeatConfig } from './config';
import { heartbeatFunctions } from './functions';

/** Its configuration: the shared sections as any deployment has them, and its own section. */
export const heartbeatConfig = (): HeartbeatConfig =>
  heartbeatConfigSchema.parse({
    environment: 'kit',
    slack: { webhookSecretName: 'platform-runbooks/slack-webhook' },
    eksClusters: [{ name: 'kit-eks', namespaces: ['default'] }],
    heartbeat: { schedule: 'cron(0 3 * * ? *)', timeZone: 'Europe/Berlin', flexibleWindowMinutes: 15 },
  });

const scenarios: Array<Scenario<HeartbeatConfig>> = [
  {
    name: 'healthy',
    summary: 'The schedule fires, the check answers, Slack hears of it, RunbookSucceeded is published.',
    arrange: async () => ({ events: [{}] }),
  },
  {
    name: 'check-fails',
    summary:
      'The check throws a named error: on-call is paged, Slack hears of it, RunbookFailed is published.',
    arrange: async () => ({
      events: [{}],
      options: {
        overrides: {
          Check: async () => {
            throw new HeartbeatFailed('the kit is not well');
          },
        },
      },
    }),
  },
];

export const rehearsedRunbook: RehearsedRunbook<HeartbeatConfig> = {
  name: 'heartbeat',
  definitionPath: fileURLToPath(new URL('heartbeat.asl.json', import.meta.url)),
  functions: heartbeatFunctions,
  defaultConfig: heartbeatConfig,
  deployment: (config) => ({ substitutions: heartbeatSubstitutions(config.heartbeat), environment: {} }),
  scenarios,
};
