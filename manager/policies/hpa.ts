/**
 * The Kubernetes Horizontal Pod Autoscaler's algorithm as a Brokel policy (`policy: hpa`, issue #14),
 * pure: the baseline the paper's policy must beat. Per the HPA documentation (algorithm details and
 * configurable scaling behaviour, autoscaling/v2 defaults):
 *   desired = ceil(current × load / target), no change while |load / target − 1| ≤ tolerance (0.1);
 *   scale-down stabilization: the highest recommendation of the last window (300 s) is used;
 *   scale-up policies: at most max(+100 %, +4 replicas) over the replicas a period (15 s) ago;
 *   scale-down policy: up to 100 % per period (so the stabilization window is the only brake);
 *   no smoothing: the raw load of the observation.
 * Time is in seconds (observation × interval), so the window does not depend on the interval.
 */
export interface HpaConfig {
  targetUtilization: number;
  tolerance: number;
  scaleDownStabilizationSeconds: number;
  scaleUpPercent: number;
  scaleUpReplicas: number;
  scaleUpPeriodSeconds: number;
}

/** What the HPA remembers between observations, per level (kept by the caller, updated by recordHpa). */
export interface HpaHistory {
  /** Recommendations (after tolerance, before stabilization) with their time. */
  recommendations: ReadonlyArray<{ t: number; replicas: number }>;
  /** Scale-ups: time and replicas added. */
  scaleUps: ReadonlyArray<{ t: number; added: number }>;
}

export const EMPTY_HPA_HISTORY: HpaHistory = { recommendations: [], scaleUps: [] };

export interface HpaInput {
  current: number;
  /** Raw level load (fraction of the level's allocation). */
  load: number;
  nowSeconds: number;
  min: number;
  /** The lower of the level's max and what the SLA's total leaves for this level. */
  max: number;
  history: HpaHistory;
  config: HpaConfig;
}

export interface HpaOutcome {
  /** The replica count to move to (clamped, stabilized, rate-limited). */
  desired: number;
  /** The raw recommendation to remember (recordHpa). */
  recommendation: number;
  reason: string;
}

/** desired = ceil(current × load / target), or current within the tolerance. */
export function hpaRecommendation(current: number, load: number, c: HpaConfig): number {
  const ratio = load / c.targetUtilization;
  if (Math.abs(ratio - 1) <= c.tolerance) return current; // the HPA's tolerance (default 0.1)
  return Math.ceil(current * ratio - 1e-9);
}

export function hpaDecide(input: HpaInput): HpaOutcome {
  const { current, load, nowSeconds: now, config: c, history } = input;
  const recommendation = hpaRecommendation(current, load, c);
  // Scale-down stabilization: the highest recommendation within the window, this one included.
  const windowStart = now - c.scaleDownStabilizationSeconds;
  let stabilized = recommendation;
  for (const r of history.recommendations)
    if (r.t > windowStart) stabilized = Math.max(stabilized, r.replicas);
  let desired = recommendation > current ? recommendation : Math.min(current, stabilized);
  let why = `load ${load.toFixed(3)} / target ${c.targetUtilization} × ${current} → ${recommendation}`;
  if (desired < current && stabilized > recommendation) why += ` (stabilized at ${desired})`;
  if (desired > current) {
    // Scale-up policies over the replicas a period ago; the larger limit wins (selectPolicy: Max).
    const added = history.scaleUps
      .filter((u) => u.t > now - c.scaleUpPeriodSeconds)
      .reduce((n, u) => n + u.added, 0);
    const periodStart = current - added;
    const limit = Math.max(
      Math.ceil(periodStart * (1 + c.scaleUpPercent / 100)),
      periodStart + c.scaleUpReplicas,
    );
    if (desired > limit) {
      desired = limit;
      why += ` (scale-up limited to ${limit})`;
    }
  }
  const bounded = Math.min(input.max, Math.max(input.min, desired));
  if (bounded !== desired) why += ` (bounded to [${input.min}, ${input.max}])`;
  return { desired: bounded, recommendation, reason: why };
}

/** The history after an observation: its recommendation, and the scale-up it started (if any). */
export function recordHpa(
  history: HpaHistory,
  nowSeconds: number,
  recommendation: number | undefined,
  added: number,
  c: HpaConfig,
): HpaHistory {
  const keep = Math.max(c.scaleDownStabilizationSeconds, c.scaleUpPeriodSeconds);
  const recent = <T extends { t: number }>(xs: readonly T[]) => xs.filter((x) => x.t > nowSeconds - keep);
  return {
    recommendations:
      recommendation === undefined
        ? recent(history.recommendations)
        : [...recent(history.recommendations), { t: nowSeconds, replicas: recommendation }],
    scaleUps: added > 0 ? [...recent(history.scaleUps), { t: nowSeconds, added }] : recent(history.scaleUps),
  };
}
