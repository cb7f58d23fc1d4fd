import type { Decision } from '../decide.ts';
import { LEVELS, type Level } from '../providers/cloud-provider.ts';
import { DecideLoop, type LoopSettings, type ObservedReplica } from './decide-loop.ts';

/**
 * Replays a manager's decision log (manager/decision-log.ts) through the simulator's decide loop,
 * pure: each observation's CPU readings, provider and pool states and in-flight flags go in; what
 * comes out is compared with what the manager decided (issue #14: the same decisions from the same
 * observations). Action outcomes mark the level's last action, as the manager does.
 */
export interface LoggedDecision {
  tick: number;
  level: Level;
  decision: Decision['action'];
  replica?: string;
  replicas?: string[];
  count?: number;
  recommendation?: number;
}

export interface ReplayedTick {
  tick: number;
  logged: LoggedDecision[];
  replayed: Decision[];
}

type Line = Record<string, unknown>;
const STATES = new Set(['booting', 'ready', 'draining', 'failed']);

export function replayDecisionLog(
  lines: readonly Line[],
  settings: LoopSettings,
  /** Each level's replica CPU quota (config levels.*.cpuQuota): the load's capacity weights. */
  quotas: Readonly<Record<Level, number | undefined>>,
): ReplayedTick[] {
  const loop = new DecideLoop();
  const out: ReplayedTick[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] as Line;
    if (typeof line.action === 'string' && typeof line.outcome === 'string') {
      loop.actionMark(line.level as Level); // an action finished
      i += 1;
      continue;
    }
    if (typeof line.decision !== 'string') {
      i += 1;
      continue;
    }
    // One observation: a line per level with the same tick.
    const tick = line.tick as number;
    const group: Line[] = [];
    while (
      i < lines.length &&
      (lines[i] as Line).tick === tick &&
      typeof (lines[i] as Line).decision === 'string'
    )
      group.push(lines[i++] as Line);
    const replicas: ObservedReplica[] = group.flatMap((g) => observed(g, quotas[g.level as Level]));
    const inFlight = Object.fromEntries(
      LEVELS.map((l) => [
        l,
        group.some((g) => g.level === l && g.inFlight !== null && g.inFlight !== undefined),
      ]),
    ) as Record<Level, boolean>;
    while (loop.observation < tick - 1) loop.tick([], { broker: true, orchestrator: true }, settings); // a gap: none
    const { decisions } = loop.tick(replicas, inFlight, settings);
    for (const d of decisions) if (d.action !== 'none' && !inFlight[d.level]) loop.actionMark(d.level);
    out.push({ tick, logged: group.map(logged), replayed: decisions });
  }
  return out;
}

function observed(line: Line, cpuQuota: number | undefined): ObservedReplica[] {
  const level = line.level as Level;
  const states = (line.states ?? {}) as Record<string, string>;
  const cpu = (line.cpu ?? {}) as Record<string, number | null>;
  const pool = (line.pool ?? {}) as Record<string, string | null>;
  const created = (line.created ?? {}) as Record<string, number>;
  return Object.entries(states)
    .filter(([, s]) => STATES.has(s))
    .map(([id, state]) => ({
      id,
      level,
      state: state as ObservedReplica['state'],
      pool: (pool[id] ?? undefined) as ObservedReplica['pool'],
      createdAt: created[id] ?? 0,
      cpuQuota,
      cpu: state === 'ready' && typeof cpu[id] === 'number' ? (cpu[id] as number) : undefined,
    }));
}

function logged(line: Line): LoggedDecision {
  return {
    tick: line.tick as number,
    level: line.level as Level,
    decision: line.decision as Decision['action'],
    ...(typeof line.replica === 'string' ? { replica: line.replica } : {}),
    ...(Array.isArray(line.replicas) ? { replicas: line.replicas as string[] } : {}),
    ...(typeof line.count === 'number' ? { count: line.count } : {}),
    ...(typeof line.recommendation === 'number' ? { recommendation: line.recommendation } : {}),
  };
}

/** A decision in the log's terms, to compare with a logged one. */
export function asLogged(tick: number, d: Decision): LoggedDecision {
  return {
    tick,
    level: d.level,
    decision: d.action,
    ...(d.action === 'remove' ? { replica: d.replica } : {}),
    ...(d.action === 'remove' && d.replicas ? { replicas: d.replicas } : {}),
    ...(d.action === 'add' && d.count !== undefined ? { count: d.count } : {}),
    ...(d.recommendation !== undefined ? { recommendation: d.recommendation } : {}),
  };
}
