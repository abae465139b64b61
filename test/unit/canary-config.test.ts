import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import * as z from 'zod/mini';
import {
  approversSetting,
  canaryRunMinutes,
  canaryRuntime,
  canarySectionSchema,
  checkCanarySection,
  mannWhitneyMinimumP,
  MAX_APPROVERS_JSON_BYTES,
  MAX_CANARY_RUN_MINUTES,
  servicePlan,
  type CanarySection,
} from '../../lib/config/canary';
import { ConfigError, parseConfig } from '../../lib/config/load';
import { configSchema } from '../../lib/config/schema';
import { eksClusterSchema } from '../../lib/config/shared';

// Most tests compose the section with the one shared section it is checked against, as schema.ts does; the
// last ones go through the whole configuration (configSchema), with the shared Slack app settings.
const testSchema = z
  .strictObject({ canary: canarySectionSchema, eksClusters: z.array(eksClusterSchema) })
  .check(z.superRefine((config, ctx) => checkCanarySection(config, ctx)));

const errorRate = {
  name: 'error-rate',
  canary: { type: 'metric', metric: { namespace: 'Checkout', metricName: 'Errors', stat: 'Sum' } },
  stable: { type: 'metric', metric: { namespace: 'Checkout', metricName: 'Errors', stat: 'Sum' } },
  max: 5,
};

const albRouter = {
  type: 'alb',
  ingress: 'checkout',
  actionName: 'checkout-split',
  stable: { service: 'checkout-stable', port: 80 },
  canary: { service: 'checkout-canary', port: 'http' },
};

/** A service with only what has no default. */
const service = (fields: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'checkout',
  cluster: 'prod-eks',
  namespace: 'shop',
  stableDeployment: 'checkout',
  canaryDeployment: 'checkout-canary',
  router: albRouter,
  checks: [{ name: 'alb-errors', template: 'alb-5xx-rate', max: 0.01 }],
  ...fields,
});

const raw = (services: unknown[] = [service()]) => ({
  canary: { services },
  eksClusters: [{ name: 'prod-eks', namespaces: ['shop', 'payments'] }],
});

function section(config: unknown): CanarySection {
  const result = testSchema.safeParse(config);
  if (!result.success) throw new Error(`refused: ${JSON.stringify(result.error.issues)}`);
  return result.data.canary;
}

/** The messages on `path` (dotted), failing the test when the configuration is accepted. */
function messagesAt(config: unknown, path: string): string[] {
  const result = testSchema.safeParse(config);
  if (result.success) throw new Error('the configuration was accepted');
  return result.error.issues
    .filter((issue) => issue.path.map(String).join('.') === path)
    .map((issue) => issue.message);
}

const at = (field: string) => `canary.services.0.${field}`;

