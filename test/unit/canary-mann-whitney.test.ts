import { describe, expect, it } from 'vitest';
import {
  erfc,
  exactUDistribution,
  hodgesLehmannShift,
  mannWhitneyU,
  normalUpperTail,
} from '../../lambdas/canary/mann-whitney';

// Reference values, each with its source. SciPy's are from scipy/stats/_mannwhitneyu.py (docstring) and its
// test suite (TestMannWhitneyU in scipy/stats/tests/test_hypotests.py, later test_mannwhitneyu.py), whose
// "magic numbers are from R wilcox.test unless otherwise specified". SciPy asserts them with rtol 1e-7.
const close = (actual: number, expected: number, rtol = 1e-9) =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rtol * Math.abs(expected) + 1e-15);

describe('mannWhitneyU against SciPy and R', () => {
  // SciPy docstring, after Shier, "Statistics: 2.3 The Mann-Whitney U Test" (2004): ages at diagnosis.
  const males = [19, 22, 16, 29, 24];
  const females = [20, 11, 17, 12];

  it('Shier 2004 / SciPy docstring: exact for small samples without ties', () => {
    const result = mannWhitneyU(males, females);
    expect(result.method).toBe('exact');
    expect(result.u).toBe(17);
    expect(result.uOther).toBe(3);
    close(result.pValue, 0.1111111111111111); // mannwhitneyu(males, females, method="exact")
    expect(result.direction).toBe('greater');
    // mannwhitneyu(females, males, alternative="less", method="exact") → (3.0, 0.05555555555555555)
    const reversed = mannWhitneyU(females, males);
    expect(reversed.u).toBe(3);
    close(reversed.pLess, 0.05555555555555555);
    expect(reversed.direction).toBe('less');
  });

  it('Shier 2004 / SciPy docstring: the normal approximation, with and without continuity correction', () => {
    close(mannWhitneyU(males, females, { method: 'asymptotic' }).pValue, 0.11134688653314041);
    close(mannWhitneyU(males, females, { method: 'asymptotic', continuity: false }).pValue, 0.0864107329737);
  });

  // Hollander & Wolfe's example in R's ?wilcox.test; SciPy test_gh_9184 (R output, options(digits=16)).
  const hwX = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
  const hwY = [1.15, 0.88, 0.9, 0.74, 1.21];

  it('Hollander & Wolfe (R ?wilcox.test, SciPy gh-9184): every method and alternative', () => {
    const exact = mannWhitneyU(hwX, hwY);
    expect(exact.u).toBe(35);
    expect(exact.method).toBe('exact'); // 5 values on one side, no ties: SciPy's auto picks exact
    close(exact.pLess, 0.8967698967699, 1e-12 / 0.9 + 1e-12);
    close(exact.pGreater, 0.1272061272061, 1e-11);
    close(exact.pValue, 0.2544122544123, 1e-11);

    const corrected = mannWhitneyU(hwX, hwY, { method: 'asymptotic' });
    close(corrected.pLess, 0.900775348204, 1e-11);
    close(corrected.pGreater, 0.1223118025635, 1e-11);
    close(corrected.pValue, 0.244623605127, 1e-11);

    const uncorrected = mannWhitneyU(hwX, hwY, { method: 'asymptotic', continuity: false });
    close(uncorrected.pLess, 0.8896643190401, 1e-11);
    close(uncorrected.pGreater, 0.1103356809599, 1e-11);
    close(uncorrected.pValue, 0.2206713619198, 1e-11);
  });

  it('Hodges–Lehmann shift: the median of the pairwise differences', () => {
    // Hollander & Wolfe: the 25th and 26th of the 50 sorted differences are 0.30 and 0.31, so 0.305 (R's
    // wilcox.test(x, y, conf.int = TRUE) "difference in location").
    close(mannWhitneyU(hwX, hwY).shift, 0.305, 1e-12);
    // Shier: males − females, 20 differences, sorted: …, 5, 5, 7, 7, 8, … → the 10th and 11th are 7 and 7.
    expect(hodgesLehmannShift(males, females)).toBe(7);
    // An odd number of differences: the middle one.
    expect(hodgesLehmannShift([1, 2, 10], [0])).toBe(2);
  });

  // SciPy test_basic, from gh-4933 (R wilcox.test).
  const basicX = [210.05211, 110.19063, 307.918612];
  const basicY = [
    436.08811482466416, 416.37397329768191, 179.96975939463582, 197.8118754228619, 34.038757281225756,
    138.54220550921517, 128.7769351470246, 265.92721427951852, 275.6617533155341, 592.34083395416258,
    448.73177590617018, 300.61495185038905, 187.97508449019588,
  ];

  it('SciPy test_basic (gh-4933, R): 3 against 13 values, exact and asymptotic', () => {
    const exact = mannWhitneyU(basicX, basicY);
    expect(exact.u).toBe(16);
    expect(exact.method).toBe('exact');
    close(exact.pValue, 0.7035714285714, 1e-11);
    close(exact.pLess, 0.3517857142857, 1e-11);
    close(exact.pGreater, 0.6946428571429, 1e-11);
    const asymptotic = mannWhitneyU(basicX, basicY, { method: 'asymptotic' });
    close(asymptotic.pValue, 0.6865041817876, 1e-11);
    close(asymptotic.pLess, 0.3432520908938, 1e-11);
    close(asymptotic.pGreater, 0.7047591913255, 1e-11);
    // test_continuity: the samples swapped swap the one-sided p-values, and U becomes n·m − U.
    const swapped = mannWhitneyU(basicY, basicX, { method: 'asymptotic', continuity: false });
    expect(swapped.u).toBe(23);
    close(swapped.pValue, 0.6377328900502, 1e-11);
    close(swapped.pLess, 0.6811335549749, 1e-11);
    close(swapped.pGreater, 0.3188664450251, 1e-11);
  });

  it('SciPy test_tie_correct (R wilcox.test(x, y, exact=FALSE)): the tie correction', () => {
    const x = [1, 2, 3, 4];
    const y0 = [1, 2, 3, 4, 5];
    const shifted = (d: number[]) => y0.map((value, i) => value + (d[i] ?? 0) * 0.01);
    const ys = [
      shifted([-1, -1, -1, -1, -1]),
      shifted([0, -1, 0, -1, 0]),
      shifted([0, 0, -1, 0, 0]),
      y0,
      shifted([0, 0, 1, 0, 0]),
      shifted([0, 1, 0, 1, 0]),
      shifted([1, 1, 1, 1, 1]),
    ];
    const uExpected = [10, 9, 8.5, 8, 7.5, 7, 6];
    const pExpected = [
      1, 0.9017048037317, 0.804080657472, 0.7086240584439, 0.6197963884941, 0.5368784563079, 0.3912672792826,
    ];
    ys.forEach((y, i) => {
      const result = mannWhitneyU(x, y, { method: 'asymptotic' });
      expect(result.u).toBe(uExpected[i]);
      close(result.pValue, pExpected[i] ?? NaN, 1e-11);
    });
    // With ties, auto never picks the exact distribution (which assumes none).
    const auto = mannWhitneyU(x, y0);
    expect(auto.ties).toBe(true);
    expect(auto.method).toBe('asymptotic');
  });

  it('SciPy gh-11355 (R): ties-heavy samples; ±∞ replaced by a larger finite value, the same ranks', () => {
    const big = 1e9;
    const cases: Array<[number[], number[], number, number]> = [
      [[1, 2, 3, 4], [3, 6, 7, 8, big, 3, 2, 1, 4, 4, 5], 10, 0.1297704873477],
      [[1, 2, 3, 4], [3, 6, 7, 8, big, big, 2, 1, 4, 4, 5], 8.5, 0.08735617507695],
      [[1, 2, big, 4], [3, 6, 7, 8, big, 3, 2, 1, 4, 4, 5], 17.5, 0.5988856695752],
      [[1, 2, big, 4], [3, 6, 7, 8, big, big, 2, 1, 4, 4, 5], 16, 0.4687165824462],
      [[1, big, big, 4], [3, 6, 7, 8, big, big, 2, 1, 4, 4, 5], 24.5, 0.7912517950119],
    ];
    for (const [x, y, u, p] of cases) {
      const result = mannWhitneyU(x, y);
      expect(result.method).toBe('asymptotic');
      expect(result.u).toBe(u);
      expect(Math.abs(result.pValue - p)).toBeLessThan(1e-12); // SciPy: atol 1e-12
    }
  });

  it('SciPy gh-2118 (R): U at its mean, where a careless continuity correction gives p > 1', () => {
    const cases: Array<[number[], number[], number, number]> = [
      [[1, 2, 3], [1.5, 2.5], 3, 0.6135850036578],
      [[1, 2, 3], [2], 1.5, 0.681324055883],
      [[1, 2], [1, 2], 2, 0.667497228949],
    ];
    for (const [x, y, u, oneSided] of cases) {
      const result = mannWhitneyU(x, y, { method: 'asymptotic' });
      expect(result.u).toBe(u);
      expect(result.pValue).toBe(1);
      close(result.pGreater, oneSided, 1e-12);
      close(result.pLess, oneSided, 1e-12);
      expect(result.direction).toBe('none');
    }
    // SciPy test_exact_U_equals_mean: the exact two-sided p-value is clipped to 1 too.
    expect(mannWhitneyU([1, 2, 3], [1.5, 2.5], { method: 'exact' }).pValue).toBe(1);
  });

  it('exact distribution: Mann & Whitney 1947 table (P(U ≤ u), 3 decimals; as SciPy tests it)', () => {
    const tables: Record<string, number[]> = {
      '4,4': [0.014, 0.029, 0.057, 0.1, 0.171, 0.243, 0.343, 0.443, 0.557],
      '3,5': [0.018, 0.036, 0.071, 0.125, 0.196, 0.286, 0.393, 0.5, 0.607],
      '6,6': [
        0.001, 0.002, 0.004, 0.008, 0.013, 0.021, 0.032, 0.047, 0.066, 0.09, 0.12, 0.155, 0.197, 0.242, 0.294,
        0.35, 0.409, 0.469, 0.531,
      ],
    };
    for (const [sizes, cdf] of Object.entries(tables)) {
      const [m, n] = sizes.split(',').map(Number) as [number, number];
      const pmf = exactUDistribution(m, n);
      expect(pmf).toHaveLength(m * n + 1);
      let cumulative = 0;
      cdf.forEach((expected, u) => {
        cumulative += pmf[u] ?? NaN;
        expect(Math.abs(cumulative - expected)).toBeLessThanOrEqual(1e-3);
      });
      // Symmetric about n·m/2, the same with m and n swapped, and a distribution.
      expect([...pmf]).toEqual([...pmf].reverse());
      expect([...exactUDistribution(n, m)]).toEqual([...pmf]);
      close(
        pmf.reduce((sum, p) => sum + p, 0),
        1,
        1e-12,
      );
    }
  });

  it('exact and asymptotic agree for large samples, and not for small ones (SciPy test_asymptotic_behavior)', () => {
    const random = lcg(42);
    const sample = (n: number) => Array.from({ length: n }, () => random());
    const smallX = sample(5);
    const smallY = sample(5);
    const small = [
      mannWhitneyU(smallX, smallY, { method: 'exact' }),
      mannWhitneyU(smallX, smallY, { method: 'asymptotic' }),
    ];
    expect(small[0]?.u).toBe(small[1]?.u);
    expect(Math.abs((small[0]?.pValue ?? 0) - (small[1]?.pValue ?? 0))).toBeGreaterThan(1e-2);
    const largeX = sample(40);
    const largeY = sample(40);
    const large = [
      mannWhitneyU(largeX, largeY, { method: 'exact' }),
      mannWhitneyU(largeX, largeY, { method: 'asymptotic' }),
    ];
    // SciPy asserts < 1e-3 on its seed's data; the approximation's error depends on the data (0.0021 here).
    expect(Math.abs((large[0]?.pValue ?? 0) - (large[1]?.pValue ?? 0))).toBeLessThan(5e-3);
  });

  it("exact distribution: the Gaussian-binomial product equals Mann & Whitney's recurrence in exact integers", () => {
    // f(m, n, u) = f(m − 1, n, u − n) + f(m, n − 1, u) (Mann & Whitney 1947, eq. 1), in BigInt: no rounding.
    const memo = new Map<string, bigint[]>();
    const counts = (m: number, n: number): bigint[] => {
      const key = `${m},${n}`;
      const known = memo.get(key);
      if (known) return known;
      let result: bigint[] = [1n];
      if (m > 0 && n > 0) {
        const fewer = counts(m - 1, n);
        const shorter = counts(m, n - 1);
        result = Array.from({ length: m * n + 1 }, (_, u) => (fewer[u - n] ?? 0n) + (shorter[u] ?? 0n));
      }
      memo.set(key, result);
      return result;
    };
    for (const [m, n] of [
      [40, 40],
      [8, 200],
      [3, 17],
    ] as const) {
      const exact = counts(m, n);
      const total = exact.reduce((sum, count) => sum + count, 0n);
      const pmf = exactUDistribution(m, n);
      let cdf = 0;
      let exactCdf = 0n;
      exact.forEach((count, u) => {
        cdf += pmf[u] ?? NaN;
        exactCdf += count;
        expect(Math.abs(cdf - Number((exactCdf * 10n ** 18n) / total) / 1e18)).toBeLessThan(1e-14);
      });
    }
  });

  it('auto: exact while one sample has at most 8 values and there are no ties, else asymptotic', () => {
    const random = lcg(7);
    const sample = (n: number) => Array.from({ length: n }, () => random());
    expect(mannWhitneyU(sample(8), sample(100)).method).toBe('exact');
    expect(mannWhitneyU(sample(100), sample(8)).method).toBe('exact');
    expect(mannWhitneyU(sample(9), sample(9)).method).toBe('asymptotic');
  });
});

