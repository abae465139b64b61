import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import {
  albActionAnnotationKey,
  albAnnotationPointer,
  albForwardAction,
  albRouter,
  escapeJsonPointerToken,
  type AlbEvidence,
  type AlbRouterSettings,
} from '../../lambdas/canary/routers/alb';
import {
  gatewayRouter,
  routeAcceptance,
  type GatewayRouterSettings,
} from '../../lambdas/canary/routers/gateway-api';
import {
  replicaRatioRouter,
  replicaRatioTable,
  replicaSplit,
  type DeploymentPair,
} from '../../lambdas/canary/routers/replica-ratio';
import { checkApplied, checkDrift, RouterMismatch } from '../../lambdas/canary/routers/router';
import { DEFAULT_STEP_WEIGHTS, InvalidStepPlan } from '../../lambdas/canary/weights';
import {
  httpRouteSchema,
  type Deployment,
  type HttpRoute,
  type Ingress,
  type JsonPatchOperation,
} from '../../lambdas/kubernetes/resources';
import { applyJsonPatch, toJson } from '../harness/kubernetes/json-patch';

/** Applies RFC 6902 ops to a copy, as the API server would (the simulated server's implementation). */
function patched<T>(object: T, ops: JsonPatchOperation[]): T {
  return applyJsonPatch(toJson(object), ops) as T;
}

describe('JSON Pointer escaping (RFC 6901)', () => {
  it('escapes ~ before /, and unescapes in the reverse order', () => {
    expect(escapeJsonPointerToken('alb.ingress.kubernetes.io/actions.app')).toBe(
      'alb.ingress.kubernetes.io~1actions.app',
    );
    expect(escapeJsonPointerToken('a~b/c')).toBe('a~0b~1c');
    // "~1" in a key must not come back as "/".
    expect(escapeJsonPointerToken('~1')).toBe('~01');
    // RFC 6901 §4 decodes `~1` first, then `~0`: what the API server does with the pointer.
    const unescapeJsonPointerToken = (token: string) => token.replaceAll('~1', '/').replaceAll('~0', '~');
    expect(unescapeJsonPointerToken('~01')).toBe('~1');
    for (const key of ['a/b', '~', '~/~1/~0', 'plain']) {
      expect(unescapeJsonPointerToken(escapeJsonPointerToken(key))).toBe(key);
    }
  });

  it('points at the action annotation', () => {
    expect(albAnnotationPointer('app')).toBe('/metadata/annotations/alb.ingress.kubernetes.io~1actions.app');
  });
});

const alb: AlbRouterSettings = {
  actionName: 'app',
  stable: { serviceName: 'app-stable', servicePort: '80' },
  canary: { serviceName: 'app-canary', servicePort: 80 },
};
const key = albActionAnnotationKey('app');

function ingress(annotation: unknown, extra: Record<string, string> = {}): Ingress {
  return {
    metadata: {
      name: 'app',
      namespace: 'shop',
      uid: 'ingress-uid',
      resourceVersion: '7',
      generation: 3,
      annotations: {
        'kubernetes.io/ingress.class': 'alb',
        ...extra,
        ...(annotation === undefined
          ? {}
          : { [key]: typeof annotation === 'string' ? annotation : JSON.stringify(annotation) }),
      },
    },
    spec: {
      rules: [
        {
          http: {
            paths: [{ path: '/', backend: { service: { name: 'app', port: { name: 'use-annotation' } } } }],
          },
        },
      ],
    },
  };
}

const stableOnly = {
  type: 'forward',
  forwardConfig: { targetGroups: [{ serviceName: 'app-stable', servicePort: '80', weight: 100 }] },
};

