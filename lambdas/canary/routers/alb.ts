import * as z from 'zod/mini';
import type { Ingress, JsonPatchOperation } from '../../kubernetes/resources';
import { parseOrThrow } from '../../shared/errors';
import { assertWeight, formatWeight, RouterMismatch, type Observed, type TrafficRouter } from './router';

// The ALB router: the AWS Load Balancer Controller (LBC) turns the Ingress annotation
// `alb.ingress.kubernetes.io/actions.<name>` into a listener rule's forward action, and the Ingress rule whose
// backend is service `<name>`, port `use-annotation`, takes it. The annotation's "advanced schema" forwards to
// several target groups by Service name and port with weights
// (kubernetes-sigs/aws-load-balancer-controller docs/guide/ingress/annotations.md, "actions"):
//   {"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"app-stable","servicePort":"80","weight":90},
//                                                      {"serviceName":"app-canary","servicePort":"80","weight":10}]}}
// The controller reconciles asynchronously, so the Ingress says only what was asked; what the load balancer
// really does is its rule, read with `elasticloadbalancing:DescribeRules` (ForwardConfig.TargetGroups, weights
// 0–999 per target group: ELBv2 API `TargetGroupTuple`). A step counts only once the rule shows its weights.
// Keep the canary target group in the action at weight 0 rather than drop it: its pods must stay registered
// until traffic has left them (IP-mode deregistration lag gives 502/503 otherwise).
// With target group stickiness on, weights apply to new sessions only: the observed split is the rule's, not
// the requests'.

export const ALB_ACTION_ANNOTATION_PREFIX = 'alb.ingress.kubernetes.io/actions.';

/** The annotation key for an action: `alb.ingress.kubernetes.io/actions.<name>`. */
export const albActionAnnotationKey = (actionName: string): string =>
  `${ALB_ACTION_ANNOTATION_PREFIX}${actionName}`;

/**
 * One reference token of a JSON Pointer (RFC 6901 §3): `~` becomes `~0` and `/` becomes `~1`, in that order,
 * so a `/` in an annotation key is not read as a path separator (and `~1` written by the first replacement is
 * not escaped again).
 */
export const escapeJsonPointerToken = (token: string): string =>
  token.replaceAll('~', '~0').replaceAll('/', '~1');

/** The JSON Pointer of the action's annotation on an Ingress. */
export const albAnnotationPointer = (actionName: string): string =>
  `/metadata/annotations/${escapeJsonPointerToken(albActionAnnotationKey(actionName))}`;

export interface ServiceBackend {
  serviceName: string;
  /** A port number or a port name (the annotation accepts both: "http", "80", 80). */
  servicePort: string | number;
}

export interface AlbRouterSettings {
  /** `<name>` in `alb.ingress.kubernetes.io/actions.<name>`: the Ingress rule's backend service name. */
  actionName: string;
  stable: ServiceBackend;
  canary: ServiceBackend;
}

const annotationTargetGroupSchema = z.looseObject({
  serviceName: z.optional(z.string()),
  servicePort: z.optional(z.union([z.string(), z.int()])),
  targetGroupARN: z.optional(z.string()),
  targetGroupName: z.optional(z.string()),
  weight: z.optional(z.int()),
});
type AnnotationTargetGroup = z.output<typeof annotationTargetGroupSchema>;

// Loose: `targetGroupStickinessConfig` and whatever else the forward config carries is kept when we rewrite it.
const forwardActionSchema = z.looseObject({
  type: z.literal('forward'),
  forwardConfig: z.looseObject({
    targetGroups: z.array(annotationTargetGroupSchema).check(z.minLength(1)),
  }),
});
type ForwardAction = z.output<typeof forwardActionSchema>;

/** The annotation's JSON for a canary weight: stable first, both target groups always present, weights sum to 100. */
export function albForwardAction(
  settings: Pick<AlbRouterSettings, 'stable' | 'canary'>,
  weight: number,
  base?: ForwardAction,
): ForwardAction {
  assertWeight(weight);
  const targetGroups = [
    {
      serviceName: settings.stable.serviceName,
      servicePort: String(settings.stable.servicePort),
      weight: 100 - weight,
    },
    { serviceName: settings.canary.serviceName, servicePort: String(settings.canary.servicePort), weight },
  ];
  return {
    ...base,
    type: 'forward',
    forwardConfig: { ...base?.forwardConfig, targetGroups },
  };
}

type ParsedAnnotation =
  | { state: 'missing' }
  | { state: 'invalid'; reason: string }
  | { state: 'parsed'; raw: string; action: ForwardAction };

function readAnnotation(ingress: Ingress, actionName: string): ParsedAnnotation {
  const key = albActionAnnotationKey(actionName);
  const raw = ingress.metadata.annotations?.[key];
  if (raw === undefined) return { state: 'missing' };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { state: 'invalid', reason: `annotation ${key} is not JSON` };
  }
  const parsed = z.safeParse(forwardActionSchema, json);
  if (!parsed.success) {
    return {
      state: 'invalid',
      reason: `annotation ${key} is not a forward action with forwardConfig.targetGroups`,
    };
  }
  return { state: 'parsed', raw, action: parsed.data };
}

