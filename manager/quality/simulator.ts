import type { BrokelConfig } from '../../common/config/schema.ts';
import { RateIntegral, type RateSeries } from '../../workload/elasticity/demand-trace.ts';
import type { Decision } from '../decide.ts';
import { LEVELS, type Level } from '../providers/cloud-provider.ts';
import { type CapacityCurve, demandFor } from './capacity-curve.ts';
import { DecideLoop, type LoopSettings, type ObservedReplica } from './decide-loop.ts';
import { type ElasticityMetrics, elasticityMetrics } from './metrics.ts';
import { breakpoints, compactSteps, StepCursor, type StepPoint } from './step-series.ts';

/**
 * `brokel simulate`'s engine, pure (issue #14): the manager's decide loop (decide-loop.ts, the same
 * decide()) over a capacity model instead of processes. Each level's replicas carry an offered rate
 * evenly; a replica's CPU is rate / (ready replicas × what one carries at 100 %), capped at 1. An add
 * is ready (booted and active) `bootSeconds` after the decision; a remove takes a replica out of the
 * supply at once and bills it until it has drained (`drainSeconds` each, one after the other).
 */
export interface CapacityModel {
  /** msg/s one replica carries at 100 % of its CPU allocation. */
  fullMsgPerSecond: Record<Level, number>;
  /** Demand: the smallest n that carries the load under the SLO. */
  curves: Record<Level, CapacityCurve>;
  bootSeconds: Record<Level, number>;
  drainSeconds: number;
}

export interface LevelOutcome {
  metrics: ElasticityMetrics;
  demand: StepPoint[];
  supply: StepPoint[];
  billed: StepPoint[];
  maxSupply: number;
  adds: number;
  removes: number;
}

export interface SimulationResult {
  policy: BrokelConfig['policy'];
  seconds: number;
  observations: number;
  levels: Record<Level, LevelOutcome>;
  /** Seconds some level had less supply than demand: the SLO does not hold (modelled, not measured). */
  sloViolationSeconds: number;
  /** Every decision that was acted on (with its observation), when asked for. */
  actions?: Array<{ observation: number; decision: Decision }>;
}

interface SimReplica extends ObservedReplica {
  readyAt: number;
  goneAt: number;
}

export function simulationSettings(config: BrokelConfig): LoopSettings {
  return {
    kind: config.policy,
    alpha: config.smoothing.alpha,
    beta: config.proactive.beta,
    horizonObservations: config.proactive.horizonObservations,
    warmupObservations: config.monitor.warmupObservations,
    slaMaxReplicas: config.sla.maxReplicas,
    thresholds: { broker: config.levels.brokers, orchestrator: config.levels.orchestrators },
    hpa: { ...config.hpa, intervalSeconds: config.monitor.intervalSeconds },
  };
}

