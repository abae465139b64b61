import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkOverridesFit } from '../../lambdas/canary/start';
import { loadConfig } from '../../lib/config/load';
import { canaryRuntime, canarySectionSchema, servicesSetting } from '../../lib/config/canary';
import {
  CANARY_PUT_EVENTS_COMMAND,
  CANARY_REQUEST_ENTRIES_EXAMPLE,
  InvalidCanaryRequest,
  readCanaryRequest,
  UnknownCanaryService,
  type RequestContext,
} from '../../lambdas/canary/request';

const errorRate = {
  name: 'error-rate',
  canary: { type: 'metric', metric: { namespace: 'Checkout', metricName: 'Errors', stat: 'Sum' } },
  stable: { type: 'metric', metric: { namespace: 'Checkout', metricName: 'Errors', stat: 'Sum' } },
  max: 5,
  mannWhitney: {},
};

const section = canarySectionSchema.parse({
  services: [
    {
      name: 'checkout',
      cluster: 'prod-eks',
      namespace: 'shop',
      stableDeployment: 'checkout',
      canaryDeployment: 'checkout-canary',
      router: { type: 'replica-ratio', totalReplicas: 10 },
      checks: [errorRate],
    },
    {
      name: 'payments',
      cluster: 'prod-eks',
      namespace: 'payments',
      stableDeployment: 'payments',
      canaryDeployment: 'payments-canary',
      router: { type: 'replica-ratio', totalReplicas: 4 },
      stepWeights: [25, 50],
      checks: [{ ...errorRate, mannWhitney: undefined }],
    },
  ],
});

const context: RequestContext = {
  account: '123456789012',
  region: 'eu-west-1',
  services: servicesSetting(section),
};

const SHA = '3f2c1a9e8b7d6c5f4e3a2b1c0d9e8f7a6b5c4d3e';
const IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/checkout:1.42.0';

/** The event as EventBridge delivers it for a detail. */
const event = (detail: Record<string, unknown>, fields: Record<string, unknown> = {}) => ({
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'CanaryRequested',
  source: 'platform-runbooks.ci',
  account: '123456789012',
  time: '2025-06-01T10:00:00Z',
  region: 'eu-west-1',
  resources: [],
  detail: {
    service: 'checkout',
    image: IMAGE,
    requestedBy: 'github-actions:acme/checkout',
    reference: SHA,
    ...detail,
  },
  ...fields,
});

/** The message of the error reading `input` throws. */
function refusal(input: unknown): { name: string; message: string } {
  try {
    readCanaryRequest(input, context);
  } catch (error) {
    return { name: (error as Error).name, message: (error as Error).message };
  }
  throw new Error('the request was accepted');
}

describe("the README's example request against the example configuration", () => {
  it('fits the state machine the example deploys; a 10-minute interval would not', () => {
    const example = loadConfig(fileURLToPath(new URL('../../lib/config/example.yaml', import.meta.url)));
    const section = example.canary;
    if (!section) throw new Error('the example configuration has no canary section');
    const { lockTtlSeconds } = canaryRuntime({ environment: example.environment, settings: section });
    const [entry] = JSON.parse(CANARY_REQUEST_ENTRIES_EXAMPLE) as Array<Record<string, string>>;
    const exampleContext = {
      account: '123456789012',
      region: 'eu-west-1',
      services: servicesSetting(section),
    };
    const event = (detail: Record<string, unknown>) => ({
      id: 'b1',
      'detail-type': 'CanaryRequested',
      source: entry?.Source,
      account: '123456789012',
      time: '2025-06-01T10:00:00Z',
      region: 'eu-west-1',
      detail,
    });
    const detail = JSON.parse(entry?.Detail ?? '') as Record<string, unknown>;
    expect(() =>
      checkOverridesFit(readCanaryRequest(event(detail), exampleContext), lockTtlSeconds),
    ).not.toThrow();
    const longer = readCanaryRequest(
      event({ ...detail, overrides: { intervalMinutes: 10 } }),
      exampleContext,
    );
    expect(() => checkOverridesFit(longer, lockTtlSeconds)).toThrow(
      /more than the \d+ the state machine allows/,
    );
  });
});