describe('ALB router: the Ingress annotation', () => {
  const router = albRouter(alb);

  it('builds the forward action of the reference format', () => {
    expect(JSON.stringify(albForwardAction(alb, 10))).toBe(
      '{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"app-stable","servicePort":"80","weight":90},{"serviceName":"app-canary","servicePort":"80","weight":10}]}}',
    );
  });

  it('round-trips: the patched Ingress is configured at the weight set', () => {
    let current = ingress(stableOnly);
    expect(router.configured(current)).toEqual({ state: 'weight', weight: 0 });
    for (const weight of [...DEFAULT_STEP_WEIGHTS, 0]) {
      const ops = router.desired(weight, current);
      current = patched(current, ops);
      expect(router.configured(current)).toEqual({ state: 'weight', weight });
      expect(checkDrift(router, current, weight)).toEqual({ state: 'unchanged' });
    }
    // Other annotations are untouched.
    expect(current.metadata.annotations?.['kubernetes.io/ingress.class']).toBe('alb');
  });

  it('guards the write with a test of the annotation as read, at the escaped path', () => {
    const current = ingress(stableOnly);
    const ops = router.desired(20, current);
    expect(ops).toEqual([
      {
        op: 'test',
        path: '/metadata/annotations/alb.ingress.kubernetes.io~1actions.app',
        value: JSON.stringify(stableOnly),
      },
      {
        op: 'replace',
        path: '/metadata/annotations/alb.ingress.kubernetes.io~1actions.app',
        value: JSON.stringify(albForwardAction(alb, 20)),
      },
    ]);
    // Edited between our read and our write: the patch fails instead of overwriting it.
    const editedMeanwhile = ingress({
      ...stableOnly,
      forwardConfig: { targetGroups: [{ serviceName: 'app-stable', servicePort: '80', weight: 7 }] },
    });
    expect(() => patched(editedMeanwhile, ops)).toThrow();
  });

  it('keeps the stickiness config when it rewrites the weights', () => {
    const sticky = {
      ...stableOnly,
      forwardConfig: {
        ...stableOnly.forwardConfig,
        targetGroupStickinessConfig: { enabled: true, durationSeconds: 200 },
      },
    };
    const after = patched(ingress(sticky), router.desired(5, ingress(sticky)));
    expect(JSON.parse(after.metadata.annotations?.[key] ?? '')).toMatchObject({
      forwardConfig: { targetGroupStickinessConfig: { enabled: true, durationSeconds: 200 } },
    });
  });

  it('adds the annotation when there is none, even without an annotations map', () => {
    const bare: Ingress = {
      metadata: { name: 'app', namespace: 'shop', uid: 'ingress-uid', resourceVersion: '7' },
    };
    const after = patched(bare, router.desired(5, bare));
    expect(router.configured(after)).toEqual({ state: 'weight', weight: 5 });
    const without = ingress(undefined);
    expect(router.desired(5, without)).toEqual([
      { op: 'add', path: albAnnotationPointer('app'), value: JSON.stringify(albForwardAction(alb, 5)) },
    ]);
  });

  it('detects a hand edit: other weights, a third target group, a target group by ARN, no annotation', () => {
    const set = patched(ingress(stableOnly), router.desired(20, ingress(stableOnly)));
    expect(checkDrift(router, set, 20)).toEqual({ state: 'unchanged' });

    const reweighed = ingress(albForwardAction(alb, 50));
    expect(checkDrift(router, reweighed, 20)).toEqual({
      state: 'edited',
      reason: 'the spec gives the canary 50 %, but the runbook last set 20 %',
    });

    const sameShareOtherWeights = ingress({
      type: 'forward',
      forwardConfig: {
        targetGroups: [
          { serviceName: 'app-stable', servicePort: '80', weight: 160 },
          { serviceName: 'app-canary', servicePort: '80', weight: 40 },
        ],
      },
    });
    expect(checkDrift(router, sameShareOtherWeights, 20)).toMatchObject({
      state: 'edited',
      reason: expect.stringMatching(/summing to 100/),
    });

    const third = albForwardAction(alb, 20);
    third.forwardConfig.targetGroups.push({ serviceName: 'app-debug', servicePort: '80', weight: 0 });
    expect(checkDrift(router, ingress(third), 20)).toEqual({
      state: 'edited',
      reason: `annotation ${key} forwards to app-debug:80, not only stable and canary`,
    });
    expect(() => router.desired(0, ingress(third))).toThrow(RouterMismatch);

    const byArn = albForwardAction(alb, 20);
    byArn.forwardConfig.targetGroups[1] = {
      targetGroupARN: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/legacy/abc',
      weight: 20,
    };
    expect(checkDrift(router, ingress(byArn), 20)).toMatchObject({
      state: 'edited',
      reason: expect.stringMatching(/targetgroup\/legacy/),
    });

    expect(checkDrift(router, ingress(undefined), 20)).toEqual({
      state: 'edited',
      reason: `Ingress app has no annotation ${key}`,
    });
    expect(checkDrift(router, ingress('{not json'), 20)).toEqual({
      state: 'edited',
      reason: `annotation ${key} is not JSON`,
    });
    expect(checkDrift(router, ingress({ type: 'fixed-response' }), 20)).toMatchObject({ state: 'edited' });
    expect(() => router.desired(0, ingress('{not json'))).toThrow(RouterMismatch);
  });

  it('matches ports written as a number or a string, and refuses a port that differs', () => {
    const numeric = ingress({
      type: 'forward',
      forwardConfig: {
        targetGroups: [
          { serviceName: 'app-stable', servicePort: 80, weight: 95 },
          { serviceName: 'app-canary', servicePort: '80', weight: 5 },
        ],
      },
    });
    expect(router.configured(numeric)).toEqual({ state: 'weight', weight: 5 });
    const otherPort = ingress({
      type: 'forward',
      forwardConfig: { targetGroups: [{ serviceName: 'app-stable', servicePort: 'http', weight: 100 }] },
    });
    expect(router.configured(otherPort)).toMatchObject({ state: 'mismatch' });
  });

  it('refuses weights outside 0–100 as a bug', () => {
    expect(() => router.desired(101, ingress(stableOnly))).toThrow(RangeError);
    expect(() => router.desired(2.5, ingress(stableOnly))).toThrow(RangeError);
  });
});

