/**
 * Step series, pure: a value holds from its point's time until the next point's; before the first
 * point the first value holds (the system was running before sampling began). Points are sorted by t.
 */
export interface StepPoint {
  /** Seconds. */
  t: number;
  v: number;
}

/** Walks a step series forward in time: `at(t)` for non-decreasing t in O(1) amortised. */
export class StepCursor {
  private i = 0;

  constructor(private readonly points: readonly StepPoint[]) {
    if (points.length === 0) throw new RangeError('a step series needs at least one point');
  }

  at(t: number): number {
    const p = this.points;
    while (this.i + 1 < p.length && (p[this.i + 1] as StepPoint).t <= t) this.i += 1;
    return (p[this.i] as StepPoint).v;
  }
}

/** Every time in (from, to) where one of the series has a point, with from and to: sorted, unique. */
export function breakpoints(series: ReadonlyArray<readonly StepPoint[]>, from: number, to: number): number[] {
  const times = [from, to];
  for (const s of series) for (const p of s) if (p.t > from && p.t < to) times.push(p.t);
  times.sort((a, b) => a - b);
  return times.filter((t, i) => i === 0 || t !== times[i - 1]);
}

/** ∫ v dt over [from, to]. */
export function integrate(points: readonly StepPoint[], from: number, to: number): number {
  const times = breakpoints([points], from, to);
  const cursor = new StepCursor(points);
  let total = 0;
  for (let i = 0; i + 1 < times.length; i++) {
    const a = times[i] as number;
    total += cursor.at(a) * ((times[i + 1] as number) - a);
  }
  return total;
}

/** Σ |Δv| over the changes inside (from, to]: replicas added plus replicas removed, for supply. */
export function totalVariation(points: readonly StepPoint[], from: number, to: number): number {
  const cursor = new StepCursor(points);
  let previous = cursor.at(from);
  let total = 0;
  for (const p of points) {
    if (p.t <= from || p.t > to) continue;
    total += Math.abs(p.v - previous);
    previous = p.v;
  }
  return total;
}

/** Drops points that repeat the previous value (keeps the first): the same step function, smaller. */
export function compactSteps(points: readonly StepPoint[]): StepPoint[] {
  return points.filter((p, i) => i === 0 || p.v !== (points[i - 1] as StepPoint).v);
}
