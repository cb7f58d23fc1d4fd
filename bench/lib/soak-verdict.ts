// The soak's pass/fail rule (pure): after the warm-up, a process's RSS must not grow by more than
// maxRssGrowth, and its open file descriptors must not grow at all.
import { median } from './stats.ts';

export interface SoakSample {
  /** Seconds since the soak began. */
  t: number;
  rssKb: number;
  fds: number;
}

export interface SoakFinding {
  process: string;
  /** RSS: lowest of the first and of the last third of the samples after the warm-up; fds: medians. */
  rssStartKb: number;
  rssEndKb: number;
  rssGrowth: number;
  fdsStart: number;
  fdsEnd: number;
  ok: boolean;
  why: string;
}

/**
 * Compares the first third of the post-warm-up samples with the last third. RSS: each third's lowest
 * sample, the floor a garbage collection comes back to (a Node process's RSS saw-tooths by 20–40 %
 * between collections, measured: 158 → 226 → 180 MB within 20 s, which says nothing of a leak; a
 * leak raises the floor). Open fds: medians (a transient connection moves neither). Fewer than 3
 * samples after the warm-up is a failure: nothing was shown.
 */
export function soakVerdict(
  samples: Readonly<Record<string, readonly SoakSample[]>>,
  warmupSeconds: number,
  maxRssGrowth = 0.05,
): SoakFinding[] {
  return Object.entries(samples).map(([process, all]) => {
    const after = all.filter((s) => s.t >= warmupSeconds);
    const third = Math.max(1, Math.floor(after.length / 3));
    const first = after.slice(0, third);
    const last = after.slice(-third);
    const rssStartKb = Math.min(...first.map((s) => s.rssKb));
    const rssEndKb = Math.min(...last.map((s) => s.rssKb));
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