export function simulate(
  rates: RateSeries,
  config: BrokelConfig,
  model: CapacityModel,
  options: { keepActions?: boolean } = {},
): SimulationResult {
  const interval = config.monitor.intervalSeconds;
  const integral = new RateIntegral(rates);
  const observations = Math.floor(integral.durationSeconds / interval + 1e-9);
  const end = observations * interval;
  const settings = simulationSettings(config);
  const loop = new DecideLoop();
  const quota: Record<Level, number | undefined> = {
    broker: config.levels.brokers.cpuQuota,
    orchestrator: config.levels.orchestrators.cpuQuota,
  };
  const min: Record<Level, number> = {
    broker: config.levels.brokers.min,
    orchestrator: config.levels.orchestrators.min,
  };
  let replicas: SimReplica[] = [];
  /** Booting or draining: the replicas with an event to come. */
  let pending: SimReplica[] = [];
  let seq = 0;
  const make = (level: Level, t: number, readyAt: number): SimReplica => ({
    id: `${level === 'broker' ? 'b' : 'o'}${++seq}`,
    level,
    state: readyAt <= t ? 'ready' : 'booting',
    createdAt: t,
    pool: undefined,
    cpuQuota: quota[level],
    cpu: undefined,
    memo: undefined, // every field present from the start: one object shape in the hot loop
    readyAt,
    goneAt: Number.POSITIVE_INFINITY,
  });
  const supply: Record<Level, StepPoint[]> = { broker: [], orchestrator: [] };
  const billed: Record<Level, StepPoint[]> = { broker: [], orchestrator: [] };
  const counts = { broker: { supply: 0, billed: 0 }, orchestrator: { supply: 0, billed: 0 } };
  const bump = (level: Level, t: number, ds: number, db: number) => {
    const c = counts[level];
    c.supply += ds;
    c.billed += db;
    if (ds !== 0) supply[level].push({ t, v: c.supply });
    if (db !== 0) billed[level].push({ t, v: c.billed });
  };
  for (const level of LEVELS) {
    for (let i = 0; i < min[level]; i++) replicas.push(make(level, 0, 0));
    bump(level, 0, min[level], min[level]);
  }
  const doneAt: Record<Level, number | undefined> = { broker: undefined, orchestrator: undefined };
  const tally = { broker: { adds: 0, removes: 0 }, orchestrator: { adds: 0, removes: 0 } };
  const actions: SimulationResult['actions'] = options.keepActions ? [] : undefined;

  for (let k = 1; k <= observations; k++) {
    const t = k * interval;
    // What happened since the last observation, in time order: replicas ready, replicas gone.
    const events = pending
      .filter((r) => (r.state === 'booting' && r.readyAt <= t) || r.goneAt <= t)
      .sort((a, b) => Math.min(a.readyAt, a.goneAt) - Math.min(b.readyAt, b.goneAt));
    if (events.length > 0) pending = pending.filter((r) => !events.includes(r));
    for (const r of events) {
      if (r.state === 'booting') {
        r.state = 'ready';
        bump(r.level, r.readyAt, 1, 0);
      } else {
        bump(r.level, r.goneAt, 0, -1);
        loop.forget(r.id);
      }
    }
    if (events.some((r) => r.goneAt <= t)) replicas = replicas.filter((r) => r.goneAt > t);
    for (const level of LEVELS) {
      const due = doneAt[level];
      if (due !== undefined && due <= t) {
        doneAt[level] = undefined;
        loop.actionMark(level); // the manager marks a finished action at the observation before
      }
    }
    const rate = integral.meanRate(t - interval, t);
    const ready = { broker: counts.broker.supply, orchestrator: counts.orchestrator.supply }; // ready, not draining
    const cpu = {
      broker: Math.min(1, rate / (Math.max(ready.broker, 1) * model.fullMsgPerSecond.broker)),
      orchestrator: Math.min(
        1,
        rate / (Math.max(ready.orchestrator, 1) * model.fullMsgPerSecond.orchestrator),
      ),
    };
    // Not cpu[r.level]: a keyed load per replica and observation cost about a sixth of the simulation's
    // time (the reactive policy over 30 days, --serial: 6.0 → 5.0 s).
    for (const r of replicas)
      r.cpu = r.state !== 'ready' ? undefined : r.level === 'broker' ? cpu.broker : cpu.orchestrator;
    const inFlight = { broker: doneAt.broker !== undefined, orchestrator: doneAt.orchestrator !== undefined };
    const { decisions } = loop.tick(replicas, inFlight, settings);
    for (const d of decisions) {
      if (d.action === 'none' || inFlight[d.level]) continue;
      actions?.push({ observation: k, decision: d });
      loop.actionMark(d.level);
      if (d.action === 'add') {
        const n = d.count ?? 1;
        for (let i = 0; i < n; i++) {
          const r = make(d.level, t, t + model.bootSeconds[d.level]);
          replicas.push(r);
          pending.push(r);
        }
        bump(d.level, t, 0, n);
        doneAt[d.level] = t + model.bootSeconds[d.level];
        tally[d.level].adds += n;
      } else {
        const victims = d.replicas ?? [d.replica];
        victims.forEach((id, i) => {
          const r = replicas.find((x) => x.id === id);
          if (!r) return;
          r.state = 'draining';
          r.goneAt = t + model.drainSeconds * (i + 1);
          pending.push(r);
          bump(d.level, t, -1, 0);
        });
        doneAt[d.level] = t + model.drainSeconds * victims.length;
        tally[d.level].removes += victims.length;
      }
    }
  }
  const levels = {} as Record<Level, LevelOutcome>;
  for (const level of LEVELS) {
    const demand = compactSteps(
      Array.from(rates.rates, (r, i) => ({ t: i * rates.stepSeconds, v: demandFor(model.curves[level], r) })),
    );
    const s = compactSteps(supply[level]);
    const b = compactSteps(billed[level]);
    levels[level] = {
      metrics: elasticityMetrics({ demand, supply: s, billed: b, from: 0, to: end }),
      demand,
      supply: s,
      billed: b,
      maxSupply: Math.max(...s.map((p) => p.v)),
      ...tally[level],
    };
  }
  const slo = underSeconds(levels, end);
  for (const level of LEVELS) levels[level].metrics.sloViolationSeconds = slo;
  return {
    policy: config.policy,
    seconds: end,
    observations,
    levels,
    sloViolationSeconds: slo,
    ...(actions ? { actions } : {}),
  };
}

/** Seconds in which any level's supply is below its demand. */
function underSeconds(levels: Record<Level, LevelOutcome>, end: number): number {
  const series = LEVELS.flatMap((l) => [levels[l].demand, levels[l].supply]);
  const times = breakpoints(series, 0, end);
  const cursors = series.map((s) => new StepCursor(s));
  let total = 0;
  for (let i = 0; i + 1 < times.length; i++) {
    const a = times[i] as number;
    const v = cursors.map((c) => c.at(a));
    const short = LEVELS.some((_, j) => (v[2 * j] as number) > (v[2 * j + 1] as number));
    if (short) total += (times[i + 1] as number) - a;
  }
  return total;
}
