// The soak's pass/fail rule (pure): after the warm-up, a process's RSS must not grow by more than
// maxRssGrowth, and its open file descriptors must not grow at all.
import { median, percentiles } from './stats.ts';

export interface SoakSample {
  /** Seconds since the soak began. */
  t: number;
  rssKb: number;
  fds: number;
}

export interface SoakFinding {
  process: string;
  /** RSS: the first and the last third's floors (thirdFloorKb); fds: medians. */
  rssStartKb: number;
  rssEndKb: number;
  rssGrowth: number;
  fdsStart: number;
  fdsEnd: number;
  ok: boolean;
  why: string;
}

/**
 * A third's RSS floor, the level a garbage collection comes back to (a Node process's RSS saw-tooths
 * by 20–40 % between collections, measured: 158 → 226 → 180 MB within 20 s, which says nothing of a
 * leak; a leak raises the floor). Without windowSeconds: the third's lowest sample. With it: the
 * samples cut into windows that long (each holding a trough: the saw-tooth's period is 6–8 s), each
 * window's lowest sample, and the upper quartile of those. So minutes when V8 had given memory back
 * and then took it again do not become the reference: session 44's 40-minute run held 103–105 MB,
 * dipped to 80 MB, came back, and its lowest-sample verdict read that as +42 % (docs/faults-and-security.md).
 * A leak raises every window's floor, so it still shows.
 */
export function thirdFloorKb(
  samples: readonly SoakSample[],
  windowSeconds = Number.POSITIVE_INFINITY,
): number {
  if (!Number.isFinite(windowSeconds)) return Math.min(...samples.map((s) => s.rssKb));
  const floors = new Map<number, number>();
  for (const s of samples) {
    const w = Math.floor(s.t / windowSeconds);
    floors.set(w, Math.min(floors.get(w) ?? Number.POSITIVE_INFINITY, s.rssKb));
  }
  const values = Float64Array.from(floors.values());
  return percentiles(values, values.length, [75])[0] ?? Number.NaN;
}

/**
 * Compares the first third of the post-warm-up samples with the last third: RSS floors
 * (thirdFloorKb, windows of floorWindowSeconds), open fds by medians (a transient connection moves
 * neither). Fewer than 3 samples after the warm-up is a failure: nothing was shown.
 */
export function soakVerdict(
  samples: Readonly<Record<string, readonly SoakSample[]>>,
  warmupSeconds: number,
  maxRssGrowth = 0.05,
  floorWindowSeconds = Number.POSITIVE_INFINITY,
): SoakFinding[] {
  return Object.entries(samples).map(([process, all]) => {
    const after = all.filter((s) => s.t >= warmupSeconds);
    const third = Math.max(1, Math.floor(after.length / 3));
    const first = after.slice(0, third);
    const last = after.slice(-third);
    const rssStartKb = thirdFloorKb(first, floorWindowSeconds);
    const rssEndKb = thirdFloorKb(last, floorWindowSeconds);
    const fdsStart = median(first.map((s) => s.fds));
    const fdsEnd = median(last.map((s) => s.fds));
    const rssGrowth = rssEndKb / rssStartKb - 1;
    const problems: string[] = [];
    if (after.length < 3) problems.push(`only ${after.length} samples after the warm-up`);
    if (rssGrowth > maxRssGrowth)
      problems.push(`RSS grew ${(rssGrowth * 100).toFixed(1)} % (> ${(maxRssGrowth * 100).toFixed(0)} %)`);
    if (fdsEnd > fdsStart) problems.push(`open fds grew ${fdsStart} → ${fdsEnd}`);
    return {
      process,
      rssStartKb,
      rssEndKb,
      rssGrowth,
      fdsStart,
      fdsEnd,
      ok: problems.length === 0,
      why: problems.join('; ') || 'steady',
    };
  });
}
