/**
 * Turns cumulative CPU counters into "fraction of allocation over the last reading window" (pure).
 * 1.0 = the replica used its whole quota (or one whole core when unconstrained) over the window.
 *
 * The window is normally the time since the previous reading. It is stretched back to an older reading
 * when the previous one is closer than `minWindowMs`: CFS hands a capped group its quota per 100 ms
 * period, so over a window Δ a group may use up to quota × (Δ + 0.1 s) and a short window overstates
 * (a 50 ms window read 2.69 of a 0.1-core quota after a late monitoring tick). With Δ ≥ 1 s the
 * overstatement stays ≤ 10 %, plus what the group runs before the throttle notices its quota is spent
 * (up to a scheduler tick: 4 % of a 0.1-core quota over 1 s at CONFIG_HZ=250).
 */
export const DEFAULT_MIN_WINDOW_MS = 1000;

interface Reading {
  usageSeconds: number;
  atMs: number;
}

export class CpuMeter {
  private readonly history = new Map<string, Reading[]>();

  constructor(private readonly minWindowMs = DEFAULT_MIN_WINDOW_MS) {}

  /** Records a baseline (at creation or adoption) so the first reading covers a real interval. */
  baseline(id: string, usageSeconds: number, atMs: number): void {
    this.history.set(id, [{ usageSeconds, atMs }]);
  }

  /**
   * Returns the fraction over the window ending now, or undefined when there is no earlier reading or
   * no time has passed. The window starts at the newest earlier reading at least `minWindowMs` old, or
   * at the oldest one kept when none is that old (a replica younger than the window). A counter that
   * went backwards (a process of the tree exited and took its ticks with it) counts as zero use.
   */
  sample(id: string, usageSeconds: number, atMs: number, allocationCores: number): number | undefined {
    const kept = this.history.get(id) ?? [];
    let start = 0;
    for (let i = kept.length - 1; i >= 0; i--) {
      if (atMs - (kept[i]?.atMs ?? atMs) >= this.minWindowMs) {
        start = i;
        break;
      }
    }
    const from = kept[start];
    // Readings older than the window's start can never be its start again (time only moves forward).
    this.history.set(id, [...kept.slice(start), { usageSeconds, atMs }]);
    if (!from) return undefined;
    const elapsedSeconds = (atMs - from.atMs) / 1000;
    if (elapsedSeconds <= 0 || allocationCores <= 0) return undefined;
    const used = Math.max(0, usageSeconds - from.usageSeconds);
    return used / elapsedSeconds / allocationCores;
  }

  forget(id: string): void {
    this.history.delete(id);
  }
}
