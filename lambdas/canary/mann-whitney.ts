// The two-sided Mann-Whitney U test (Wilcoxon rank-sum), as the canary analysis compares the canary's per-minute
// values with the stable version's over the same window. Kayenta, Spinnaker's canary judge, compares canary and
// baseline per metric with this test (kayenta-mannwhitney/…/MannWhitney.scala, kayenta-judge/…/classifiers/
// metric/MannWhitneyClassifier.scala): a rank test, so one outlier minute cannot fail a canary the way it moves
// a mean, and it needs no assumption about the shape of a latency or error-rate distribution.
//
// The statistic, the tie correction, the continuity correction and the choice between exact and asymptotic
// p-values follow scipy.stats.mannwhitneyu (scipy/stats/_mannwhitneyu.py), itself checked against R's
// wilcox.test: the tests here use the values SciPy's own tests and docs publish.

/** How the p-value was computed. */
export type MannWhitneyMethod = 'exact' | 'asymptotic';

/**
 * Which sample tends to be larger: `greater` when x's values tend to exceed y's (U of x above its mean n·m/2),
 * `less` when below, `none` when exactly at the mean.
 */
export type MannWhitneyDirection = 'greater' | 'less' | 'none';

export interface MannWhitneyOptions {
  /**
   * `auto` (SciPy's default): `exact` when one sample has at most 8 values and there are no ties, else
   * `asymptotic` (scipy/stats/_mannwhitneyu.py, `_mwu_choose_method`). The exact distribution assumes no ties,
   * so with ties it would be wrong, not merely slow. @default 'auto'
   */
  method?: MannWhitneyMethod | 'auto';
  /** The continuity correction of the normal approximation (SciPy `use_continuity`, R `correct`). @default true */
  continuity?: boolean;
}

export interface MannWhitneyResult {
  /** U of x: the number of pairs (xᵢ, yⱼ) with xᵢ > yⱼ, a tie counting one half (SciPy's `statistic`, R's W). */
  u: number;
  /** U of y: n·m − u. */
  uOther: number;
  nX: number;
  nY: number;
  method: MannWhitneyMethod;
  /**
   * The standardised statistic, tie- and continuity-corrected for the two-sided test (SciPy's `zstatistic`):
   * reported whatever the method, since it says how far apart the samples are. 0 when every value is tied.
   */
  z: number;
  /** Two-sided p-value: the probability, were both samples from one distribution, of a U at least this extreme. */
  pValue: number;
  /** One-sided p-value for "x tends to be greater than y" (SciPy `alternative='greater'`). */
  pGreater: number;
  /** One-sided p-value for "x tends to be less than y" (SciPy `alternative='less'`). */
  pLess: number;
  direction: MannWhitneyDirection;
  /**
   * Hodges–Lehmann estimate of the shift x − y: the median of the n·m pairwise differences xᵢ − yⱼ (what R's
   * wilcox.test reports as the "difference in location" for exact tests; Kayenta solves for the same point on
   * the normal approximation). In the metric's unit, unlike U: "the canary is 40 ms slower".
   */
  shift: number;
  /** Whether any value occurs more than once across both samples (ties force the asymptotic method). */
  ties: boolean;
}

/** SciPy's threshold: with both samples above it, the normal approximation is used even without ties. */
const EXACT_MAX_SMALLER_SAMPLE = 8;

/**
 * The two-sided Mann-Whitney U test of x against y, with the direction of the effect and the Hodges–Lehmann
 * shift. Both samples must be non-empty and finite (a rank test on no data says nothing: callers decide what
 * missing data means). `x` is the sample under test (the canary), `y` the reference (stable).
 */
