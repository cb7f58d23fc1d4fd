import type { HpaHistory } from './policies/hpa.ts';
import { type HpaPolicyInput, hpaLevelDecision } from './policies/hpa-level.ts';
import type { Level } from './providers/cloud-provider.ts';

/** A replica as the decision sees it. */
export interface ReplicaView {
  id: string;
  /** booting / joining / draining count as "an action in flight" for the level. */
  state: 'booting' | 'joining' | 'ready' | 'draining' | 'failed';
  createdAt: number;
  /** Smoothed load, fraction of its allocation; undefined before its first reading. */
  smoothed: number | undefined;
}

export interface LevelView {
  level: Level;
  replicas: readonly ReplicaView[];
  /** Level load (capacity-weighted, smoothed); undefined without a ready replica with a reading. */
  load: number | undefined;
  /** Forecast of the level load `horizon` observations ahead (proactive policy). */
  forecast: number | undefined;
  /** An add or remove of this level is still being carried out. */
  actionInFlight: boolean;
  /** Observations since this level's last action (Infinity when none). */
  sinceLastAction: number;
  /** An operator's replica count (`brokel scale`), followed instead of the load until set back to auto. */
  manualTarget?: number;
  /** Unsmoothed level load (the hpa policy's input). */
  rawLoad?: number | undefined;
  /** The hpa policy's memory for this level (recommendations, scale-ups). */
  hpa?: HpaHistory;
}

export interface LevelPolicy {
  lower: number;
  upper: number;
  min: number;
  max: number;
  cooldownObservations: number;
  /** Replicas one reactive or proactive add may create together (1: the Brokel model). */
  maxAddPerAction?: number;
}

export interface DecisionInput {
  levels: readonly LevelView[];
  policy: {
    kind: 'reactive' | 'proactive' | 'hpa';
    warmupObservations: number;
    slaMaxReplicas: number;
    /** Required by the hpa policy. */
    hpa?: HpaPolicyInput;
  };
  thresholds: Readonly<Record<Level, LevelPolicy>>;
  /** Observations taken so far, this one included. */
  observation: number;
}

/**
 * `count` (add) exceeds one under the hpa policy, or with a level's maxAddPerAction above one;
 * `replicas` (remove, `replica` first) only under the hpa policy.
 */
export type Decision = (
  | { level: Level; action: 'add'; load: number; reason: string; count?: number }
  | { level: Level; action: 'remove'; replica: string; load: number; reason: string; replicas?: string[] }
  | { level: Level; action: 'none'; load: number | undefined; reason: string }
) & { recommendation?: number };

/** Replicas not failed (a loop, not filter().length: decide() runs once per observation over up to 500). */
function liveCount(replicas: readonly ReplicaView[]): number {
  let n = 0;
  for (const r of replicas) if (r.state !== 'failed') n += 1;
  return n;
}

/**
 * The elasticity decision, per level, as a pure function (ARCHITECTURE.md, control plane, step 3):
 * above `upper` and below the level's max and the SLA's total max → add one (or, with the level's
 * maxAddPerAction above one, enough to reach the middle of its band: addCount); below `lower` and above
 * min → remove the least-loaded replica (the newest on a tie; under the proactive policy only when the
 * smoothed load is below `lower` too); nothing during warm-up, while the level
 * has a replica booting, joining or draining, or during the cool-down. One action at a time. A level
 * with an operator's manual target steps towards it instead (within min/max and the SLA).
 */