describe('readCanaryRequest', () => {
  it('parses the example the README shows, as EventBridge delivers it', () => {
    const [entry] = JSON.parse(CANARY_REQUEST_ENTRIES_EXAMPLE) as Array<Record<string, string>>;
    expect(entry).toMatchObject({ EventBusName: 'platform-runbooks-prod', DetailType: 'CanaryRequested' });
    const delivered = {
      version: '0',
      id: 'b1',
      'detail-type': entry?.DetailType,
      source: entry?.Source,
      account: '123456789012',
      time: '2025-06-01T10:00:00Z',
      region: 'eu-west-1',
      resources: [],
      detail: JSON.parse(entry?.Detail ?? ''),
    };
    const request = readCanaryRequest(delivered, context);
    expect(request).toMatchObject({
      source: 'platform-runbooks.ci',
      service: { name: 'checkout' },
      change: { kind: 'image', image: IMAGE },
      intervalMinutes: 5,
      threshold: 2,
      overridden: ['stepWeights'],
      reference: SHA,
    });
    // Three steps instead of the service's four: a run the example's state machine timeout fits.
    expect(request.plan.steps).toEqual([10, 50, 100]);
    expect(CANARY_PUT_EVENTS_COMMAND).toContain('--entries file://canary-request.json');
    expect(CANARY_PUT_EVENTS_COMMAND).toContain('FailedEntryCount');
  });

  it('takes the service’s settings when nothing is overridden', () => {
    const request = readCanaryRequest(event({ service: 'payments' }), context);
    expect(request.plan.steps).toEqual([25, 50]);
    expect(request).toMatchObject({ intervalMinutes: 5, threshold: 2, overridden: [] });
  });

  it('replaces the step settings with the request’s, and takes a pod-template patch', () => {
    const podTemplatePatch = [
      {
        op: 'add',
        path: '/spec/template/spec/containers/0/env/-',
        value: { name: 'FEATURE_X', value: 'on' },
      },
      { op: 'remove', path: '/spec/template/metadata/annotations/legacy' },
    ];
    const request = readCanaryRequest(
      event({
        service: 'payments',
        image: undefined,
        podTemplatePatch,
        overrides: { stepWeight: 10, maxWeight: 30, threshold: 1 },
      }),
      context,
    );
    expect(request.plan.steps).toEqual([10, 20, 30]);
    expect(request.change).toEqual({ kind: 'patch', operations: podTemplatePatch });
    expect(request.threshold).toBe(1);
  });

  it('names the configured services for an unknown one', () => {
    expect(refusal(event({ service: 'inventory' }))).toEqual({
      name: 'UnknownCanaryService',
      message: 'detail.service: "inventory" is not configured for canaries; configured: checkout, payments',
    });
    expect(() => readCanaryRequest(event({ service: 'constructor' }), context)).toThrow(UnknownCanaryService);
  });

  it('refuses an event of another account or region', () => {
    expect(refusal(event({}, { account: '210987654321' })).message).toBe(
      'The CanaryRequested event is from account 210987654321; this runbook acts only on account 123456789012',
    );
    expect(refusal(event({}, { region: 'us-east-1' })).message).toMatch(/from region us-east-1/);
  });

  it.each([
    ['source', { source: 'aws.events' }, {}],
    ['detail-type', { 'detail-type': 'CanaryRequest' }, {}],
    ['detail.service', {}, { service: undefined }],
    ['detail.image', {}, { image: 'checkout' }],
    ['detail.image', {}, { image: 'checkout:latest' }],
    ['detail.image', {}, { image: 'Checkout:1.0' }],
    ['detail.requestedBy', {}, { requestedBy: '' }],
    ['detail.reference', {}, { reference: 'main' }],
    ['detail.container', {}, { container: 'App' }],
    ['detail.overrides.intervalMinutes', {}, { overrides: { intervalMinutes: 0 } }],
    ['detail.overrides.threshold', {}, { overrides: { threshold: 21 } }],
    ['detail.overrides.stepWeights.0', {}, { overrides: { stepWeights: [101] } }],
    ['detail.overrides', {}, { overrides: { surprise: 1 } }],
    [
      'detail.podTemplatePatch.0.value',
      {},
      { image: undefined, podTemplatePatch: [{ op: 'add', path: '/spec/template/spec/x' }] },
    ],
    [
      'detail.podTemplatePatch.0.path',
      {},
      { image: undefined, podTemplatePatch: [{ op: 'remove', path: '/spec/replicas' }] },
    ],
    [
      'detail.podTemplatePatch.0.path',
      {},
      { image: undefined, podTemplatePatch: [{ op: 'remove', path: '/spec/template/' }] },
    ],
    [
      'detail.podTemplatePatch.0.path',
      {},
      {
        image: undefined,
        podTemplatePatch: [{ op: 'add', path: '/spec/template/metadata/labels/app', value: 'x' }],
      },
    ],
    [
      'detail.podTemplatePatch.0.path',
      {},
      { image: undefined, podTemplatePatch: [{ op: 'remove', path: '/spec/template/spec/a~2b' }] },
    ],
    [
      'detail.podTemplatePatch.0.op',
      {},
      {
        image: undefined,
        podTemplatePatch: [{ op: 'move', from: '/spec/selector', path: '/spec/template/spec/x' }],
      },
    ],
    ['detail.podTemplatePatch', {}, { image: undefined, podTemplatePatch: [] }],
  ])('names %s when it is malformed', (field, fields, detail) => {
    const { name, message } = refusal(event(detail, fields));
    expect(name).toBe('InvalidCanaryRequest');
    expect(message).toMatch(
      new RegExp(`^The CanaryRequested event is malformed: .*\\b${field.replaceAll('.', '\\.')}: `),
    );
  });

  it('accepts an image by digest, and a tag with a registry port', () => {
    const digest = `registry.example.com:5000/team/checkout@sha256:${'a'.repeat(64)}`;
    expect(readCanaryRequest(event({ image: digest }), context).change).toEqual({
      kind: 'image',
      image: digest,
    });
    expect(
      readCanaryRequest(event({ image: 'checkout:latest@sha256:' + 'b'.repeat(64) }), context).change.kind,
    ).toBe('image');
  });

  it('needs exactly one of image and podTemplatePatch', () => {
    expect(refusal(event({ image: undefined })).message).toBe(
      'The CanaryRequested event is malformed: detail: must give exactly one of image and podTemplatePatch',
    );
    expect(
      refusal(event({ podTemplatePatch: [{ op: 'remove', path: '/spec/template/spec/x' }] })).message,
    ).toMatch(/detail: must give exactly one of image and podTemplatePatch/);
    expect(
      refusal(
        event({
          image: undefined,
          container: 'app',
          podTemplatePatch: [{ op: 'remove', path: '/spec/template/spec/x' }],
        }),
      ).message,
    ).toMatch(/detail\.container: is used only with image/);
  });

  it('applies the step plan’s rules to overridden steps', () => {
    expect(refusal(event({ overrides: { stepWeights: [50, 20] } })).message).toBe(
      'The CanaryRequested event is malformed: detail.overrides.stepWeights: must increase: 20 (step 2) follows 50',
    );
    expect(() =>
      readCanaryRequest(event({ overrides: { stepWeights: [10], stepWeight: 5 } }), context),
    ).toThrow(InvalidCanaryRequest);
  });

  it('refuses an interval too short for the service’s Mann-Whitney check', () => {
    expect(refusal(event({ overrides: { intervalMinutes: 3 } })).message).toMatch(
      /detail\.overrides\.intervalMinutes: check "error-rate" runs a Mann-Whitney test/,
    );
    // payments' check has no U test: 3 minutes is fine there.
    expect(
      readCanaryRequest(event({ service: 'payments', overrides: { intervalMinutes: 3 } }), context)
        .intervalMinutes,
    ).toBe(3);
  });
});
