import { mulberry32 } from '../taxi-rome/random.ts';

/**
 * Offered load as a per-minute rate series, pure: the 30-day Rome taxi trace's shape, synthetic or
 * counted from the file, scaled so its busiest minute is `peak` msg/s (issue #14, `brokel simulate`).
 */
export interface RateSeries {
  /** Seconds per step (60: per minute). */
  stepSeconds: number;
  /** msg/s offered during each step. */
  rates: Float64Array;
}

/**
 * Relative taxi activity per hour of the day (00–23, local time), the daily shape the synthetic month
 * repeats: a night trough around 04–05, a morning rise, a day plateau with late-morning and evening
 * peaks. An assumption: only the trace's first two minutes are stored here (shared/data/taxi-rome);
 * `--file` with the full trace counts the real shape instead.
 */
export const ROME_TAXI_HOURLY_SHAPE: readonly number[] = [
  0.42, 0.34, 0.28, 0.24, 0.22, 0.24, 0.36, 0.58, 0.8, 0.92, 0.98, 1.0, 0.96, 0.9, 0.88, 0.9, 0.95, 0.99,
  0.97, 0.9, 0.8, 0.7, 0.6, 0.5,
];

/** Weekday factors from Monday; the trace starts on Saturday 1 February 2014. */
const WEEKDAY_FACTOR = [1, 1, 1, 1, 1.03, 0.92, 0.8] as const;
const FIRST_DAY_WEEKDAY = 5; // Saturday, Monday = 0

export interface SyntheticMonthOptions {
  days: number;
  peak: number;
  seed?: number;
  /** Relative per-minute noise (uniform ±). Default 0.05. */
  noise?: number;
}

/** The hourly shape, linearly interpolated per minute, with a weekly rhythm and seeded noise. */
export function syntheticMonth(o: SyntheticMonthOptions): RateSeries {
  const minutes = Math.round(o.days * 1440);
  const random = mulberry32(o.seed ?? 1);
  const noise = o.noise ?? 0.05;
  const rates = new Float64Array(minutes);
  for (let m = 0; m < minutes; m++) {
    const hour = (m % 1440) / 60;
    const h0 = Math.floor(hour);
    const frac = hour - h0;
    const a = ROME_TAXI_HOURLY_SHAPE[h0] as number;
    const b = ROME_TAXI_HOURLY_SHAPE[(h0 + 1) % 24] as number;
    const day = Math.floor(m / 1440);
    const weekday = WEEKDAY_FACTOR[(FIRST_DAY_WEEKDAY + day) % 7] as number;
    rates[m] = (a + (b - a) * frac) * weekday * (1 + noise * (2 * random() - 1));
  }
  return scaleToPeak({ stepSeconds: 60, rates }, o.peak);
}

/** Scales a series so its highest step is `peak` (an all-zero series stays zero). */
export function scaleToPeak(series: RateSeries, peak: number): RateSeries {
  let max = 0;
  for (const r of series.rates) max = Math.max(max, r);
  const factor = max > 0 ? peak / max : 0;
  return { stepSeconds: series.stepSeconds, rates: series.rates.map((r) => r * factor) };
}

/** Counts per step from event times (seconds since the first step's start): a rate series. */
export function countPerStep(times: Iterable<number>, stepSeconds: number, steps: number): RateSeries {
  const counts = new Float64Array(steps);
  for (const t of times) {
    const i = Math.floor(t / stepSeconds);
    if (i >= 0 && i < steps) counts[i] = (counts[i] as number) + 1;
  }
  return { stepSeconds, rates: counts.map((c) => c / stepSeconds) };
}

/** Cumulative messages by time (prefix sums): the mean rate over any interval in O(1). */
export class RateIntegral {
  private readonly prefix: Float64Array;

  constructor(private readonly series: RateSeries) {
    this.prefix = new Float64Array(series.rates.length + 1);
    for (let i = 0; i < series.rates.length; i++)
      this.prefix[i + 1] = (this.prefix[i] as number) + (series.rates[i] as number) * series.stepSeconds;
  }

  get durationSeconds(): number {
    return this.series.rates.length * this.series.stepSeconds;
  }

  /** Messages offered in [0, t] (constant-rate within a step; nothing after the end). */
  messagesUntil(t: number): number {
    const step = this.series.stepSeconds;
    const clamped = Math.max(0, Math.min(t, this.durationSeconds));
    const i = Math.floor(clamped / step);
    const base = this.prefix[i] as number;
    const rate = i < this.series.rates.length ? (this.series.rates[i] as number) : 0;
    return base + rate * (clamped - i * step);
  }

  meanRate(from: number, to: number): number {
    return to > from ? (this.messagesUntil(to) - this.messagesUntil(from)) / (to - from) : 0;
  }
}