export function mannWhitneyU(
  x: readonly number[],
  y: readonly number[],
  { method = 'auto', continuity = true }: MannWhitneyOptions = {},
): MannWhitneyResult {
  requireSample('x', x);
  requireSample('y', y);
  const nX = x.length;
  const nY = y.length;
  const { ranks, tieGroups } = averageRanks([...x, ...y]);
  // U of x = its rank sum minus the smallest rank sum it could have (Mann & Whitney 1947; SciPy "method 2").
  let rankSumX = 0;
  for (let i = 0; i < nX; i++) rankSumX += ranks[i] ?? 0;
  const u = rankSumX - (nX * (nX + 1)) / 2;
  const uOther = nX * nY - u;
  const mean = (nX * nY) / 2;
  const ties = tieGroups.some((size) => size > 1);
  const chosen: MannWhitneyMethod =
    method !== 'auto'
      ? method
      : (nX > EXACT_MAX_SMALLER_SAMPLE && nY > EXACT_MAX_SMALLER_SAMPLE) || ties
        ? 'asymptotic'
        : 'exact';

  const n = nX + nY;
  const tieTerm = tieGroups.reduce((sum, t) => sum + (t * t * t - t), 0);
  // Standard deviation of U under the null, corrected for ties (SciPy `_get_mwu_z`; Wikipedia "Normal
  // approximation and tie correction"). Zero only when every value is the same.
  const sigma = Math.sqrt(((nX * nY) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  const zFor = (alternative: 'two-sided' | 'greater' | 'less'): number => {
    const distance = u - mean;
    if (sigma === 0) return 0;
    // The continuity correction moves U half a step towards the mean for a two-sided test (so it always raises
    // the p-value), and in the direction of the alternative for a one-sided one (SciPy `_correction_sign`).
    const sign = alternative === 'greater' ? 1 : alternative === 'less' ? -1 : Math.sign(distance);
    return (distance - (continuity ? 0.5 * sign : 0)) / sigma;
  };
  const z = zFor('two-sided');

  let pValue: number;
  let pGreater: number;
  let pLess: number;
  if (sigma === 0) {
    // Every value tied: no evidence of any difference. (SciPy's asymptotic branch divides 0 by 0 here.)
    pValue = pGreater = pLess = 1;
  } else if (chosen === 'exact') {
    const atLeast = exactUpperTail(nX, nY);
    // P(U ≥ u) for "greater"; by symmetry, P(U ≤ u) = P(U' ≥ n·m − u) for "less"; the two-sided p-value
    // doubles the tail of the larger of the two U (SciPy), clipped at 1 when U sits at the mean.
    pGreater = atLeast(u);
    pLess = atLeast(uOther);
    pValue = Math.min(1, 2 * atLeast(Math.max(u, uOther)));
  } else {
    pGreater = normalUpperTail(zFor('greater'));
    pLess = 1 - normalUpperTail(zFor('less'));
    pValue = Math.min(1, 2 * normalUpperTail(Math.abs(z)));
  }

  return {
    u,
    uOther,
    nX,
    nY,
    method: chosen,
    z,
    pValue,
    pGreater,
    pLess,
    direction: u > mean ? 'greater' : u < mean ? 'less' : 'none',
    shift: hodgesLehmannShift(x, y),
    ties,
  };
}

/** The median of all pairwise differences xᵢ − yⱼ (Hodges & Lehmann 1963). O(n·m log(n·m)). */
export function hodgesLehmannShift(x: readonly number[], y: readonly number[]): number {
  requireSample('x', x);
  requireSample('y', y);
  const differences = new Float64Array(x.length * y.length);
  let k = 0;
  for (const xi of x) for (const yj of y) differences[k++] = xi - yj;
  differences.sort();
  const middle = differences.length >> 1;
  return differences.length % 2 === 1
    ? (differences[middle] ?? NaN)
    : ((differences[middle - 1] ?? NaN) + (differences[middle] ?? NaN)) / 2;
}

function requireSample(name: string, values: readonly number[]): void {
  if (values.length === 0) throw new RangeError(`Mann-Whitney: sample ${name} is empty`);
  const bad = values.findIndex((value) => !Number.isFinite(value));
  if (bad >= 0)
    throw new RangeError(`Mann-Whitney: sample ${name}[${bad}] is ${values[bad]}, not a finite number`);
}

/** 1-based ranks, ties given the average of the ranks they span, and the size of each group of equal values. */
function averageRanks(values: readonly number[]): { ranks: Float64Array; tieGroups: number[] } {
  const order = values.map((_, index) => index).sort((a, b) => (values[a] ?? 0) - (values[b] ?? 0));
  const ranks = new Float64Array(values.length);
  const tieGroups: number[] = [];
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    while (end < order.length && values[order[end] ?? 0] === values[order[start] ?? 0]) end++;
    const rank = (start + 1 + end) / 2; // the mean of ranks start+1 … end
    for (let i = start; i < end; i++) ranks[order[i] ?? 0] = rank;
    tieGroups.push(end - start);
    start = end;
  }
  return { ranks, tieGroups };
}

/**
 * The exact null distribution of U for samples of m and n values without ties: P(U = k) for k = 0 … m·n. The
 * number of arrangements with U = k is the coefficient of q^k in the Gaussian binomial [m+n choose m]_q
 * = ∏ᵢ₌₁..ₘ (1 − q^(n+i)) / (1 − q^i) (Andrews, "The Theory of Partitions", 3.3; the same counts as Mann &
 * Whitney's recurrence). After each factor the coefficients are again non-negative integers, built in
 * O(min(m,n)²·max(m,n)) additions; beyond 2^53 they are rounded, which moves a probability by ~1e-16.
 */
export function exactUDistribution(m: number, n: number): Float64Array {
  if (!(Number.isInteger(m) && Number.isInteger(n) && m > 0 && n > 0)) {
    throw new RangeError(`exact U distribution: sample sizes must be positive integers, not ${m} and ${n}`);
  }
  const small = Math.min(m, n);
  const large = Math.max(m, n); // the distribution is symmetric in m and n; the smaller loop is cheaper
  const degree = small * large;
  let counts = new Float64Array(degree + 1);
  counts[0] = 1;
  for (let i = 1; i <= small; i++) {
    const next = new Float64Array(degree + 1);
    // Multiply by (1 − q^(large+i)) …
    for (let k = 0; k <= degree; k++) {
      next[k] = (counts[k] ?? 0) - (k >= large + i ? (counts[k - large - i] ?? 0) : 0);
    }
    // … then divide by (1 − q^i): a running sum with stride i.
    for (let k = i; k <= degree; k++) next[k] = (next[k] ?? 0) + (next[k - i] ?? 0);
    counts = next;
  }
  const total = counts.reduce((sum, count) => sum + count, 0);
  return counts.map((count) => count / total);
}

/** P(U ≥ k) under the exact null distribution (the survival function SciPy's p-values use, mass at k included). */
function exactUpperTail(m: number, n: number): (k: number) => number {
  const pmf = exactUDistribution(m, n);
  const upper = new Float64Array(pmf.length + 1);
  for (let k = pmf.length - 1; k >= 0; k--) upper[k] = (upper[k + 1] ?? 0) + (pmf[k] ?? 0);
  // Without ties U is a whole number; the tolerance only guards a rounding error from the rank sums.
  return (k) => Math.min(1, upper[Math.max(0, Math.min(pmf.length, Math.ceil(k - 1e-9)))] ?? 0);
}

/** P(Z ≥ z) for a standard normal Z. */
export function normalUpperTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/**
 * The complementary error function to about 1e-15, with no dependency: the power series
 * erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)) (Abramowitz & Stegun 7.1.6: every term positive,
 * so no cancellation) below 3, Laplace's continued fraction for erfc (A&S 7.1.14, evaluated by the modified
 * Lentz method) above, where 1 − erf would lose the digits a small p-value lives in.
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 3) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 200 && term > sum * 1e-17; n++) {
      term *= (2 * x * x) / (2 * n + 1);
      sum += term;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
  }
  if (x > 27) return 0; // e^(−729) underflows a double
  // erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …))))), aₖ = k/2.
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    d = x + a * d;
    d = d === 0 ? tiny : d;
    c = x + a / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}
