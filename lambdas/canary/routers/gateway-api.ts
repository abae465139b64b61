import type {
  GatewayBackendRef,
  GatewayParentRef,
  HttpRoute,
  JsonPatchOperation,
} from '../../kubernetes/resources';
import { assertWeight, RouterMismatch, type Observed, type TrafficRouter } from './router';

// The Gateway API router: an HTTPRoute rule's `backendRefs[].weight` splits its requests, each backend getting
// weight ÷ (sum of the rule's weights); a missing weight is 1, a weight of 0 gets nothing (Gateway API
// `HTTPBackendRef`/`BackendRef.weight`, gateway.networking.k8s.io/v1). Every conformant implementation honours
// it (the AWS Gateway API controller for VPC Lattice, Envoy Gateway, Istio, ...), so one router serves them all.
// Whether the implementation took the route is in `status.parents[]` (`RouteParentStatus`): per parent Gateway,
// conditions `Accepted` ("the route has been accepted or rejected by the Gateway, and why") and `ResolvedRefs`
// (every backendRef resolved), each a metav1.Condition whose `observedGeneration` says which spec it describes.
// A condition from an older generation describes the previous weights: the step counts only once every parent
// has accepted the current generation. Acceptance is as far as the API reports; it does not prove the data plane
// already routes the new weights, a lag the analysis interval absorbs.

export interface RouteBackend {
  /** A Service in the route's namespace. */
  name: string;
  /** The Service port; when omitted, any port of that Service matches, and a canary added by the runbook gets the stable one's. */
  port?: number;
}

export interface GatewayRouterSettings {
  stable: RouteBackend;
  canary: RouteBackend;
}

// The HTTPRoute as the thin Kubernetes client parses it (lambdas/kubernetes/resources.ts): one definition.
type BackendRef = GatewayBackendRef;
type ParentRef = GatewayParentRef;

const isBackend = (ref: BackendRef, backend: RouteBackend, routeNamespace: string | undefined): boolean =>
  (ref.group ?? '') === '' &&
  (ref.kind ?? 'Service') === 'Service' &&
  (ref.namespace === undefined || ref.namespace === routeNamespace) &&
  ref.name === backend.name &&
  (backend.port === undefined || ref.port === backend.port);

interface ManagedRule {
  index: number;
  stable?: { index: number; ref: BackendRef };
  canary?: { index: number; ref: BackendRef };
}

/** The rules that send to stable or canary, each with where those two sit; refuses a rule sending elsewhere too. */
function managedRules(
  route: HttpRoute,
  settings: GatewayRouterSettings,
): ManagedRule[] | { mismatch: string } {
  const namespace = route.metadata.namespace;
  const rules: ManagedRule[] = [];
  for (const [index, rule] of (route.spec.rules ?? []).entries()) {
    const managed: ManagedRule = { index };
    const refs = rule.backendRefs ?? [];
    for (const [refIndex, ref] of refs.entries()) {
      const role = isBackend(ref, settings.stable, namespace)
        ? 'stable'
        : isBackend(ref, settings.canary, namespace)
          ? 'canary'
          : null;
      if (role === null) continue;
      if (managed[role]) return { mismatch: `rule ${index} lists the ${role} Service twice` };
      managed[role] = { index: refIndex, ref };
    }
    if (!managed.stable && !managed.canary) continue;
    const foreign = refs.find(
      (ref) => !isBackend(ref, settings.stable, namespace) && !isBackend(ref, settings.canary, namespace),
    );
    if (foreign)
      return { mismatch: `rule ${index} also sends to ${foreign.kind ?? 'Service'} ${foreign.name}` };
    if (!managed.stable)
      return { mismatch: `rule ${index} sends to the canary but not to the stable Service` };
    rules.push(managed);
  }
  if (rules.length === 0) {
    return {
      mismatch: `no rule of HTTPRoute ${route.metadata.name} sends to the stable Service ${settings.stable.name}`,
    };
  }
  return rules;
}

/**
 * The canary's weight the route's spec asks for, the same in every rule sending to stable. The runbook writes
 * stable and canary weights summing to 100, so other weights were set by hand; a canary at weight 0 (or not
 * listed yet) is the state before a run, whatever stable's weight.
 */
export function gatewayConfiguredWeight(route: HttpRoute, settings: GatewayRouterSettings): Observed {
  const rules = managedRules(route, settings);
  if ('mismatch' in rules) return { state: 'mismatch', reason: rules.mismatch };
  const weights: number[] = [];
  for (const rule of rules) {
    const stable = rule.stable?.ref.weight ?? 1;
    const canary = rule.canary ? (rule.canary.ref.weight ?? 1) : 0;
    if (canary === 0) {
      if (stable === 0) return { state: 'mismatch', reason: `rule ${rule.index} weighs stable and canary 0` };
      weights.push(0);
    } else if (stable + canary !== 100) {
      return {
        state: 'mismatch',
        reason: `rule ${rule.index} weighs stable ${stable} and canary ${canary}; the runbook writes weights summing to 100`,
      };
    } else {
      weights.push(canary);
    }
  }
  const [first, ...others] = weights;
  if (first === undefined) return { state: 'mismatch', reason: 'no rule to weigh' };
  if (others.some((weight) => weight !== first)) {
    return { state: 'mismatch', reason: `rules give the canary different weights (${weights.join(', ')})` };
  }
  return { state: 'weight', weight: first };
}

