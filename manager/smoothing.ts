/**
 * Simple exponential smoothing per replica (the Brokel/AutoElastic aging): L(t) = α·x(t) + (1 − α)·L(t−1),
 * starting from the first observation. With α = 0.5 a one-observation spike moves L only halfway (pure).
 */
export function smooth(previous: number | undefined, observed: number, alpha: number): number {
  return previous === undefined ? observed : alpha * observed + (1 - alpha) * previous;
}

export interface CapacityLoad {
  /** Fraction of the replica's allocation in use (smoothed or raw). */
  load: number;
  /** Cores allocated (its quota, or 1 when unconstrained). */
  capacity: number;
}

/** Capacity-weighted mean: Σ used CPU / Σ allocated CPU; undefined without replicas (pure). */
export function levelLoad(replicas: readonly CapacityLoad[]): number | undefined {
  const capacity = replicas.reduce((n, r) => n + r.capacity, 0);
  if (capacity <= 0) return undefined;
  return replicas.reduce((n, r) => n + r.load * r.capacity, 0) / capacity;
}

/**
 * Holt's linear (double exponential) smoothing of a level's load, for the proactive policy: a level
 * and a trend, forecast h observations ahead as level + h·trend (pure, one step per observation).
 */
export interface HoltState {
  level: number;
  trend: number;
}

export function holtStep(
  state: HoltState | undefined,
  observed: number,
  alpha: number,
  beta: number,
): HoltState {
  if (!state) return { level: observed, trend: 0 };
  const level = alpha * observed + (1 - alpha) * (state.level + state.trend);
  const trend = beta * (level - state.level) + (1 - beta) * state.trend;
  return { level, trend };
}

export function holtForecast(state: HoltState, horizon: number): number {
  return state.level + horizon * state.trend;
}
