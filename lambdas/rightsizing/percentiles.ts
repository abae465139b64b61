import type { UsageDistribution } from './model';

// Percentiles of usage series, computed as GetMetricData pages arrive. A series is held as one Float64Array
// only while its batch is being paged (8 bytes a datapoint: 4,032 five-minute points over 14 days are 32 KB),
// then reduced to a UsageDistribution and dropped, so memory follows one batch, not the whole account.

/** The percentiles every distribution carries (the report shows them), besides the maximum. */
const STANDARD = [50, 90, 95, 99] as const;

/**
 * The p-th percentile (0–100) of values sorted ascending, interpolating linearly between the two closest
 * ranks: rank = p/100 × (n − 1). That is numpy's default (`method='linear'`, which KRR's strategies use) and
 * Prometheus' `quantile_over_time` (which KRR's CPU loader queries). NaN for an empty array.
 */
export function percentileOfSorted(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (sorted.length - 1);
  const below = Math.floor(rank);
  const lower = sorted[below] as number;
  const upper = sorted[Math.min(below + 1, sorted.length - 1)] as number;
  return lower + (upper - lower) * (rank - below);
}

/** How the datapoints of a series were measured: the evidence every line shows. */
export interface SeriesMeasure {
  /** The CloudWatch statistic of each datapoint (`Average`, `Maximum`). */
  statistic: string;
  periodSeconds: number;
}

/**
 * The distribution of a series' values: P50/P90/P95/P99 and the maximum, plus any other percentiles asked
 * for (a strategy's CPU percentile of, say, 97.5), under `quantiles`. Sorts `values` in place. Undefined for
 * an empty series: no distribution rather than zeros.
 */
export function distributionOf(
  values: Float64Array,
  measure: SeriesMeasure,
  extraPercentiles: readonly number[] = [],
): UsageDistribution | undefined {
  if (values.length === 0) return undefined;
  values.sort();
  const [p50, p90, p95, p99] = STANDARD.map((p) => percentileOfSorted(values, p)) as [
    number,
    number,
    number,
    number,
  ];
  const extra = extraPercentiles.filter((p) => !(STANDARD as readonly number[]).includes(p) && p !== 100);
  return {
    statistic: measure.statistic,
    periodSeconds: measure.periodSeconds,
    datapoints: values.length,
    p50,
    p90,
    p95,
    p99,
    max: values[values.length - 1] as number,
    ...(extra.length > 0 && {
      quantiles: Object.fromEntries(extra.map((p) => [String(p), percentileOfSorted(values, p)])),
    }),
  };
}

/** The p-th percentile of a distribution: one it carries, or a clear error if it was not computed. */
export function percentileOf(distribution: UsageDistribution, p: number): number {
  switch (p) {
    case 50:
      return distribution.p50;
    case 90:
      return distribution.p90;
    case 95:
      return distribution.p95;
    case 99:
      return distribution.p99;
    case 100:
      return distribution.max;
  }
  const value = distribution.quantiles?.[String(p)];
  if (value === undefined) {
    throw new RangeError(`P${p} was not computed for this series: pass it to distributionOf.`);
  }
  return value;
}

/**
 * Gathers the values of many series as pages arrive, one growable Float64Array per series still open.
 * `close(key)` reduces a series to its distribution and frees its buffer. Non-finite values (CloudWatch
 * never sends them, a mock might) are dropped rather than poisoning a sort.
 */
export class SeriesCollector {
  private readonly open = new Map<string, { values: Float64Array; length: number }>();

  /** @param expectedPoints the datapoints a full series has (lookback / period), to allocate once. */
  constructor(private readonly expectedPoints: number) {}

  add(key: string, values: readonly number[]): void {
    let series = this.open.get(key);
    if (!series) {
      series = { values: new Float64Array(Math.max(1, this.expectedPoints)), length: 0 };
      this.open.set(key, series);
    }
    for (const value of values) {
      if (!Number.isFinite(value)) continue;
      if (series.length === series.values.length) {
        const grown = new Float64Array(series.values.length * 2);
        grown.set(series.values);
        series.values = grown;
      }
      series.values[series.length] = value;
      series.length += 1;
    }
  }

  /** The distribution of one series (undefined if it had no datapoints), its buffer released. */
  close(
    key: string,
    measure: SeriesMeasure,
    extraPercentiles: readonly number[] = [],
  ): UsageDistribution | undefined {
    const series = this.open.get(key);
    this.open.delete(key);
    if (!series) return undefined;
    return distributionOf(series.values.subarray(0, series.length), measure, extraPercentiles);
  }

  /** Series still open: zero between batches, or memory is being held. */
  get openSeries(): number {
    return this.open.size;
  }
}