describe('the canary section', () => {
  it('fills in every default', () => {
    expect(section(raw())).toEqual({
      services: [
        {
          ...service(),
          checks: [{ name: 'alb-errors', template: 'alb-5xx-rate', max: 0.01, aggregate: 'mean' }],
          intervalMinutes: 5,
          threshold: 2,
          noData: 'fail',
        },
      ],
    });
  });

  it('plans the seeds’ 5, 20, 50, 100 by default, and takes Flagger’s step settings', () => {
    const [plain] = section(raw()).services;
    expect(plain && servicePlan(plain).steps).toEqual([5, 20, 50, 100]);
    const [stepped] = section(raw([service({ stepWeight: 20, maxWeight: 50 })])).services;
    expect(stepped && servicePlan(stepped).steps).toEqual([20, 40, 50]);
  });

  it('defaults the approval timeout and the smoke test timeout', () => {
    const [entry] = section(
      raw([
        service({
          approval: { approvers: ['U024BE7LH'] },
          smokeTest: { url: 'https://smoke.example.com/run' },
        }),
      ]),
    ).services;
    expect(entry?.approval).toEqual({ approvers: ['U024BE7LH'], timeoutMinutes: 60 });
    expect(entry?.smokeTest).toEqual({ url: 'https://smoke.example.com/run', timeoutSeconds: 60 });
  });

  it('accepts each router', () => {
    const gateway = {
      type: 'gateway-api',
      httpRoute: 'checkout',
      stable: { service: 'a' },
      canary: { service: 'b', port: 8080 },
    };
    const replicas = { type: 'replica-ratio', totalReplicas: 10 };
    for (const router of [gateway, replicas]) {
      expect(section(raw([service({ router, checks: [errorRate] })])).services[0]?.router).toEqual(router);
    }
  });

  it.each([
    ['cluster', { cluster: 'other-eks' }, 'cluster "other-eks" is not listed in eksClusters'],
    [
      'namespace',
      { namespace: 'billing' },
      'namespace "billing" is not in eksClusters["prod-eks"].namespaces, so the runbook has no access to it',
    ],
    [
      'canaryDeployment',
      { canaryDeployment: 'checkout' },
      'must differ from stableDeployment: the canary runs beside stable',
    ],
  ])('refuses %s', (field, fields, message) => {
    expect(messagesAt(raw([service(fields)]), at(field))).toEqual([message]);
  });

  it('refuses a service listed twice', () => {
    expect(messagesAt(raw([service(), service()]), 'canary.services.1.name')).toEqual([
      'service "checkout" is listed twice',
    ]);
  });

  it('refuses an empty section', () => {
    expect(messagesAt(raw([]), 'canary.services')).toEqual(['must list at least one service']);
  });

  it.each([
    ['router.totalReplicas', { router: { type: 'replica-ratio', totalReplicas: 1 } }],
    ['router.type', { router: { type: 'istio' } }],
    ['router.canary.port', { router: { ...albRouter, canary: { service: 'x', port: 'Http_Port' } } }],
    ['router.ingress', { router: { ...albRouter, ingress: 'Checkout' } }],
    ['stepWeights.0', { stepWeights: [0, 50] }],
    ['intervalMinutes', { intervalMinutes: 0 }],
    ['intervalMinutes', { intervalMinutes: 61 }],
    ['threshold', { threshold: 0 }],
    ['noData', { noData: 'ignore' }],
    ['checks', { checks: [] }],
    ['checks.0.max', { checks: [{ ...errorRate, max: undefined }] }],
    ['approval.approvers.0', { approval: { approvers: ['jane@example.com'] } }],
    ['approval.approvers', { approval: { approvers: ['U024BE7LH', 'U024BE7LH'] } }],
    ['approval.timeoutMinutes', { approval: { approvers: ['U024BE7LH'], timeoutMinutes: 24 * 60 + 1 } }],
    ['smokeTest.url', { smokeTest: { url: 'http://smoke.example.com' } }],
    ['smokeTest.timeoutSeconds', { smokeTest: { url: 'https://smoke.example.com', timeoutSeconds: 0 } }],
    ['surprise', { surprise: true }],
  ])('refuses a malformed %s', (field, fields) => {
    const path = field === 'surprise' ? 'canary.services.0' : at(field);
    expect(messagesAt(raw([service(fields)]), path)).not.toEqual([]);
  });

  it('applies the step plan’s own rules, naming the field', () => {
    expect(messagesAt(raw([service({ stepWeights: [50, 20] })]), at('stepWeights'))).toEqual([
      'must increase: 20 (step 2) follows 50',
    ]);
    expect(messagesAt(raw([service({ stepWeights: [20], stepWeight: 10 })]), at('stepWeight'))).toEqual([
      'set either stepWeights or stepWeight (+ maxWeight), not both',
    ]);
    expect(messagesAt(raw([service({ maxWeight: 50 })]), at('maxWeight'))).toEqual([
      'needs stepWeight (maxWeight caps the stepWeight increments)',
    ]);
  });

  it('refuses two routed Services that are one', () => {
    const router = { ...albRouter, canary: albRouter.stable };
    expect(messagesAt(raw([service({ router })]), at('router.canary.service'))).toEqual([
      expect.stringMatching(/^must differ from router.stable.service/),
    ]);
  });

  it('refuses an ALB template with another router', () => {
    const router = { type: 'replica-ratio', totalReplicas: 4 };
    expect(messagesAt(raw([service({ router })]), at('checks.0.template'))).toEqual([
      "alb-5xx-rate reads the ALB's target groups, which only the alb router has (this service uses replica-ratio): write the check's canary and stable series out",
    ]);
  });

  it('refuses a Mann-Whitney test that can never fail at the interval, and takes one that can', () => {
    const check = { ...errorRate, mannWhitney: {} };
    expect(mannWhitneyMinimumP(3)).toBeCloseTo(0.1);
    expect(mannWhitneyMinimumP(4)).toBeCloseTo(2 / 70);
    expect(
      messagesAt(raw([service({ checks: [check], intervalMinutes: 3 })]), at('checks.0.mannWhitney')),
    ).toEqual([
      expect.stringMatching(
        /^check "error-rate" runs a Mann-Whitney test, which with 3 per-minute values a side can never reach alpha 0.05 .* at least 4 minutes/,
      ),
    ]);
    expect(section(raw([service({ checks: [check], intervalMinutes: 4 })])).services).toHaveLength(1);
    // A looser alpha is reachable sooner: 3 and 3 give p = 0.1 < 0.2.
    const loose = { ...errorRate, mannWhitney: { alpha: 0.2 } };
    expect(section(raw([service({ checks: [loose], intervalMinutes: 3 })])).services).toHaveLength(1);
  });

  it('refuses pause on no data without approvers to ask', () => {
    expect(messagesAt(raw([service({ noData: 'pause' })]), at('noData'))).toEqual([
      expect.stringMatching(/^pause asks a person whether to go on: it needs approval/),
    ]);
  });

  it('keeps a run, the approval wait included, within the execution timeout', () => {
    const long = service({
      stepWeight: 1,
      intervalMinutes: 60,
      threshold: 20,
      noData: 'pause',
      approval: { approvers: ['U024BE7LH'], timeoutMinutes: 24 * 60 },
    });
    expect(messagesAt(raw([long]), at('approval.timeoutMinutes'))).toEqual([
      expect.stringMatching(new RegExp(`more than the ${MAX_CANARY_RUN_MINUTES} \\(7 days\\)`)),
    ]);
  });

  it('refuses "${" in any setting: the settings travel in definition substitutions', () => {
    const check = {
      ...errorRate,
      canary: { type: 'metric', metric: { ...errorRate.canary.metric, metricName: '${x}' } },
    };
    expect(messagesAt(raw([service({ checks: [check] })]), at('checks.0.canary.metric.metricName'))).toEqual([
      expect.stringMatching(/^must not contain "\$\{"/),
    ]);
  });
});

