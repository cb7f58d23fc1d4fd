import type { Decision, DecisionInput, LevelPolicy, LevelView, ReplicaView } from '../decide.ts';
import { EMPTY_HPA_HISTORY, type HpaConfig, hpaDecide } from './hpa.ts';

export interface HpaPolicyInput extends HpaConfig {
  intervalSeconds: number;
}

/** Ready replicas in the order they are removed: least loaded first, the newest on a tie (as decide()). */
function removalOrder(view: LevelView): ReplicaView[] {
  return view.replicas
    .filter((r) => r.state === 'ready')
    .sort((a, b) => (a.smoothed ?? 0) - (b.smoothed ?? 0) || b.createdAt - a.createdAt);
}

/**
 * One level's decision under `policy: hpa`, after decide()'s shared guards (warm-up, one action in
 * flight, min): moves to the HPA's desired count in one action (several replicas at once), removing
 * the least-loaded ready replicas. Every decision carries its recommendation for the caller's history.
 */
export function hpaLevelDecision(
  view: LevelView,
  t: LevelPolicy,
  o: { load: number; count: number; total: number; input: DecisionInput },
): Decision {
  const { load, count } = o;
  const hpa = o.input.policy.hpa;
  if (!hpa) return { level: view.level, action: 'none', load, reason: 'hpa policy without its settings' };
  const others = o.total - count; // the SLA's total max covers every level
  const outcome = hpaDecide({
    current: count,
    load,
    nowSeconds: o.input.observation * hpa.intervalSeconds,
    min: t.min,
    max: Math.max(t.min, Math.min(t.max, o.input.policy.slaMaxReplicas - others)),
    history: view.hpa ?? EMPTY_HPA_HISTORY,
    config: hpa,
  });
  const base = { level: view.level, load, recommendation: outcome.recommendation };
  const reason = `hpa: ${outcome.reason}`;
  if (outcome.desired > count) return { ...base, action: 'add', count: outcome.desired - count, reason };
  if (outcome.desired < count) {
    const victims = removalOrder(view)
      .slice(0, count - outcome.desired)
      .map((r) => r.id);
    const [first] = victims;
    if (first === undefined)
      return { ...base, action: 'none', reason: `${reason}; no ready replica to remove` };
    return { ...base, action: 'remove', replica: first, replicas: victims, reason };
  }
  return { ...base, action: 'none', reason: `${reason}: keep ${count}` };
}