const stableArn = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/k8s-shop-appstabl-1/aaa';
const canaryArn = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/k8s-shop-appcanar-2/bbb';

function describeRules(
  ...rules: Array<{ stable: number; canary?: number; extra?: string; arn?: string }>
): unknown {
  return {
    $metadata: { httpStatusCode: 200 },
    Rules: [
      {
        RuleArn: 'arn:rule/default',
        IsDefault: true,
        Priority: 'default',
        Actions: [{ Type: 'fixed-response', Order: 1 }],
      },
      ...rules.map((rule, index) => ({
        RuleArn: rule.arn ?? `arn:rule/${index + 1}`,
        Priority: String(index + 1),
        IsDefault: false,
        Conditions: [{ Field: 'path-pattern', Values: ['/*'] }],
        Actions: [
          {
            Type: 'forward',
            Order: 1,
            ForwardConfig: {
              TargetGroups: [
                { TargetGroupArn: stableArn, Weight: rule.stable },
                ...(rule.canary === undefined ? [] : [{ TargetGroupArn: canaryArn, Weight: rule.canary }]),
                ...(rule.extra ? [{ TargetGroupArn: rule.extra, Weight: 0 }] : []),
              ],
              TargetGroupStickinessConfig: { Enabled: false },
            },
          },
        ],
      })),
    ],
  };
}

const evidence = (answer: unknown): AlbEvidence => ({
  describeRules: answer,
  stableTargetGroupArn: stableArn,
  canaryTargetGroupArn: canaryArn,
});