describe('canaryRuntime', () => {
  const settings = section(
    raw([
      service({ approval: { approvers: ['U024BE7LH'], timeoutMinutes: 30 } }),
      service({
        name: 'payments',
        namespace: 'payments',
        router: { type: 'replica-ratio', totalReplicas: 4 },
        checks: [errorRate],
        smokeTest: { url: 'https://smoke.example.com/payments' },
      }),
    ]),
  );

  it('derives the substitution, the timeout and what the construct grants', () => {
    const runtime = canaryRuntime({ environment: 'prod', settings });
    const services = JSON.parse(JSON.parse(`"${runtime.substitutions.Services}"`) as string) as Record<
      string,
      unknown
    >;
    expect(Object.keys(services)).toEqual(['checkout', 'payments']);
    expect(services.checkout).toEqual(settings.services[0]);
    // checkout: 5 analyses (4 steps, 1 repeat) × (5 interval + 3 hold margin + 5 router) + 30 approval + 30 outside = 125.
    expect(canaryRunMinutes(settings.services[0] as never)).toBe(125);
    expect(runtime.timeoutMinutes).toBe(125);
    expect(runtime.lockTtlSeconds).toBe(125 * 60);
    expect(runtime).toMatchObject({
      routers: ['alb', 'replica-ratio'],
      smokeTests: true,
      approval: true,
      workloads: [
        { cluster: 'prod-eks', namespace: 'payments' },
        { cluster: 'prod-eks', namespace: 'shop' },
      ],
      environment: 'prod',
    });
  });

  it('escapes the JSON for an ASL string', () => {
    const runtime = canaryRuntime({ environment: 'prod', settings });
    expect(runtime.substitutions.Services).toContain('\\"checkout\\"');
  });
});

