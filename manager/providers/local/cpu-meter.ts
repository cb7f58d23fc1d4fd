/**
 * Turns cumulative CPU counters into "fraction of allocation since the last reading" (pure).
 * 1.0 = the replica used its whole quota (or one whole core when unconstrained) over the interval.
 */
export class CpuMeter {
  private readonly last = new Map<string, { usageSeconds: number; atMs: number }>();

  /** Records a baseline (at creation or adoption) so the first reading covers a real interval. */
  baseline(id: string, usageSeconds: number, atMs: number): void {
    this.last.set(id, { usageSeconds, atMs });
  }

  /**
   * Returns the fraction since the previous sample, or undefined when there is no previous sample
   * or no time has passed. A counter that went backwards (a process of the tree exited and took its
   * ticks with it) counts as zero use rather than negative.
   */
  sample(id: string, usageSeconds: number, atMs: number, allocationCores: number): number | undefined {
    const prev = this.last.get(id);
    this.last.set(id, { usageSeconds, atMs });
    if (!prev) return undefined;
    const elapsedSeconds = (atMs - prev.atMs) / 1000;
    if (elapsedSeconds <= 0 || allocationCores <= 0) return undefined;
    const used = Math.max(0, usageSeconds - prev.usageSeconds);
    return used / elapsedSeconds / allocationCores;
  }

  forget(id: string): void {
    this.last.delete(id);
  }
}