describe('ALB router: DescribeRules', () => {
  const router = albRouter(alb);

  it('counts a step once the rule has its weights', () => {
    expect(checkApplied(router, evidence(describeRules({ stable: 80, canary: 20 })), 20)).toEqual({
      state: 'applied',
      weight: 20,
    });
  });

  it('waits while the controller has not applied them yet', () => {
    expect(checkApplied(router, evidence(describeRules({ stable: 95, canary: 5 })), 20)).toEqual({
      state: 'pending',
      reason: 'the canary gets 5 %, not yet the 20 % of this step',
      observedWeight: 5,
    });
    // Before the first reconcile, the rule forwards to stable alone.
    expect(checkApplied(router, evidence(describeRules({ stable: 1 })), 5)).toMatchObject({
      state: 'pending',
      observedWeight: 0,
    });
  });

  it('waits while the rules of two listeners disagree', () => {
    const answer = describeRules(
      { stable: 80, canary: 20, arn: 'arn:rule/https' },
      { stable: 95, canary: 5, arn: 'arn:rule/http' },
    );
    expect(router.observed(evidence(answer))).toEqual({
      state: 'pending',
      reason: 'rules disagree: arn:rule/https gives the canary 20 %, arn:rule/http 5 %',
    });
    const agreed = describeRules({ stable: 80, canary: 20 }, { stable: 80, canary: 20 });
    expect(checkApplied(router, evidence(agreed), 20)).toMatchObject({ state: 'applied' });
  });

  it('reads only the rules named, when the evidence names them', () => {
    const answer = describeRules(
      { stable: 80, canary: 20, arn: 'arn:rule/action' },
      { stable: 1, arn: 'arn:rule/direct-to-stable' },
    );
    expect(router.observed(evidence(answer))).toMatchObject({ state: 'pending' });
    expect(router.observed({ ...evidence(answer), ruleArns: ['arn:rule/action'] })).toEqual({
      state: 'weight',
      weight: 20,
    });
    expect(router.observed({ ...evidence(answer), ruleArns: ['arn:rule/gone'] })).toMatchObject({
      state: 'mismatch',
    });
  });

  it('reads a single-target forward given as TargetGroupArn alone', () => {
    const answer = {
      Rules: [{ RuleArn: 'arn:rule/1', Actions: [{ Type: 'forward', TargetGroupArn: canaryArn }] }],
    };
    expect(router.observed(evidence(answer))).toEqual({ state: 'weight', weight: 100 });
  });

  it('is a mismatch when a rule also forwards elsewhere, none reaches ours, or the answer is malformed', () => {
    expect(
      router.observed(evidence(describeRules({ stable: 80, canary: 20, extra: 'arn:tg/other' }))),
    ).toEqual({
      state: 'mismatch',
      reason: 'arn:rule/1 also forwards to arn:tg/other',
    });
    expect(checkApplied(router, evidence({ Rules: [] }), 20)).toMatchObject({
      state: 'mismatch',
      reason: expect.stringMatching(/no listener rule forwards/),
    });
    expect(router.observed(evidence(describeRules({ stable: 0, canary: 0 })))).toMatchObject({
      state: 'mismatch',
    });
    expect(() => router.observed(evidence({ Rules: [{ Actions: [{ Type: 7 }] }] }))).toThrow(RouterMismatch);
    expect(() => router.observed(evidence({ Rules: [{ Actions: [{ Type: 7 }] }] }))).toThrow(
      /the DescribeRules answer is malformed: Rules\.0\.Actions\.0\.Type/,
    );
  });
});

const gateway: GatewayRouterSettings = {
  stable: { name: 'app-stable', port: 80 },
  canary: { name: 'app-canary', port: 80 },
};

type Condition = {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
};
const accepted = (generation: number): Condition[] => [
  { type: 'Accepted', status: 'True', reason: 'Accepted', observedGeneration: generation },
  { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', observedGeneration: generation },
];

function route(
  backendRefs: Array<Record<string, unknown>>,
  {
    generation = 2,
    parents = [{ conditions: accepted(2) }] as Array<{ name?: string; conditions?: Condition[] }>,
    otherRule = true,
  } = {},
): HttpRoute {
  // Parsed with the client's schema: the fixture is checked to be a route the client would hand the router.
  return z.parse(httpRouteSchema, {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'app', namespace: 'shop', uid: 'route-uid', resourceVersion: '7', generation },
    spec: {
      parentRefs: [{ name: 'public', namespace: 'gateways', sectionName: 'https' }],
      rules: [
        ...(otherRule
          ? [
              {
                matches: [{ path: { type: 'PathPrefix', value: '/admin' } }],
                backendRefs: [{ name: 'admin', port: 8080 }],
              },
            ]
          : []),
        { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs },
      ],
    },
    status: {
      parents: parents.map((parent) => ({
        parentRef: {
          group: 'gateway.networking.k8s.io',
          kind: 'Gateway',
          name: parent.name ?? 'public',
          namespace: 'gateways',
          sectionName: 'https',
        },
        controllerName: 'gateway.envoyproxy.io/gatewayclass-controller',
        conditions: parent.conditions,
      })),
    },
  });
}

