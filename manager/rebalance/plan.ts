/**
 * The rebalance planner (pure: no I/O, no clock). Given the sessions on each orchestrator, it says
 * how many to move from which to which, moving one session at a time from the busiest to the least
 * busy until every pair is within the thresholds (issue #13). Orchestrators that are leaving
 * (evacuation) give all their sessions to the others, each to the least busy at that moment.
 */

export interface RebalanceThresholds {
  /** Balanced when the busiest has at most this many sessions more than the least busy… */
  absThreshold: number;
  /** …or at most this factor times its sessions (1.1: 10 % more). */
  relThreshold: number;
}

export interface PlanInput {
  /** Connected sessions per orchestrator id (the ones that answered). */
  sessions: Readonly<Record<string, number>>;
  /** Orchestrators being evacuated: every session of theirs moves. */
  leaving?: readonly string[];
  /**
   * Earlier rounds of the same run: their sources only give and their targets only take, so no
   * client goes back where it came from (no ping-pong within a run).
   */
  gave?: readonly string[];
  took?: readonly string[];
  /** Targets that did not take the clients sent to them (a replica too small, say): they get no more. */
  closed?: readonly string[];
}

export interface PlannedMove {
  from: string;
  to: string;
  count: number;
}

export interface Plan {
  moves: PlannedMove[];
  /** Sessions per orchestrator once the moves are done. */
  after: Record<string, number>;
  /** Why nothing (more) moves, or what the moves achieve. */
  reason: string;
}

/** Whether `busiest` and `leastBusy` session counts are within the thresholds of each other. */
export function withinThresholds(busiest: number, leastBusy: number, t: RebalanceThresholds): boolean {
  return busiest - leastBusy <= t.absThreshold || busiest <= t.relThreshold * leastBusy;
}

/** Orchestrator ids ordered by sessions, ties by id (so a plan is deterministic). */
function extreme(ids: readonly string[], count: Record<string, number>, pick: 'max' | 'min'): string {
  let best = ids[0] as string;
  for (const id of ids) {
    const a = count[id] ?? 0;
    const b = count[best] ?? 0;
    if (pick === 'max' ? a > b || (a === b && id < best) : a < b || (a === b && id < best)) best = id;
  }
  return best;
}

/**
 * The moves that bring the orchestrators within the thresholds. Moves are aggregated per (from, to)
 * pair; their sum is the number of sessions that change orchestrator. A session is never planned to
 * move twice: a source only gives, a target only receives.
 */
export function planRebalance(input: PlanInput, t: RebalanceThresholds): Plan {
  const count: Record<string, number> = {};
  for (const [id, n] of Object.entries(input.sessions)) count[id] = Math.max(0, Math.floor(n));
  const leaving = new Set((input.leaving ?? []).filter((id) => id in count));
  const staying = Object.keys(count)
    .filter((id) => !leaving.has(id))
    .sort();
  const moved = new Map<string, number>();
  const givers = new Set<string>((input.gave ?? []).filter((id) => id in count));
  const takers = new Set<string>((input.took ?? []).filter((id) => id in count && !givers.has(id)));
  const closed = new Set<string>(input.closed ?? []);
  const move = (from: string, to: string) => {
    count[from] = (count[from] ?? 0) - 1;
    count[to] = (count[to] ?? 0) + 1;
    const key = `${from}\u0000${to}`;
    moved.set(key, (moved.get(key) ?? 0) + 1);
    givers.add(from);
    takers.add(to);
  };
  if (staying.length === 0) return { moves: [], after: count, reason: 'no orchestrator to move sessions to' };
  const open = staying.filter((id) => !closed.has(id));
  for (const from of [...leaving].sort()) {
    if (open.length === 0) break;
    while ((count[from] ?? 0) > 0) move(from, extreme(open, count, 'min'));
  }
  let reason = leaving.size > 0 ? 'evacuation' : 'within thresholds';
  // A target does not give and a source does not take, so no session is planned twice. The lists
  // change only when someone gives or takes for the first time (at most once per orchestrator).
  let sources = staying.filter((id) => !takers.has(id));
  let targets = open.filter((id) => !givers.has(id));
  for (;;) {
    if (sources.length === 0 || targets.length === 0) break;
    const busiest = extreme(sources, count, 'max');
    const least = extreme(targets, count, 'min');
    if (busiest === least) break;
    const hi = count[busiest] ?? 0;
    const lo = count[least] ?? 0;
    if (withinThresholds(hi, lo, t)) break;
    reason = leaving.size > 0 ? 'evacuation, then balance' : 'balance';
    // Moving one when hi - lo <= 1 would only swap them.
    if (hi - lo <= 1) break;
    const fresh = !givers.has(busiest) || !takers.has(least);
    move(busiest, least);
    if (fresh) {
      sources = staying.filter((id) => !takers.has(id));
      targets = open.filter((id) => !givers.has(id));
    }
  }
  const moves = [...moved].map(([key, n]) => {
    const [from, to] = key.split('\u0000') as [string, string];
    return { from, to, count: n };
  });
  moves.sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to));
  return { moves, after: count, reason: moves.length === 0 ? 'within thresholds' : reason };
}

/** Seconds the slowest source needs for its planned moves at `evictPerSecond` each (ceil). */
export function planSeconds(moves: readonly PlannedMove[], evictPerSecond: number): number {
  const perSource = new Map<string, number>();
  for (const m of moves) perSource.set(m.from, (perSource.get(m.from) ?? 0) + m.count);
  return Math.ceil(Math.max(0, ...perSource.values()) / evictPerSecond);
}
