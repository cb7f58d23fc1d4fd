import {
  type Decision,
  type DecisionInput,
  decide,
  type LevelPolicy,
  type LevelView,
  type ReplicaView,
} from '../decide.ts';
import { EMPTY_HPA_HISTORY, type HpaHistory, recordHpa } from '../policies/hpa.ts';
import type { HpaPolicyInput } from '../policies/hpa-level.ts';
import { LEVELS, type Level } from '../providers/cloud-provider.ts';
import { type HoltState, holtForecast, holtStep, smooth } from '../smoothing.ts';

/**
 * The manager's observe → smooth → decide step without I/O (what manager.ts does in tick() between
 * the provider's answers and the actions), for `brokel simulate` and for replaying a real run's
 * decision log: per-replica smoothing, the level's capacity-weighted load, Holt's forecast, the hpa
 * policy's history, and decide(). Same inputs, same decisions (test/unit/simulate-replay.test.ts).
 */
export interface ObservedReplica {
  id: string;
  level: Level;
  /** The provider's state. */
  state: 'booting' | 'ready' | 'draining' | 'failed';
  /** The broker pool's state (brokers only): joining and draining show through to decide(). */
  pool?: 'joining' | 'active' | 'draining' | undefined;
  createdAt: number;
  cpuQuota?: number | undefined;
  /** This observation's CPU reading (ready replicas), fraction of its allocation. */
  cpu?: number | undefined;
  /** The loop's own slot: set by DecideLoop, left alone by callers (saves a lookup per tick). */
  memo?: unknown;
}

export interface LoopSettings {
  kind: DecisionInput['policy']['kind'];
  alpha: number;
  beta: number;
  horizonObservations: number;
  warmupObservations: number;
  slaMaxReplicas: number;
  thresholds: Readonly<Record<Level, LevelPolicy>>;
  hpa: HpaPolicyInput;
}

export interface LoopTick {
  observation: number;
  views: LevelView[];
  decisions: Decision[];
}

/** The manager's smoothing function, bound once (a module binding read per call costs in a hot loop). */
const smoothStep = smooth;

interface Memory {
  owner: DecideLoop;
  smoothed: number | undefined;
  /** The last reading (kept when a tick has none, as the manager does). */
  raw: number | undefined;
  /** The view handed to decide(), reused from tick to tick (decide() only reads it). */
  view: ReplicaView;
}

export class DecideLoop {
  observation = 0;
  private readonly memory = new Map<string, Memory>();
  private readonly holt = new Map<Level, HoltState>();
  private readonly hpa = new Map<Level, HpaHistory>();
  private readonly lastActionAt = new Map<Level, number>();

  /** One observation: `inFlight` says which levels have an action under way (the caller's actions). */
  tick(
    replicas: readonly ObservedReplica[],
    inFlight: Readonly<Record<Level, boolean>>,
    s: LoopSettings,
  ): LoopTick {
    this.observation += 1;
    // One pass: smoothing per replica (smoothing.ts smooth), and each level's capacity-weighted load
    // over its ready replicas with a reading (smoothing.ts levelLoad, summed in the same order).
    const brokers = new Accumulator();
    const orchestrators = new Accumulator();
    for (const r of replicas) {
      const m = this.memoryOf(r);
      const cpu = r.cpu;
      if (cpu !== undefined && r.state === 'ready') {
        m.raw = cpu;
        m.smoothed = smoothStep(m.smoothed, cpu, s.alpha);
      }
      (r.level === 'broker' ? brokers : orchestrators).add(r, m);
    }
    const acc = { broker: brokers, orchestrator: orchestrators };
    const views = LEVELS.map((level) => this.levelView(level, acc[level], inFlight[level], s));
    const decisions = decide({
      levels: views,
      observation: this.observation,
      policy: {
        kind: s.kind,
        warmupObservations: s.warmupObservations,
        slaMaxReplicas: s.slaMaxReplicas,
        hpa: s.hpa,
      },
      thresholds: s.thresholds,
    });
    for (const d of decisions) {
      const added = d.action === 'add' && !inFlight[d.level] ? (d.count ?? 1) : 0;
      const now = this.observation * s.hpa.intervalSeconds;
      this.hpa.set(
        d.level,
        recordHpa(this.hpa.get(d.level) ?? EMPTY_HPA_HISTORY, now, d.recommendation, added, s.hpa),
      );
    }
    return { observation: this.observation, views, decisions };
  }

  /** The caller started or finished an action of the level (the cool-down counts from both). */
  actionMark(level: Level): void {
    this.lastActionAt.set(level, this.observation);
  }

  /** Forget a replica that is gone (keeps the memory small in long simulations). */
  forget(id: string): void {
    this.memory.delete(id);
  }

  /**
   * A replica's memory: kept on the observed object itself when the caller passes the same objects
   * from tick to tick (the simulator: no map lookup per replica and tick), else found by id.
   */
  private memoryOf(r: ObservedReplica): Memory {
    const held = r.memo as Memory | undefined;
    if (held !== undefined && held.owner === this && held.view.id === r.id) return held;
    let m = this.memory.get(r.id);
    if (!m) {
      const view: ReplicaView = { id: r.id, state: r.state, createdAt: r.createdAt, smoothed: undefined };
      m = { owner: this, smoothed: undefined, raw: undefined, view };
      this.memory.set(r.id, m);
    }
    r.memo = m;
    return m;
  }

  private levelView(level: Level, acc: Accumulator, inFlight: boolean, s: LoopSettings): LevelView {
    const load = acc.capacity > 0 ? acc.used / acc.capacity : undefined;
    const rawLoad = acc.capacity > 0 ? acc.usedRaw / acc.capacity : undefined;
    let forecast: number | undefined;
    if (rawLoad !== undefined) {
      const holt = holtStep(this.holt.get(level), rawLoad, s.alpha, s.beta);
      this.holt.set(level, holt);
      forecast = holtForecast(holt, s.horizonObservations);
    }
    const last = this.lastActionAt.get(level);
    return {
      level,
      replicas: acc.views,
      load,
      forecast,
      actionInFlight: inFlight,
      sinceLastAction: last === undefined ? Number.POSITIVE_INFINITY : this.observation - last,
      rawLoad,
      hpa: this.hpa.get(level) ?? EMPTY_HPA_HISTORY,
    };
  }
}

/** Sums for one level's load, and its replicas' views in order. */
class Accumulator {
  capacity = 0;
  used = 0;
  usedRaw = 0;
  readonly views: ReplicaView[] = [];

  add(r: ObservedReplica, m: Memory): void {
    if (r.state === 'ready' && m.smoothed !== undefined) {
      const c = r.cpuQuota ?? 1;
      this.capacity += c;
      this.used += m.smoothed * c;
      this.usedRaw += (m.raw ?? 0) * c;
    }
    const v = m.view;
    v.state = r.state === 'ready' && (r.pool === 'joining' || r.pool === 'draining') ? r.pool : r.state;
    v.smoothed = m.smoothed;
    this.views.push(v);
  }
}
