/**
 * Reads the manager's decision log (manager/decision-log.ts: one JSON object per line), pure. Two
 * kinds of line: an observation per level per tick (raw and smoothed level load, thresholds, the
 * decision), and an action's outcome (`action`, `outcome`, `seconds`).
 */
export interface Observation {
  /** Seconds since the run's application start. */
  t: number;
  tick: number;
  level: string;
  load: number | null;
  rawLoad: number | null;
  lower: number;
  upper: number;
  decision: string;
  reason: string;
  replicas: number;
}

export interface ActionOutcome {
  t: number;
  tick: number;
  level: string;
  action: string;
  outcome: string;
  seconds: number;
}

export interface DecisionLogSummary {
  observations: Observation[];
  actions: ActionOutcome[];
  /** Lines that were not JSON objects of either kind. */
  skipped: number;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function parseDecisionLog(text: string, originMs: number): DecisionLogSummary {
  const out: DecisionLogSummary = { observations: [], actions: [], skipped: 0 };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      out.skipped += 1;
      continue;
    }
    const time = typeof entry.time === 'string' ? Date.parse(entry.time) : Number.NaN;
    const t = (time - originMs) / 1000;
    const tick = num(entry.tick) ?? 0;
    const level = typeof entry.level === 'string' ? entry.level : '';
    if (typeof entry.decision === 'string' && Number.isFinite(t)) {
      out.observations.push({
        t,
        tick,
        level,
        load: num(entry.load),
        rawLoad: num(entry.rawLoad),
        lower: num(entry.lower) ?? 0,
        upper: num(entry.upper) ?? 1,
        decision: entry.decision,
        reason: typeof entry.reason === 'string' ? entry.reason : '',
        replicas: entry.states && typeof entry.states === 'object' ? Object.keys(entry.states).length : 0,
      });
    } else if (typeof entry.action === 'string' && Number.isFinite(t)) {
      out.actions.push({
        t,
        tick,
        level,
        action: entry.action,
        outcome: typeof entry.outcome === 'string' ? entry.outcome : '',
        seconds: num(entry.seconds) ?? 0,
      });
    } else out.skipped += 1;
  }
  return out;
}