const sameBackend = (group: AnnotationTargetGroup, backend: ServiceBackend): boolean =>
  group.targetGroupARN === undefined &&
  group.serviceName === backend.serviceName &&
  group.servicePort !== undefined &&
  String(group.servicePort) === String(backend.servicePort);

const describeGroup = (group: AnnotationTargetGroup): string =>
  group.targetGroupARN ??
  group.targetGroupName ??
  `${group.serviceName ?? '(no serviceName)'}:${String(group.servicePort ?? '(no servicePort)')}`;

/** Sorts the action's target groups into stable and canary, or names the one that is neither. */
function classify(
  action: ForwardAction,
  settings: AlbRouterSettings,
): { stable?: AnnotationTargetGroup; canary?: AnnotationTargetGroup } | { foreign: string } {
  const found: { stable?: AnnotationTargetGroup; canary?: AnnotationTargetGroup } = {};
  for (const group of action.forwardConfig.targetGroups) {
    const role = sameBackend(group, settings.stable)
      ? 'stable'
      : sameBackend(group, settings.canary)
        ? 'canary'
        : null;
    if (role === null || found[role]) return { foreign: describeGroup(group) };
    found[role] = group;
  }
  return found;
}

/**
 * The canary's weight the annotation asks for. The runbook always writes both target groups with weights
 * summing to 100; anything else there (a third target group, a target group by ARN, other weights, no
 * annotation) was written by someone else.
 */
export function albConfiguredWeight(ingress: Ingress, settings: AlbRouterSettings): Observed {
  const key = albActionAnnotationKey(settings.actionName);
  const annotation = readAnnotation(ingress, settings.actionName);
  if (annotation.state === 'missing') {
    return { state: 'mismatch', reason: `Ingress ${ingress.metadata.name} has no annotation ${key}` };
  }
  if (annotation.state === 'invalid') return { state: 'mismatch', reason: annotation.reason };
  const groups = classify(annotation.action, settings);
  if ('foreign' in groups) {
    return {
      state: 'mismatch',
      reason: `annotation ${key} forwards to ${groups.foreign}, not only stable and canary`,
    };
  }
  const { stable, canary } = groups;
  if (!stable) {
    return { state: 'mismatch', reason: `annotation ${key} does not forward to the stable Service` };
  }
  // Before the first run the action may forward to stable alone: all traffic is stable's.
  if (!canary) return { state: 'weight', weight: 0 };
  if (stable.weight === undefined || canary.weight === undefined) {
    return { state: 'mismatch', reason: `annotation ${key} leaves a target group without a weight` };
  }
  // A canary at 0 is the state before a run, whatever stable's weight.
  if (canary.weight === 0 && stable.weight > 0) return { state: 'weight', weight: 0 };
  if (stable.weight + canary.weight !== 100) {
    return {
      state: 'mismatch',
      reason: `annotation ${key} weighs stable ${stable.weight} and canary ${canary.weight}; the runbook writes weights summing to 100`,
    };
  }
  return { state: 'weight', weight: canary.weight };
}

/**
 * The JSON Patch setting the canary's weight on the Ingress. When the annotation is there, a `test` of its
 * current text comes first: a hand edit between our read and our write then fails the patch (HTTP 422, the
 * client's `KubernetesConflict`) instead of being overwritten. Other fields of the forward config
 * (`targetGroupStickinessConfig`) are kept. Refuses (`RouterMismatch`) an action forwarding elsewhere too:
 * rewriting it would drop someone's target group.
 */
export function albWeightPatch(
  ingress: Ingress,
  settings: AlbRouterSettings,
  weight: number,
): JsonPatchOperation[] {
  const path = albAnnotationPointer(settings.actionName);
  const annotation = readAnnotation(ingress, settings.actionName);
  if (annotation.state === 'invalid') throw new RouterMismatch(annotation.reason);
  if (annotation.state === 'parsed') {
    const groups = classify(annotation.action, settings);
    if ('foreign' in groups) {
      throw new RouterMismatch(
        `annotation ${albActionAnnotationKey(settings.actionName)} forwards to ${groups.foreign}: not changed`,
      );
    }
    const value = JSON.stringify(albForwardAction(settings, weight, annotation.action));
    return [
      { op: 'test', path, value: annotation.raw },
      { op: 'replace', path, value },
    ];
  }
  const value = JSON.stringify(albForwardAction(settings, weight));
  // `add` on a member that does not exist creates it, but only inside an existing object (RFC 6902 §4.1).
  if (ingress.metadata.annotations === undefined) {
    return [
      {
        op: 'add',
        path: '/metadata/annotations',
        value: { [albActionAnnotationKey(settings.actionName)]: value },
      },
    ];
  }
  return [{ op: 'add', path, value }];
}

