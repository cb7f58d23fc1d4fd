import { breakpoints, integrate, StepCursor, type StepPoint, totalVariation } from './step-series.ts';

/**
 * The SPEC Research Group's elasticity metrics (Herbst et al., ICAC 2013; Ilyushkin et al., TOMPECS
 * 2018), pure, over demand d(t) and supply s(t) in replicas given as step series (issue #14).
 * Supply counts only ready, active replicas; demand comes from the capacity curve (capacity-curve.ts).
 */
export interface MetricsInput {
  demand: readonly StepPoint[];
  supply: readonly StepPoint[];
  /** The run is [from, to] seconds; T = to − from. */
  from: number;
  to: number;
  /** What is billed (booting and draining replicas too); the supply when absent. */
  billed?: readonly StepPoint[];
  /** Delivery p99 per second (ms), with the SLO it is held to; no SLO count without both. */
  p99Ms?: readonly StepPoint[];
  sloMs?: number;
  /** Seconds since the start the SLO was not met, when the caller models it instead of measuring p99. */
  sloViolationSeconds?: number;
  /** Grid step for instability and jitter (demand is per second). Default 1 s. */
  gridSeconds?: number;
}

export interface ElasticityMetrics {
  seconds: number;
  /** θU, θO: under-/over-provisioning accuracy, % (of demand, averaged over time). */
  thetaU: number;
  thetaO: number;
  /** τU, τO: % of time under-/over-provisioned. */
  tauU: number;
  tauO: number;
  /** υ: % of time supply moves while demand does not move the same way. */
  instability: number;
  /** j: (supply changes − demand changes) per minute; 0 is best, negative is too few. */
  jitterPerMinute: number;
  /** Replicas that became ready plus replicas that left (Σ |Δs|). */
  scalingActions: number;
  /** Cost: ∫ billed dt. */
  replicaSeconds: number;
  meanSupply: number;
  meanDemand: number;
  sloViolationSeconds: number;
}

/** Under-provisioning relative to demand; a period with d = 0 counts as d = 1 (a level's floor). */
const denominator = (d: number) => Math.max(d, 1);

export function elasticityMetrics(input: MetricsInput): ElasticityMetrics {
  const { demand, supply, from, to } = input;
  const seconds = to - from;
  if (!(seconds > 0)) throw new RangeError(`the run is empty: [${from}, ${to}]`);
  const times = breakpoints([demand, supply], from, to);
  const d = new StepCursor(demand);
  const s = new StepCursor(supply);
  let under = 0;
  let over = 0;
  let underTime = 0;
  let overTime = 0;
  for (let i = 0; i + 1 < times.length; i++) {
    const a = times[i] as number;
    const dt = (times[i + 1] as number) - a;
    const dv = d.at(a);
    const sv = s.at(a);
    under += (Math.max(dv - sv, 0) / denominator(dv)) * dt; // θU = (100/T)·Σ max(d−s,0)/d·Δt
    over += (Math.max(sv - dv, 0) / denominator(dv)) * dt; // θO = (100/T)·Σ max(s−d,0)/d·Δt
    if (dv > sv) underTime += dt; // τU = (100/T)·Σ 1[d>s]·Δt
    if (sv > dv) overTime += dt; // τO = (100/T)·Σ 1[s>d]·Δt
  }
  const grid = gridMetrics(demand, supply, from, to, input.gridSeconds ?? 1);
  const pct = (x: number) => (100 * x) / seconds;
  return {
    seconds,
    thetaU: pct(under),
    thetaO: pct(over),
    tauU: pct(underTime),
    tauO: pct(overTime),
    instability: pct(grid.unstableSeconds),
    jitterPerMinute: ((grid.supplyChanges - grid.demandChanges) / seconds) * 60,
    scalingActions: totalVariation(supply, from, to),
    replicaSeconds: integrate(input.billed ?? supply, from, to),
    meanSupply: integrate(supply, from, to) / seconds,
    meanDemand: integrate(demand, from, to) / seconds,
    sloViolationSeconds: input.sloViolationSeconds ?? sloSeconds(input.p99Ms, input.sloMs, from, to),
  };
}

const sign = (x: number) => (x > 0 ? 1 : x < 0 ? -1 : 0);

/**
 * On a regular grid from `from`: a step is unstable when supply moves and demand does not move the
 * same way (it stands still or moves the other way); changes are counted per series.
 */
function gridMetrics(
  demand: readonly StepPoint[],
  supply: readonly StepPoint[],
  from: number,
  to: number,
  step: number,
) {
  if (!(step > 0)) throw new RangeError(`gridSeconds must be positive, not ${step}`);
  const d = new StepCursor(demand);
  const s = new StepCursor(supply);
  let pd = d.at(from);
  let ps = s.at(from);
  let unstableSeconds = 0;
  let supplyChanges = 0;
  let demandChanges = 0;
  const steps = Math.floor((to - from) / step + 1e-9);
  for (let k = 1; k <= steps; k++) {
    const t = from + k * step;
    const dv = d.at(t);
    const sv = s.at(t);
    const ds = sign(sv - ps);
    if (ds !== 0 && ds !== sign(dv - pd)) unstableSeconds += step;
    if (sv !== ps) supplyChanges += 1;
    if (dv !== pd) demandChanges += 1;
    pd = dv;
    ps = sv;
  }
  return { unstableSeconds, supplyChanges, demandChanges };
}

function sloSeconds(
  p99: readonly StepPoint[] | undefined,
  sloMs: number | undefined,
  from: number,
  to: number,
): number {
  if (!p99 || p99.length === 0 || sloMs === undefined) return 0;
  return integrate(
    p99.map((p) => ({ t: p.t, v: p.v > sloMs ? 1 : 0 })),
    from,
    to,
  );
}

/** The metrics a tournament scores, all "lower is better" (jitter by its magnitude). */
export const SCORED_METRICS = ['thetaU', 'thetaO', 'tauU', 'tauO', 'instability', 'jitterPerMinute'] as const;
export type ScoredMetric = (typeof SCORED_METRICS)[number];

export function scoreOf(m: ElasticityMetrics, key: ScoredMetric): number {
  return key === 'jitterPerMinute' ? Math.abs(m.jitterPerMinute) : m[key];
}

/** Values this close (in % points or changes per minute) count as equal. */
export const SPEEDUP_FLOOR = 0.01;

/**
 * Elastic speedup against a reference run: the geometric mean over θU, θO, τU, τO and υ of
 * reference / this (each floored at SPEEDUP_FLOOR so a perfect 0 does not divide by zero); > 1 is better.
 */
export function elasticSpeedup(m: ElasticityMetrics, reference: ElasticityMetrics): number {
  const keys = ['thetaU', 'thetaO', 'tauU', 'tauO', 'instability'] as const;
  const logSum = keys.reduce(
    (n, k) => n + Math.log(Math.max(reference[k], SPEEDUP_FLOOR) / Math.max(m[k], SPEEDUP_FLOOR)),
    0,
  );
  return Math.exp(logSum / keys.length);
}
