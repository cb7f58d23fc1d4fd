// How the soak's delivery p99 moved over the run (pure): the median of the interval p99s in the first
// and in the last quarter after the warm-up, per path. With `--direct-reference` the soak also loads
// the system's brokers directly, in phases alternated with the orchestrator's: a drift the direct path
// shares is the machine's or the brokers' (a slower host, a noisy neighbour), one it does not is ours.
import { median } from './stats.ts';

export interface LatencyInterval {
  /** Seconds since the soak began, at the interval's end. */
  t: number;
  /** Delivery p99 through the orchestrator (ms). */
  p99Ms: number;
  /** Delivery p99 of the alternated phase straight at the brokers (ms; the worse broker's), when there is a reference. */
  directP99Ms?: number;
}

export interface PathDrift {
  firstMs: number;
  lastMs: number;
  /** lastMs / firstMs: 1 flat, 2 doubled. */
  ratio: number;
}

export interface SoakDrift {
  /** Intervals in each quarter compared. */
  perQuarter: number;
  orchestrator: PathDrift;
  direct?: PathDrift;
}

function drift(first: readonly number[], last: readonly number[]): PathDrift {
  const firstMs = median(first);
  const lastMs = median(last);
  return { firstMs, lastMs, ratio: firstMs > 0 ? lastMs / firstMs : Number.NaN };
}

/**
 * Compares the first quarter of the post-warm-up intervals with the last one (medians: one slow
 * interval moves neither). Undefined with fewer than 8 intervals after the warm-up: 2 per quarter
 * say nothing. The direct path is compared on the intervals that have it, when every one has.
 */
export function soakDrift(
  intervals: readonly LatencyInterval[],
  warmupSeconds: number,
): SoakDrift | undefined {
  const settled = intervals.filter((i) => i.t >= warmupSeconds);
  const perQuarter = Math.floor(settled.length / 4);
  if (perQuarter < 2) return undefined;
  const first = settled.slice(0, perQuarter);
  const last = settled.slice(-perQuarter);
  const result: SoakDrift = {
    perQuarter,
    orchestrator: drift(
      first.map((i) => i.p99Ms),
      last.map((i) => i.p99Ms),
    ),
  };
  const direct = (list: readonly LatencyInterval[]) =>
    list.flatMap((i) => (i.directP99Ms === undefined ? [] : [i.directP99Ms]));
  if (direct(first).length === perQuarter && direct(last).length === perQuarter)
    result.direct = drift(direct(first), direct(last));
  return result;
}