describe('mannWhitneyU edge cases', () => {
  it('every value tied: p = 1, no direction (Kayenta passes identical data)', () => {
    const result = mannWhitneyU([0, 0, 0, 0, 0], [0, 0, 0]);
    expect(result.pValue).toBe(1);
    expect(result.direction).toBe('none');
    expect(result.z).toBe(0);
    expect(result.shift).toBe(0);
  });

  it('swapping the samples swaps U, the one-sided p-values and the sign of the shift', () => {
    const x = [3, 5, 8, 9, 12, 13, 15, 20, 21, 30];
    const y = [1, 2, 4, 6, 7, 10, 11, 14, 16, 17];
    const forward = mannWhitneyU(x, y);
    const backward = mannWhitneyU(y, x);
    expect(backward.u).toBe(forward.uOther);
    close(backward.pGreater, forward.pLess, 1e-14);
    close(backward.pValue, forward.pValue, 1e-14);
    expect(backward.shift).toBe(-forward.shift);
    expect(forward.direction).toBe('greater');
    expect(backward.direction).toBe('less');
  });

  it('refuses empty samples and non-finite values, naming them', () => {
    expect(() => mannWhitneyU([], [1])).toThrow(/sample x is empty/);
    expect(() => mannWhitneyU([1], [])).toThrow(/sample y is empty/);
    expect(() => mannWhitneyU([1, NaN], [1])).toThrow(/sample x\[1\] is NaN/);
    expect(() => mannWhitneyU([1], [Infinity])).toThrow(/sample y\[0\] is Infinity/);
  });
});

describe('erfc and the normal tail', () => {
  it('matches tabulated values (Abramowitz & Stegun table 7.1; Wolfram|Alpha to 16 digits)', () => {
    close(erfc(0), 1, 1e-15);
    close(erfc(0.5), 0.4795001221869535, 1e-14);
    close(erfc(1), 0.1572992070502851, 1e-14);
    close(erfc(2), 0.004677734981047266, 1e-13);
    close(erfc(3), 2.209049699858544e-5, 1e-12);
    close(erfc(5), 1.537459794428035e-12, 1e-12);
    close(erfc(-1), 1.842700792949715, 1e-14);
    expect(erfc(30)).toBe(0);
  });

  it('is continuous where the series hands over to the continued fraction', () => {
    close(erfc(2.999999999), erfc(3), 1e-8);
  });

  it('gives the normal tail: P(Z ≥ 1.959963984540054) = 0.025', () => {
    close(normalUpperTail(1.959963984540054), 0.025, 1e-12);
    close(normalUpperTail(0), 0.5, 1e-15);
  });
});

/** A small deterministic generator (Numerical Recipes' LCG constants), so these tests never flake. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}