/**
 * The JSON Patch setting the canary's weight in every rule sending to stable. Array elements are addressed by
 * index, so each is guarded by a `test` of its name (and of its weight as read): a route reordered or reweighed
 * since our read fails the patch (HTTP 422) instead of weighing the wrong backend. A rule without the canary
 * gets it appended. A JSON merge patch cannot do this: it replaces the whole `rules` array.
 */
export function gatewayWeightPatch(
  route: HttpRoute,
  settings: GatewayRouterSettings,
  weight: number,
): JsonPatchOperation[] {
  assertWeight(weight);
  const rules = managedRules(route, settings);
  if ('mismatch' in rules)
    throw new RouterMismatch(`HTTPRoute ${route.metadata.name}: ${rules.mismatch}: not changed`);
  const ops: JsonPatchOperation[] = [];
  const setWeight = (rule: number, entry: { index: number; ref: BackendRef }, value: number) => {
    const base = `/spec/rules/${rule}/backendRefs/${entry.index}`;
    ops.push({ op: 'test', path: `${base}/name`, value: entry.ref.name });
    if (entry.ref.weight !== undefined)
      ops.push({ op: 'test', path: `${base}/weight`, value: entry.ref.weight });
    // `add` sets the member whether or not it is there (RFC 6902 §4.1).
    ops.push({ op: 'add', path: `${base}/weight`, value });
  };
  for (const rule of rules) {
    if (rule.stable) setWeight(rule.index, rule.stable, 100 - weight);
    if (rule.canary) {
      setWeight(rule.index, rule.canary, weight);
    } else {
      const port = settings.canary.port ?? rule.stable?.ref.port;
      ops.push({
        op: 'add',
        path: `/spec/rules/${rule.index}/backendRefs/-`,
        value: { name: settings.canary.name, ...(port === undefined ? {} : { port }), weight },
      });
    }
  }
  return ops;
}

const sameParent = (a: ParentRef, b: ParentRef, routeNamespace: string | undefined): boolean =>
  (a.group ?? 'gateway.networking.k8s.io') === (b.group ?? 'gateway.networking.k8s.io') &&
  (a.kind ?? 'Gateway') === (b.kind ?? 'Gateway') &&
  a.name === b.name &&
  (a.namespace ?? routeNamespace) === (b.namespace ?? routeNamespace) &&
  a.sectionName === b.sectionName &&
  a.port === b.port;

const parentName = (ref: ParentRef): string =>
  `${ref.kind ?? 'Gateway'} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}${ref.sectionName ? `/${ref.sectionName}` : ''}`;

export type RouteAcceptance =
  { state: 'accepted' } | { state: 'pending'; reason: string } | { state: 'rejected'; reason: string };

/**
 * Whether every parent in `spec.parentRefs` has accepted the route's current generation: `Accepted` and
 * `ResolvedRefs` True with `observedGeneration` ≥ `metadata.generation`. A status not written yet, Unknown, or
 * from an older generation is `pending`; False for the current generation is `rejected`, with the reason the
 * controller gave.
 */
export function routeAcceptance(route: HttpRoute): RouteAcceptance {
  const generation = route.metadata.generation ?? 0;
  const namespace = route.metadata.namespace;
  const parentRefs = route.spec.parentRefs ?? [];
  if (parentRefs.length === 0) {
    return {
      state: 'rejected',
      reason: `HTTPRoute ${route.metadata.name} has no parentRefs: no Gateway serves it`,
    };
  }
  for (const parentRef of parentRefs) {
    const statuses = (route.status?.parents ?? []).filter((status) =>
      sameParent(status.parentRef, parentRef, namespace),
    );
    if (statuses.length === 0) {
      return { state: 'pending', reason: `no status from ${parentName(parentRef)} yet` };
    }
    for (const status of statuses) {
      for (const type of ['Accepted', 'ResolvedRefs']) {
        const condition = status.conditions?.find((candidate) => candidate.type === type);
        const from = `${parentName(parentRef)}${status.controllerName ? ` (${status.controllerName})` : ''}`;
        if (!condition) return { state: 'pending', reason: `${from} has not set ${type} yet` };
        if (condition.observedGeneration === undefined || condition.observedGeneration < generation) {
          return {
            state: 'pending',
            reason: `${from}: ${type} describes generation ${condition.observedGeneration ?? '(unknown)'}, the route is at ${generation}`,
          };
        }
        if (condition.status === 'False') {
          const why = [condition.reason, condition.message].filter(Boolean).join(': ');
          return { state: 'rejected', reason: `${from}: ${type} is False${why ? ` (${why})` : ''}` };
        }
        if (condition.status !== 'True')
          return { state: 'pending', reason: `${from}: ${type} is ${condition.status}` };
      }
    }
  }
  return { state: 'accepted' };
}

/** The split the implementation applies: the spec's weights, once every parent accepted this generation. */
export function gatewayObservedWeight(route: HttpRoute, settings: GatewayRouterSettings): Observed {
  const acceptance = routeAcceptance(route);
  if (acceptance.state === 'pending') return acceptance;
  if (acceptance.state === 'rejected') return { state: 'mismatch', reason: acceptance.reason };
  return gatewayConfiguredWeight(route, settings);
}

/** The Gateway API router: patches the HTTPRoute's weights, verifies on its status. */
export function gatewayRouter(
  settings: GatewayRouterSettings,
): TrafficRouter<HttpRoute, JsonPatchOperation[], HttpRoute> {
  return {
    kind: 'gateway-api',
    effectiveWeight: (weight) => weight,
    desired: (weight, current) => gatewayWeightPatch(current, settings, weight),
    configured: (current) => gatewayConfiguredWeight(current, settings),
    observed: (route) => gatewayObservedWeight(route, settings),
  };
}
