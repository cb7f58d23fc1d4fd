import { ROME_TAXI_HOURLY_SHAPE } from '../../workload/elasticity/demand-trace.ts';

/** The demand traces bench:elasticity replays (issue #14): offered msg/s at second s of a run, pure. */
export interface Trace {
  name: string;
  describe: string;
  rateAt: (s: number) => number;
}

export interface TraceOptions {
  seconds: number;
  peak: number;
  base: number;
  intervalSeconds: number;
  /** The spiky trace: a burst every this many observations (default 8). */
  spikeEvery?: number;
  /** The spiky trace: each burst lasts this many observations, < 2 (default 1.5). */
  spikeLength?: number;
}

export function traces(o: TraceOptions): Trace[] {
  const { seconds, peak, base, intervalSeconds } = o;
  const spikeLength = o.spikeLength ?? 1.5;
  const spikeEvery = o.spikeEvery ?? 8;
  if (!(spikeLength > 0 && spikeLength < 2)) {
    throw new RangeError(`--spike-length ${spikeLength}: a spike lasts more than 0 and under 2 observations`);
  }
  if (!(spikeEvery > spikeLength)) {
    throw new RangeError(
      `--spike-every ${spikeEvery}: must exceed the spike length (${spikeLength} observations)`,
    );
  }
  const burstSeconds = spikeLength * intervalSeconds; // shorter than two observations
  const every = spikeEvery * intervalSeconds;
  return [
    {
      name: 'ramp',
      describe: `${base} → ${peak} msg/s over the first 60 %, then held`,
      rateAt: (s) => base + (peak - base) * Math.min(1, s / (0.6 * seconds)),
    },
    {
      name: 'spiky',
      describe: `${base} msg/s with ${peak} msg/s bursts of ${burstSeconds} s (< 2 observations) every ${every} s`,
      rateAt: (s) => (s % every < burstSeconds ? peak : base),
    },
    {
      name: 'day',
      describe: `the Rome taxi trace's daily shape, 24 h in ${seconds} s, peak ${peak} msg/s`,
      rateAt: (s) => {
        const hour = ((s / seconds) * 24) % 24;
        const h0 = Math.floor(hour);
        const a = ROME_TAXI_HOURLY_SHAPE[h0] as number;
        const b = ROME_TAXI_HOURLY_SHAPE[(h0 + 1) % 24] as number;
        return Math.max(base, peak * (a + (b - a) * (hour - h0)));
      },
    },
  ];
}