// elasticloadbalancing:DescribeRules, the part we read (ELBv2 API: Rule, Action, ForwardActionConfig,
// TargetGroupTuple). Loose at the top: the SDK's answer carries `$metadata` and `NextMarker`.
const targetGroupTupleSchema = z.looseObject({
  TargetGroupArn: z.optional(z.string()),
  Weight: z.optional(z.int()),
});
const ruleActionSchema = z.looseObject({
  Type: z.string(),
  Order: z.optional(z.int()),
  TargetGroupArn: z.optional(z.string()),
  ForwardConfig: z.optional(z.looseObject({ TargetGroups: z.optional(z.array(targetGroupTupleSchema)) })),
});
const ruleSchema = z.looseObject({
  RuleArn: z.optional(z.string()),
  Priority: z.optional(z.string()),
  IsDefault: z.optional(z.boolean()),
  Actions: z.optional(z.array(ruleActionSchema)),
});
export const describeRulesOutputSchema = z.looseObject({ Rules: z.optional(z.array(ruleSchema)) });

export interface AlbEvidence {
  /**
   * A DescribeRules answer for the listener(s) the Ingress uses, every page's `Rules` in one list. Parsed here
   * with `describeRulesOutputSchema`: a malformed answer is a `RouterMismatch`, not a crash.
   */
  describeRules: unknown;
  /** The target groups the LBC made for the stable and canary Services (found by the next slice's handler). */
  stableTargetGroupArn: string;
  canaryTargetGroupArn: string;
  /**
   * Only these rules, when given: another path of the same IngressGroup sending to the stable Service directly
   * (not through the action) would otherwise read as a rule that never takes the canary's weight.
   */
  ruleArns?: readonly string[];
}

const ruleName = (rule: z.output<typeof ruleSchema>): string =>
  rule.RuleArn ?? (rule.IsDefault ? 'the default rule' : `the rule of priority ${rule.Priority ?? '?'}`);

/**
 * The canary's weight on the load balancer itself: in every rule whose forward action reaches the stable or the
 * canary target group, canary weight ÷ (stable + canary). Rules that disagree (one listener reconciled, another
 * not yet) are `pending`; a rule that also forwards to another target group, or none reaching either, is a
 * `mismatch`.
 */
export function albObservedWeight(evidence: AlbEvidence): Observed {
  const { stableTargetGroupArn: stableArn, canaryTargetGroupArn: canaryArn } = evidence;
  const answer = parseOrThrow(
    describeRulesOutputSchema,
    evidence.describeRules,
    'the DescribeRules answer',
    RouterMismatch,
  );
  const weights: Array<{ rule: string; weight: number }> = [];
  const rules = (answer.Rules ?? []).filter(
    (rule) => !evidence.ruleArns || (rule.RuleArn !== undefined && evidence.ruleArns.includes(rule.RuleArn)),
  );
  for (const rule of rules) {
    for (const action of rule.Actions ?? []) {
      if (action.Type !== 'forward') continue;
      // A single-target forward may come as TargetGroupArn alone: that target group takes everything.
      const groups =
        action.ForwardConfig?.TargetGroups ??
        (action.TargetGroupArn ? [{ TargetGroupArn: action.TargetGroupArn, Weight: 1 }] : []);
      if (!groups.some((group) => group.TargetGroupArn === stableArn || group.TargetGroupArn === canaryArn))
        continue;
      const foreign = groups.find(
        (group) => group.TargetGroupArn !== stableArn && group.TargetGroupArn !== canaryArn,
      );
      if (foreign) {
        return {
          state: 'mismatch',
          reason: `${ruleName(rule)} also forwards to ${foreign.TargetGroupArn ?? 'a target group without an ARN'}`,
        };
      }
      const weightOf = (arn: string) =>
        groups
          .filter((group) => group.TargetGroupArn === arn)
          .reduce((sum, group) => sum + (group.Weight ?? 0), 0);
      const stable = weightOf(stableArn);
      const canary = weightOf(canaryArn);
      if (stable + canary === 0) {
        return {
          state: 'mismatch',
          reason: `${ruleName(rule)} weighs both target groups 0: it routes nothing`,
        };
      }
      weights.push({ rule: ruleName(rule), weight: (canary / (stable + canary)) * 100 });
    }
  }
  const first = weights[0];
  if (!first) {
    return {
      state: 'mismatch',
      reason: `no listener rule forwards to the stable (${stableArn}) or canary (${canaryArn}) target group`,
    };
  }
  const other = weights.find(({ weight }) => Math.abs(weight - first.weight) > 1e-9);
  if (other) {
    return {
      state: 'pending',
      reason: `rules disagree: ${first.rule} gives the canary ${formatWeight(first.weight)}, ${other.rule} ${formatWeight(other.weight)}`,
    };
  }
  return { state: 'weight', weight: first.weight };
}

/** The ALB router: patches the Ingress annotation, verifies on the load balancer's rules. */
export function albRouter(
  settings: AlbRouterSettings,
): TrafficRouter<Ingress, JsonPatchOperation[], AlbEvidence> {
  return {
    kind: 'alb',
    effectiveWeight: (weight) => weight,
    desired: (weight, current) => albWeightPatch(current, settings, weight),
    configured: (current) => albConfiguredWeight(current, settings),
    observed: (evidence) => albObservedWeight(evidence),
  };
}