describe('approversSetting', () => {
  it('maps each workload with an approval to its approvers, by the lock key', () => {
    const settings = section(
      raw([
        service({ approval: { approvers: ['U024BE7LH', 'W012A3CDE'] } }),
        service({ name: 'payments', namespace: 'payments', stableDeployment: 'payments-api' }),
      ]),
    );
    expect(approversSetting(settings)).toEqual({ 'prod-eks/shop/checkout': ['U024BE7LH', 'W012A3CDE'] });
    expect(canaryRuntime({ environment: 'prod', settings }).approvers).toEqual(approversSetting(settings));
  });

  it('refuses more approvers than fit in the approval endpoint’s environment', () => {
    const approvers = Array.from({ length: 50 }, (_, index) => `U${String(index).padStart(10, '0')}`);
    const services = Array.from({ length: 6 }, (_, index) =>
      service({
        name: `checkout-${index}`,
        stableDeployment: `checkout-${index}`,
        canaryDeployment: `checkout-${index}-canary`,
        approval: { approvers },
      }),
    );
    expect(messagesAt(raw(services), 'canary.services')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^the approvers of all services take \\d+ bytes .* more than the ${MAX_APPROVERS_JSON_BYTES}`,
        ),
      ),
    ]);
  });
});

describe('the canary section in the configuration', () => {
  const example = (): Record<string, unknown> =>
    parse(readFileSync(new URL('../../lib/config/example.yaml', import.meta.url), 'utf8')) as Record<
      string,
      unknown
    >;
  /** The ConfigError message for a raw configuration, or fails the test. */
  function errorFor(config: unknown): string {
    try {
      parseConfig(config, 'test.yaml');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error('the configuration was accepted');
  }
  const withServices = (services: unknown[]) => ({ ...example(), canary: { services } });

  it('takes the example’s two services and its Slack app', () => {
    const config = parseConfig(example(), 'example.yaml');
    expect(config.canary?.services.map((entry) => [entry.name, entry.router.type])).toEqual([
      ['checkout', 'alb'],
      ['search', 'gateway-api'],
    ]);
    expect(config.slack.app).toEqual({
      botTokenSecretName: 'platform-runbooks/slack-bot-token',
      signingSecretName: 'platform-runbooks/slack-signing-secret',
      channelId: 'C0123ABCD',
    });
  });

  it('is checked against eksClusters, naming the service’s field', () => {
    expect(errorFor(withServices([service({ cluster: 'prod-eks' })]))).toContain(
      '  - canary.services[0].namespace: namespace "shop" is not in eksClusters["prod-eks"].namespaces, so the runbook has no access to it',
    );
    expect(errorFor(withServices([service({ cluster: 'tools-eks' })]))).toContain(
      '  - canary.services[0].cluster: cluster "tools-eks" is not listed in eksClusters',
    );
  });

  it('counts as a runbook section: a configuration with only the canary is deployable', () => {
    const onlyCanary = Object.fromEntries(
      Object.entries(example()).filter(([key]) => !['rollback', 'certificates', 'rightsizing'].includes(key)),
    );
    expect(parseConfig(onlyCanary, 'test.yaml').canary?.services).toHaveLength(2);
  });

  it('takes an approval without a Slack app: it is then answered from the CLI', () => {
    const config = parseConfig({ ...example(), slack: { webhookSecretName: 'hook' } }, 'test.yaml');
    expect(config.slack.app).toBeUndefined();
    expect(config.canary?.services[0]?.approval?.approvers).toEqual(['U0123ABCDE']);
  });

  it.each([
    [
      'a channel name',
      { channelId: '#deploys' },
      'slack.app.channelId',
      /must be a Slack channel ID such as C0123ABCD/,
    ],
    ['a user id as channel', { channelId: 'U0123ABCD' }, 'slack.app.channelId', /must be a Slack channel ID/],
    ['no signing secret', { signingSecretName: undefined }, 'slack.app.signingSecretName', /./],
    ['an empty bot token secret name', { botTokenSecretName: '' }, 'slack.app.botTokenSecretName', /./],
    ['an unknown key', { signingSecret: 'plain' }, 'slack.app', /signingSecret/],
  ])('refuses a Slack app with %s', (_name, change: Record<string, unknown>, path, message) => {
    const config = example();
    const slack = config.slack as { app: Record<string, unknown> };
    const app = Object.fromEntries(
      Object.entries({ ...slack.app, ...change }).filter(([, value]) => value !== undefined),
    );
    const result = configSchema.safeParse({ ...config, slack: { ...slack, app } });
    expect(result.success).toBe(false);
    const issues = result.error?.issues.filter((issue) => issue.path.join('.') === path) ?? [];
    expect(issues.map((issue) => issue.message).join('\n')).toMatch(message);
  });
});
