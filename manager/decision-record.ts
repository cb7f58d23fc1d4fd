import type { BrokerState } from '../common/admin/contract.ts';
import type { BrokelConfig } from '../common/config/schema.ts';
import type { Decision } from './decide.ts';
import { LEVEL_CONFIG } from './level-config.ts';
import type { ManagerMetrics } from './metrics.ts';
import type { Replica } from './providers/cloud-provider.ts';

/** A level's loads at one observation (absent: nothing measured). */
export interface LevelLoads {
  load?: number | undefined;
  raw?: number | undefined;
  forecast?: number | undefined;
}

/** What the manager saw when it decided. */
export interface DecisionContext {
  tick: number;
  /** The level's replicas, as the provider listed them. */
  mine: readonly Replica[];
  raw: ReadonlyMap<string, number>;
  smoothed: ReadonlyMap<string, number>;
  /** The brokers' pool states (Topology.brokerStates). */
  pool: ReadonlyMap<string, BrokerState>;
  /** The level's action in flight. */
  inFlight: string | undefined;
  loads: LevelLoads;
  config: BrokelConfig;
}

/** One decision's decision-log line (pure). */
export function decisionEntry(decision: Decision, c: DecisionContext): Record<string, unknown> {
  const { level } = decision;
  const t = c.config.levels[LEVEL_CONFIG[level]];
  const { mine, loads } = c;
  return {
    tick: c.tick,
    level,
    cpu: Object.fromEntries(mine.map((r) => [r.id, c.raw.get(r.id) ?? null])),
    smoothed: Object.fromEntries(mine.map((r) => [r.id, c.smoothed.get(r.id) ?? null])),
    states: Object.fromEntries(mine.map((r) => [r.id, r.state])),
    // With cpu and states, what a replay of decide() needs (manager/quality/decide-loop.ts).
    ...(level === 'broker'
      ? { pool: Object.fromEntries(mine.map((r) => [r.id, c.pool.get(r.id) ?? null])) }
      : {}),
    created: Object.fromEntries(mine.map((r) => [r.id, r.createdAt])),
    inFlight: c.inFlight ?? null,
    load: loads.load ?? null,
    rawLoad: loads.raw ?? null,
    forecast: loads.forecast ?? null,
    lower: t.lower,
    upper: t.upper,
    policy: c.config.policy,
    decision: decision.action,
    ...(decision.action === 'remove' ? { replica: decision.replica } : {}),
    ...(decision.action === 'remove' && decision.replicas ? { replicas: decision.replicas } : {}),
    ...(decision.action === 'add' && decision.count !== undefined ? { count: decision.count } : {}),
    ...(decision.recommendation !== undefined ? { recommendation: decision.recommendation } : {}),
    reason: decision.reason,
  };
}

/** The decision counter and the level's gauges (loads, thresholds, replicas per state) after a decision. */
export function recordMetrics(m: ManagerMetrics, decision: Decision, c: DecisionContext): void {
  const { level } = decision;
  const t = c.config.levels[LEVEL_CONFIG[level]];
  m.decisions.inc({ level, action: decision.action });
  if (c.loads.load !== undefined) m.load.set({ level, kind: 'smoothed' }, c.loads.load);
  if (c.loads.raw !== undefined) m.load.set({ level, kind: 'raw' }, c.loads.raw);
  m.threshold.set({ level, bound: 'lower' }, t.lower);
  m.threshold.set({ level, bound: 'upper' }, t.upper);
  for (const state of ['booting', 'ready', 'draining', 'failed']) {
    m.replicas.set({ level, state }, c.mine.filter((r) => r.state === state).length);
  }
}