describe('Gateway API router', () => {
  const router = gatewayRouter(gateway);

  it('round-trips: the patched route is configured at the weight set, other rules untouched', () => {
    let current = route([{ name: 'app-stable', port: 80 }]);
    expect(router.configured(current)).toEqual({ state: 'weight', weight: 0 });
    for (const weight of [...DEFAULT_STEP_WEIGHTS, 0]) {
      current = patched(current, router.desired(weight, current));
      expect(router.configured(current)).toEqual({ state: 'weight', weight });
    }
    expect(current.spec.rules?.[0]?.backendRefs).toEqual([{ name: 'admin', port: 8080 }]);
    expect(current.spec.rules?.[1]?.backendRefs).toEqual([
      { name: 'app-stable', port: 80, weight: 100 },
      { name: 'app-canary', port: 80, weight: 0 },
    ]);
  });

  it('addresses backends by index, each guarded by a test of its name and weight', () => {
    const current = route([
      { name: 'app-canary', port: 80, weight: 5 },
      { name: 'app-stable', port: 80, weight: 95 },
    ]);
    expect(router.desired(20, current)).toEqual([
      { op: 'test', path: '/spec/rules/1/backendRefs/1/name', value: 'app-stable' },
      { op: 'test', path: '/spec/rules/1/backendRefs/1/weight', value: 95 },
      { op: 'add', path: '/spec/rules/1/backendRefs/1/weight', value: 80 },
      { op: 'test', path: '/spec/rules/1/backendRefs/0/name', value: 'app-canary' },
      { op: 'test', path: '/spec/rules/1/backendRefs/0/weight', value: 5 },
      { op: 'add', path: '/spec/rules/1/backendRefs/0/weight', value: 20 },
    ]);
    const reordered = route([
      { name: 'app-stable', port: 80, weight: 95 },
      { name: 'app-canary', port: 80, weight: 5 },
    ]);
    expect(() => patched(reordered, router.desired(20, current))).toThrow();
  });

  it('detects a hand edit and refuses to weigh a route sending elsewhere too', () => {
    const set = route([
      { name: 'app-stable', port: 80, weight: 80 },
      { name: 'app-canary', port: 80, weight: 20 },
    ]);
    expect(checkDrift(router, set, 20)).toEqual({ state: 'unchanged' });
    expect(checkDrift(router, set, 50)).toMatchObject({ state: 'edited' });
    const defaults = route([
      { name: 'app-stable', port: 80 },
      { name: 'app-canary', port: 80 },
    ]);
    expect(router.configured(defaults)).toMatchObject({
      state: 'mismatch',
      reason: expect.stringMatching(/weighs stable 1 and canary 1/),
    });
    const third = route([
      { name: 'app-stable', port: 80, weight: 80 },
      { name: 'app-canary', port: 80, weight: 10 },
      { name: 'app-debug', port: 80, weight: 10 },
    ]);
    expect(router.configured(third)).toEqual({
      state: 'mismatch',
      reason: 'rule 1 also sends to Service app-debug',
    });
    expect(() => router.desired(20, third)).toThrow(RouterMismatch);
    expect(router.configured(route([{ name: 'other', port: 80 }]))).toMatchObject({
      state: 'mismatch',
      reason: expect.stringMatching(/no rule of HTTPRoute app sends to the stable Service/),
    });
    expect(router.configured(route([{ name: 'app-canary', port: 80, weight: 100 }]))).toMatchObject({
      state: 'mismatch',
    });
  });

  it('counts a step once every parent accepted the current generation', () => {
    const current = route([
      { name: 'app-stable', port: 80, weight: 80 },
      { name: 'app-canary', port: 80, weight: 20 },
    ]);
    expect(routeAcceptance(current)).toEqual({ state: 'accepted' });
    expect(checkApplied(router, current, 20)).toEqual({ state: 'applied', weight: 20 });
  });

  it('waits on a status from an older generation', () => {
    const stale = route(
      [
        { name: 'app-stable', port: 80, weight: 80 },
        { name: 'app-canary', port: 80, weight: 20 },
      ],
      {
        generation: 3,
        parents: [{ conditions: accepted(2) }],
      },
    );
    expect(checkApplied(router, stale, 20)).toEqual({
      state: 'pending',
      reason:
        'Gateway gateways/public/https (gateway.envoyproxy.io/gatewayclass-controller): Accepted describes generation 2, the route is at 3',
    });
    const noGeneration = route([{ name: 'app-stable', port: 80 }], {
      parents: [
        {
          conditions: [
            { type: 'Accepted', status: 'True' },
            { type: 'ResolvedRefs', status: 'True' },
          ],
        },
      ],
    });
    expect(routeAcceptance(noGeneration)).toMatchObject({
      state: 'pending',
      reason: expect.stringMatching(/generation \(unknown\)/),
    });
  });

  it('waits while a parent has written no status, or Unknown', () => {
    expect(routeAcceptance(route([{ name: 'app-stable', port: 80 }], { parents: [] }))).toEqual({
      state: 'pending',
      reason: 'no status from Gateway gateways/public/https yet',
    });
    expect(
      routeAcceptance(
        route([{ name: 'app-stable', port: 80 }], {
          parents: [{ name: 'internal', conditions: accepted(2) }],
        }),
      ),
    ).toMatchObject({ state: 'pending' });
    expect(
      routeAcceptance(
        route([], {
          parents: [{ conditions: [{ type: 'Accepted', status: 'True', observedGeneration: 2 }] }],
        }),
      ),
    ).toMatchObject({
      state: 'pending',
      reason: expect.stringMatching(/has not set ResolvedRefs yet/),
    });
    expect(
      routeAcceptance(
        route([], {
          parents: [{ conditions: [{ type: 'Accepted', status: 'Unknown', observedGeneration: 2 }] }],
        }),
      ),
    ).toMatchObject({
      state: 'pending',
      reason: expect.stringMatching(/Accepted is Unknown/),
    });
  });

  it('is a mismatch when the route is not accepted or its backends do not resolve', () => {
    const refused = route(
      [
        { name: 'app-stable', port: 80, weight: 80 },
        { name: 'app-canary', port: 80, weight: 20 },
      ],
      {
        parents: [
          {
            conditions: [
              {
                type: 'Accepted',
                status: 'False',
                reason: 'NotAllowedByListeners',
                message: 'namespace shop is not allowed',
                observedGeneration: 2,
              },
              accepted(2)[1] as Condition,
            ],
          },
        ],
      },
    );
    expect(checkApplied(router, refused, 20)).toEqual({
      state: 'mismatch',
      reason:
        'Gateway gateways/public/https (gateway.envoyproxy.io/gatewayclass-controller): Accepted is False (NotAllowedByListeners: namespace shop is not allowed)',
    });
    const unresolved = route(
      [
        { name: 'app-stable', port: 80, weight: 80 },
        { name: 'app-canary', port: 80, weight: 20 },
      ],
      {
        parents: [
          {
            conditions: [
              accepted(2)[0] as Condition,
              { type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound', observedGeneration: 2 },
            ],
          },
        ],
      },
    );
    expect(checkApplied(router, unresolved, 20)).toMatchObject({
      state: 'mismatch',
      reason: expect.stringMatching(/ResolvedRefs is False \(BackendNotFound\)/),
    });
    const orphan = route([{ name: 'app-stable', port: 80 }]);
    orphan.spec.parentRefs = [];
    expect(routeAcceptance(orphan)).toMatchObject({ state: 'rejected' });
  });
});

function deployment(
  name: string,
  replicas: number,
  status: Partial<NonNullable<Deployment['status']>> = {},
): Deployment {
  return {
    metadata: { name, namespace: 'shop', uid: `uid-${name}`, resourceVersion: '1', generation: 2 },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web', track: name } },
      template: {
        metadata: { labels: { app: 'web', track: name } },
        spec: { containers: [{ name: 'web', image: `web:${name}` }] },
      },
    },
    status: {
      observedGeneration: 2,
      replicas,
      updatedReplicas: replicas,
      availableReplicas: replicas,
      ...status,
    },
  };
}

