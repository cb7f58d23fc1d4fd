import type { Level } from '../providers/cloud-provider.ts';

/** One point of a level's time series: one per monitoring observation. */
export interface LevelPoint {
  observation: number;
  /** Epoch milliseconds. */
  time: number;
  load: number | null;
  raw: number | null;
  lower: number;
  upper: number;
  replicas: number;
}

/** A decision that changed something (add or remove), marked on the load chart. */
export interface DecisionMark {
  observation: number;
  time: number;
  level: Level;
  action: string;
  reason: string;
}

/** Points kept per level: an hour at the paper's 15 s interval. */
export const MAX_POINTS = 240;
/** Decision marks kept for both levels together. */
export const MAX_MARKS = 100;

/**
 * The dashboard's bounded memory of the past (pure, no timers): a point per level per observation,
 * and the add/remove decisions. Feeding the same observation twice keeps the first point.
 */
export class DashboardHistory {
  private readonly points = new Map<Level, LevelPoint[]>();
  private readonly marks: DecisionMark[] = [];
  private readonly marked = new Set<string>();

  addPoint(level: Level, point: LevelPoint): void {
    const series = this.points.get(level) ?? [];
    this.points.set(level, series);
    const last = series.at(-1);
    if (last && last.observation >= point.observation) return;
    series.push(point);
    if (series.length > MAX_POINTS) series.shift();
  }

  addDecision(mark: DecisionMark): void {
    if (mark.action === 'none') return;
    const key = `${mark.level}/${mark.observation}/${mark.action}`;
    if (this.marked.has(key)) return;
    this.marked.add(key);
    this.marks.push(mark);
    if (this.marks.length > MAX_MARKS) {
      const gone = this.marks.shift();
      if (gone) this.marked.delete(`${gone.level}/${gone.observation}/${gone.action}`);
    }
  }

  series(level: Level): readonly LevelPoint[] {
    return this.points.get(level) ?? [];
  }

  decisions(): readonly DecisionMark[] {
    return this.marks;
  }
}

/**
 * Per-second rates from monotonic counters read at two moments. A counter that went down (its
 * process restarted) restarts the rate from its new value; a key seen first has no rate yet.
 */
export class RateMeter {
  private previous = new Map<string, { value: number; at: number }>();

  /** Records this reading and returns each key's rate since the previous one (undefined: first). */
  update(readings: ReadonlyMap<string, number>, nowMs: number): Map<string, number | undefined> {
    const rates = new Map<string, number | undefined>();
    const next = new Map<string, { value: number; at: number }>();
    for (const [key, value] of readings) {
      const before = this.previous.get(key);
      const seconds = before ? (nowMs - before.at) / 1000 : 0;
      rates.set(
        key,
        before && seconds > 0 && value >= before.value ? (value - before.value) / seconds : undefined,
      );
      next.set(key, { value, at: nowMs });
    }
    this.previous = next;
    return rates;
  }
}
