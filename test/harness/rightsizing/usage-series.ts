import type { SampleSource } from '../simulated-metrics';

// Usage series for the right-sizing rehearsal: deterministic functions of time giving one sample a minute, as
// a workload's pods or an instance publish them. The same minute always gives the same value (a hash of the
// seed and the minute, not Math.random), so percentiles are the same run after run.

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** A number in [0, 1) from a seed and a minute: the same inputs, the same number. */
export function jitter(seed: number, minute: number): number {
  let x = (Math.floor(minute / 60_000) ^ Math.imul(seed, 0x9e3779b1)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return ((x ^ (x >>> 16)) >>> 0) / 4_294_967_296;
}

export interface DiurnalOptions {
  /** The daily mean. */
  mean: number;
  /** Half the swing between the night's low and the day's high. */
  amplitude: number;
  /** The hour (UTC) of the daily high. @default 14 */
  peakHourUtc?: number;
  /** Uniform noise of ± this much on every sample. @default 5 % of the mean */
  noise?: number;
  seed?: number;
}

/** Busy by day, quiet by night: a web service's CPU, or its memory's slow daily breathing. */
export function diurnal({
  mean,
  amplitude,
  peakHourUtc = 14,
  noise = mean * 0.05,
  seed = 1,
}: DiurnalOptions): SampleSource {
  return (minute) => {
    const hours = (minute % DAY_MS) / HOUR_MS;
    const wave = Math.cos((2 * Math.PI * (hours - peakHourUtc)) / 24);
    return Math.max(0, mean + amplitude * wave + noise * (2 * jitter(seed, minute) - 1));
  };
}

/** Flat use with a little noise: a batch worker idling, a cache's memory. */
export function steady(value: number, { noise = value * 0.03, seed = 2 } = {}): SampleSource {
  return (minute) => Math.max(0, value + noise * (2 * jitter(seed, minute) - 1));
}

/** `base`, except for `minutes` minutes from `at` (epoch ms) where it is `peak`: one huge spike in the window. */
export function withSpike(
  base: SampleSource,
  { at, minutes, peak }: { at: number; minutes: number; peak: number },
) {
  const from = Math.floor(at / 60_000) * 60_000;
  const to = from + minutes * 60_000;
  return (minute: number) => (minute >= from && minute < to ? peak : base(minute));
}

/** Nothing before `since` (epoch ms): a workload deployed recently, whose series is too short to size it. */
export function since(start: number, source: SampleSource): SampleSource {
  return (minute) => (minute < start ? undefined : source(minute));
}

/** The same series scaled: memory in bytes from a shape in MiB, say. */
export function scaled(source: SampleSource, factor: number): SampleSource {
  return (minute) => {
    const value = source(minute);
    return value === undefined ? undefined : value * factor;
  };
}

export const MIB = 1024 * 1024;
