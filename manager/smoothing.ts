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

/**
 * level + h·trend, clamped to [0, 1]: a load is a fraction of the level's allocation, and a steep
 * trend must not forecast a load no replica count could show (pure).
 */
export function holtForecast(state: HoltState, horizon: number): number {
  return Math.min(1, Math.max(0, state.level + horizon * state.trend));
}

/** The proactive policy's state per level: Holt's state and the replica count it was learnt on. */
export interface ForecastState {
  holt: HoltState;
  replicas: number;
}

/**
 * One proactive observation (pure). When the level's replica count changed since the last one, the
 * state starts again from this observation: the old level and trend describe a pool that no longer
 * exists (after an add, the load per replica drops and the old rising trend would call for a remove).
 */
export function forecastStep(
  state: ForecastState | undefined,
  observed: number,
  replicas: number,
  p: { alpha: number; beta: number; horizon: number },
): { state: ForecastState; forecast: number } {
  const previous = state?.replicas === replicas ? state.holt : undefined;
  const holt = holtStep(previous, observed, p.alpha, p.beta);
  return { state: { holt, replicas }, forecast: holtForecast(holt, p.horizon) };
}