describe('replica-ratio router', () => {
  it('approximates each default step with 10 replicas', () => {
    expect(DEFAULT_STEP_WEIGHTS.map((weight) => replicaSplit(weight, 10))).toEqual([
      { weight: 5, stableReplicas: 9, canaryReplicas: 1, achievedWeight: 10, error: 5 },
      { weight: 20, stableReplicas: 8, canaryReplicas: 2, achievedWeight: 20, error: 0 },
      { weight: 50, stableReplicas: 5, canaryReplicas: 5, achievedWeight: 50, error: 0 },
      { weight: 100, stableReplicas: 0, canaryReplicas: 10, achievedWeight: 100, error: 0 },
    ]);
  });

  it('gives the error table the README quotes', () => {
    const table = replicaRatioTable(DEFAULT_STEP_WEIGHTS, [2, 3, 4, 5, 10, 20]);
    const canary = (total: number) =>
      table.filter((row) => row.totalReplicas === total).map((row) => row.canaryReplicas);
    const error = (total: number) =>
      table.filter((row) => row.totalReplicas === total).map((row) => Number(row.error.toFixed(2)));
    expect(canary(2)).toEqual([1, 1, 1, 2]);
    expect(error(2)).toEqual([45, 30, 0, 0]);
    expect(canary(3)).toEqual([1, 1, 2, 3]);
    expect(error(3)).toEqual([28.33, 13.33, 16.67, 0]);
    expect(canary(4)).toEqual([1, 1, 2, 4]);
    expect(error(4)).toEqual([20, 5, 0, 0]);
    expect(canary(5)).toEqual([1, 1, 3, 5]);
    expect(error(5)).toEqual([15, 0, 10, 0]);
    expect(canary(20)).toEqual([1, 4, 10, 20]);
    expect(error(20)).toEqual([0, 0, 0, 0]);
  });

  it('keeps a pod on each side between 0 and 100, and needs two replicas for it', () => {
    expect(replicaSplit(1, 10)).toMatchObject({ canaryReplicas: 1, stableReplicas: 9 });
    expect(replicaSplit(99, 10)).toMatchObject({ canaryReplicas: 9, stableReplicas: 1 });
    expect(replicaSplit(0, 1)).toMatchObject({ canaryReplicas: 0, stableReplicas: 1 });
    expect(() => replicaSplit(5, 1)).toThrow(InvalidStepPlan);
    expect(() => replicaSplit(5, 0)).toThrow(InvalidStepPlan);
  });

  const settings = { stableDeployment: 'web', canaryDeployment: 'web-canary', totalReplicas: 10 };
  const router = replicaRatioRouter(settings);

  it('scales the growing side first, each patch guarded by the count read', () => {
    const start: DeploymentPair = { stable: deployment('web', 10), canary: deployment('web-canary', 0) };
    expect(router.desired(20, start)).toEqual([
      {
        role: 'canary',
        name: 'web-canary',
        replicas: 2,
        patch: [
          { op: 'test', path: '/spec/replicas', value: 0 },
          { op: 'replace', path: '/spec/replicas', value: 2 },
        ],
      },
      {
        role: 'stable',
        name: 'web',
        replicas: 8,
        patch: [
          { op: 'test', path: '/spec/replicas', value: 10 },
          { op: 'replace', path: '/spec/replicas', value: 8 },
        ],
      },
    ]);
    const midway: DeploymentPair = { stable: deployment('web', 5), canary: deployment('web-canary', 5) };
    expect(router.desired(0, midway).map((change) => `${change.role}=${change.replicas}`)).toEqual([
      'stable=10',
      'canary=0',
    ]);
    expect(router.desired(50, midway)).toEqual([]);
  });

  it('round-trips: the patched Deployments are configured at the achieved weight', () => {
    let pair: DeploymentPair = { stable: deployment('web', 10), canary: deployment('web-canary', 0) };
    for (const weight of DEFAULT_STEP_WEIGHTS) {
      for (const change of router.desired(weight, pair))
        pair = { ...pair, [change.role]: patched(pair[change.role], change.patch) };
      expect(checkDrift(router, pair, weight)).toEqual({ state: 'unchanged' });
    }
  });

  it('counts a step once both Deployments have settled at the achieved weight', () => {
    const settled: DeploymentPair = { stable: deployment('web', 9), canary: deployment('web-canary', 1) };
    expect(checkApplied(router, settled, 5)).toEqual({ state: 'applied', weight: 10 });
    const starting: DeploymentPair = {
      stable: deployment('web', 9),
      canary: deployment('web-canary', 1, { availableReplicas: 0 }),
    };
    expect(checkApplied(router, starting, 5)).toEqual({
      state: 'pending',
      reason: 'the canary Deployment has 0 available of 1 replicas (1 pods)',
    });
    const unobserved: DeploymentPair = {
      stable: deployment('web', 9, { observedGeneration: 1 }),
      canary: deployment('web-canary', 1),
    };
    expect(checkApplied(router, unobserved, 5)).toMatchObject({
      state: 'pending',
      reason: expect.stringMatching(/has not observed generation 2/),
    });
    const none: DeploymentPair = { stable: deployment('web', 0), canary: deployment('web-canary', 0) };
    expect(router.observed(none)).toMatchObject({ state: 'mismatch' });
  });

  it('detects a scale by hand (or by an autoscaler)', () => {
    const scaled: DeploymentPair = { stable: deployment('web', 12), canary: deployment('web-canary', 1) };
    expect(checkDrift(router, scaled, 5)).toMatchObject({
      state: 'edited',
      reason: expect.stringMatching(/not the 10 in total/),
    });
    const moved: DeploymentPair = { stable: deployment('web', 8), canary: deployment('web-canary', 2) };
    expect(checkDrift(router, moved, 5)).toEqual({
      state: 'edited',
      reason: 'the spec gives the canary 20 %, but the runbook last set 10 %',
    });
  });
});
