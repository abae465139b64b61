import { RunbookError } from '../../shared/errors';

// One interface for every way of splitting traffic, after Flagger's router model (fluxcd/flagger pkg/router,
// `Interface`: SetRoutes(primaryWeight, canaryWeight) / GetRoutes() → weights). Ours differs in two ways:
//   - it is pure: `desired` returns the change as a value (a JSON Patch) for a handler to send, so the
//     routers are tested without a cluster and a workflow state can carry the change;
//   - it separates what the spec asks for (`configured`, on the object we patch) from what really routes
//     (`observed`, on the evidence: the load balancer's rules, the route's status, the available pods). The
//     AWS Load Balancer Controller and Gateway API controllers reconcile asynchronously, so a step counts only
//     once `observed` shows its weight, and a spec that no longer says what the runbook last wrote was edited
//     by hand.
// A weight is the canary's share of requests in percent (0–100); stable gets the rest.

export type RouterKind = 'alb' | 'gateway-api' | 'replica-ratio';

/** What a resource says about the split. */
export type Observed =
  /** The canary's share of requests, in percent (not always whole: 1 pod in 7 is 14.29 %). */
  | { state: 'weight'; weight: number }
  /** The controller has not caught up with the latest spec yet: ask again later. */
  | { state: 'pending'; reason: string }
  /** Not in a shape the runbook manages: a backend it does not know, a missing annotation, a refused route. */
  | { state: 'mismatch'; reason: string };

export interface TrafficRouter<Target, Change, Evidence> {
  readonly kind: RouterKind;
  /**
   * The share the router really gives the canary for a requested step weight: the weight itself, except for
   * the replica ratio, which can only give whole pods.
   */
  effectiveWeight(weight: number): number;
  /**
   * The change that sets the canary's weight on `current` (the object read just before), as a pure value.
   * Throws `RouterMismatch` when `current` is not in a shape the runbook manages.
   */
  desired(weight: number, current: Target): Change;
  /** The split `current`'s spec asks for: compared with the weight last set, it detects a hand edit. */
  configured(current: Target): Observed;
  /** The split really applied, read from the evidence: a step counts only once this shows its weight. */
  observed(evidence: Evidence): Observed;
}

/** The resource a router manages is not in a shape it can change safely (see `Observed` `mismatch`). */
export class RouterMismatch extends RunbookError {
  override name = 'RouterMismatch';
}

/** The spec no longer says what the runbook last set: someone changed the split by hand mid-run. */
export class TrafficEditedByHand extends RunbookError {
  override name = 'TrafficEditedByHand';
}

/** A weight the runbook sets: a whole percentage. Anything else is a bug in the caller, not a routed failure. */
export function assertWeight(weight: number): void {
  if (!Number.isInteger(weight) || weight < 0 || weight > 100) {
    throw new RangeError(`a canary weight is a whole percentage from 0 to 100, not ${weight}`);
  }
}

// Weights the runbook computes are exact ratios of small integers; a tolerance absorbs float division only.
const EPSILON = 1e-9;
const sameWeight = (a: number, b: number): boolean => Math.abs(a - b) < EPSILON;

/** Percentages in messages: whole numbers as they are, others to two decimals. */
export const formatWeight = (weight: number): string =>
  `${Number.isInteger(weight) ? String(weight) : weight.toFixed(2)} %`;

export type StepCheck =
  | { state: 'applied'; weight: number }
  | { state: 'pending'; reason: string; observedWeight?: number }
  | { state: 'mismatch'; reason: string };

/**
 * Whether a step's weight is really applied. Another weight on the evidence is "not yet" (the controller has not
 * reconciled), not a failure: the workflow waits and asks again, and fails with `TrafficNotApplied` only when
 * its wait runs out.
 */
export function checkApplied<Target, Change, Evidence>(
  router: TrafficRouter<Target, Change, Evidence>,
  evidence: Evidence,
  stepWeight: number,
): StepCheck {
  const observed = router.observed(evidence);
  if (observed.state !== 'weight') return observed;
  const expected = router.effectiveWeight(stepWeight);
  if (sameWeight(observed.weight, expected)) return { state: 'applied', weight: observed.weight };
  return {
    state: 'pending',
    reason: `the canary gets ${formatWeight(observed.weight)}, not yet the ${formatWeight(expected)} of this step`,
    observedWeight: observed.weight,
  };
}

export type DriftCheck = { state: 'unchanged' } | { state: 'edited'; reason: string };

/**
 * Whether `current`'s spec still asks for the weight the runbook last set. Unlike the evidence, the spec changes
 * only when someone writes it, so any other weight (or shape) is a hand edit: the runbook stops rather than
 * overwrite a person's decision mid-incident.
 */
export function checkDrift<Target, Change, Evidence>(
  router: TrafficRouter<Target, Change, Evidence>,
  current: Target,
  lastSetWeight: number,
): DriftCheck {
  const configured = router.configured(current);
  if (configured.state !== 'weight') return { state: 'edited', reason: configured.reason };
  const expected = router.effectiveWeight(lastSetWeight);
  if (sameWeight(configured.weight, expected)) return { state: 'unchanged' };
  return {
    state: 'edited',
    reason: `the spec gives the canary ${formatWeight(configured.weight)}, but the runbook last set ${formatWeight(expected)}`,
  };
}