export function decide(input: DecisionInput): Decision[] {
  let total = 0;
  for (const l of input.levels) total += liveCount(l.replicas);
  return input.levels.map((view): Decision => {
    const t = input.thresholds[view.level];
    const kind = input.policy.kind;
    const load =
      kind === 'proactive'
        ? (view.forecast ?? view.load)
        : kind === 'hpa'
          ? (view.rawLoad ?? view.load)
          : view.load;
    const none = (reason: string): Decision => ({ level: view.level, action: 'none', load, reason });
    const count = liveCount(view.replicas);
    if (input.observation < input.policy.warmupObservations) {
      return none(`warming up (${input.observation}/${input.policy.warmupObservations} observations)`);
    }
    if (view.actionInFlight) return none('an action of this level is in flight');
    const busy = view.replicas.find(
      (r) => r.state === 'booting' || r.state === 'joining' || r.state === 'draining',
    );
    if (busy) return none(`replica ${busy.id} is ${busy.state}`);
    if (view.manualTarget !== undefined) {
      const slaFull = total >= input.policy.slaMaxReplicas;
      return manual(view, t, { wanted: view.manualTarget, count, load, slaFull });
    }
    if (view.sinceLastAction < t.cooldownObservations) {
      return none(
        `cooling down (${view.sinceLastAction}/${t.cooldownObservations} observations since the last action)`,
      );
    }
    if (count < t.min)
      return {
        level: view.level,
        action: 'add',
        load: load ?? 0,
        reason: `${count} replicas, below min ${t.min}`,
      };
    if (load === undefined) return none('no load reading yet');
    if (kind === 'hpa') return hpaLevelDecision(view, t, { load, count, total, input });
    const shown = `${input.policy.kind === 'proactive' ? 'forecast' : 'load'} ${load.toFixed(3)}`;
    if (load > t.upper) {
      if (count >= t.max) return none(`${shown} above upper ${t.upper}, but at max ${t.max}`);
      if (total >= input.policy.slaMaxReplicas)
        return none(
          `${shown} above upper ${t.upper}, but at the SLA's ${input.policy.slaMaxReplicas} replicas`,
        );
      const room = Math.min(t.max - count, input.policy.slaMaxReplicas - total);
      const n = addCount(count, load, t, room);
      const reason = `${shown} above upper ${t.upper}${n > 1 ? `: ${n} replicas, towards the band's middle ${Number(middle(t).toFixed(3))}` : ''}`;
      return { level: view.level, action: 'add', load, reason, ...(n > 1 ? { count: n } : {}) };
    }
    if (load < t.lower) {
      if (count <= t.min) return none(`${shown} below lower ${t.lower}, but at min ${t.min}`);
      // Scale in on the forecast only when the smoothed load agrees: a trend extrapolated from one
      // dip (a load that stalls for a tick, a busy machine) forecasts 0 and would remove a replica the
      // present load still needs; scaling out stays on the forecast alone.
      if (kind === 'proactive' && view.load !== undefined && view.load >= t.lower)
        return none(`${shown} below lower ${t.lower}, but the smoothed load ${view.load.toFixed(3)} is not`);
      const victim = [...view.replicas]
        .filter((r) => r.state === 'ready')
        .sort((a, b) => (a.smoothed ?? 0) - (b.smoothed ?? 0) || b.createdAt - a.createdAt)[0];
      if (!victim) return none('no ready replica to remove');
      return {
        level: view.level,
        action: 'remove',
        replica: victim.id,
        load,
        reason: `${shown} below lower ${t.lower}`,
      };
    }
    return none(`${shown} within [${t.lower}, ${t.upper}]`);
  });
}

const middle = (t: LevelPolicy) => (t.lower + t.upper) / 2;

/**
 * How many replicas one add creates (reactive and proactive): 1 in the Brokel model (maxAddPerAction 1);
 * above it, enough to bring the level load to the middle of its band, ceil(count × load ÷ middle), within
 * maxAddPerAction and `room` (what max and the SLA leave). A saturated level reads load 1, so this at
 * most doubles it with a 30-70 band: the real demand may be higher, and the next observation adds again.
 */
export function addCount(count: number, load: number, t: LevelPolicy, room: number): number {
  const step = t.maxAddPerAction ?? 1;
  if (step <= 1 || count === 0) return 1;
  const wanted = Math.ceil((count * load) / middle(t) - 1e-9) - count;
  return Math.max(1, Math.min(step, room, wanted));
}

/** Steps a level towards the operator's target, kept within [min, max]; no cool-down, one at a time. */
function manual(
  view: LevelView,
  t: LevelPolicy,
  now: { wanted: number; count: number; load: number | undefined; slaFull: boolean },
): Decision {
  const { wanted, count, load } = now;
  const target = Math.min(t.max, Math.max(t.min, wanted));
  const reason = `manual target ${target}${target === wanted ? '' : ` (asked ${wanted}, kept within [${t.min}, ${t.max}])`}`;
  if (count < target && now.slaFull)
    return { level: view.level, action: 'none', load, reason: `${reason}, but at the SLA's max` };
  if (count < target) return { level: view.level, action: 'add', load: load ?? 0, reason };
  if (count > target) {
    const victim = [...view.replicas]
      .filter((r) => r.state === 'ready')
      .sort((a, b) => (a.smoothed ?? 0) - (b.smoothed ?? 0) || b.createdAt - a.createdAt)[0];
    if (victim) return { level: view.level, action: 'remove', replica: victim.id, load: load ?? 0, reason };
  }
  return { level: view.level, action: 'none', load, reason: `at ${reason}` };
}
