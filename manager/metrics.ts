import { createServiceMetrics, zeroLabels } from '../common/metrics.ts';
import { LEVELS } from './providers/cloud-provider.ts';

export function managerMetrics() {
  const m = createServiceMetrics({ defaultMetrics: true });
  const metrics = {
    ...m,
    replicas: m.gauge('brokel_manager_level_replicas', 'Replicas per level and state', ['level', 'state']),
    load: m.gauge('brokel_manager_level_load_ratio', 'Level load, fraction of allocated CPU', [
      'level',
      'kind',
    ]),
    threshold: m.gauge('brokel_manager_threshold_ratio', 'Configured thresholds', ['level', 'bound']),
    decisions: m.counter('brokel_manager_decisions_total', 'Decisions taken', ['level', 'action']),
    ticksSkipped: m.counter(
      'brokel_manager_ticks_skipped_total',
      'Monitoring slots skipped because the previous tick overran its interval',
    ),
    decisionLogErrors: m.counter(
      'brokel_manager_decision_log_errors_total',
      'Decision-log lines that could not be written',
    ),
    actionSeconds: m.histogram(
      'brokel_manager_action_seconds',
      'Duration of scaling actions',
      [0.5, 1, 2, 5, 10, 20, 60, 180],
      ['level', 'action', 'outcome'],
    ),
  };
  // Bounded label sets, every combination present at zero from the start.
  zeroLabels(
    metrics.decisions,
    LEVELS.flatMap((level) => ['add', 'remove', 'none'].map((action) => ({ level, action }))),
  );
  zeroLabels(
    metrics.replicas,
    LEVELS.flatMap((level) => ['booting', 'ready', 'draining', 'failed'].map((state) => ({ level, state }))),
  );
  return metrics;
}

export type ManagerMetrics = ReturnType<typeof managerMetrics>;
