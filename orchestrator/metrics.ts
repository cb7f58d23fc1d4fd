import { createServiceMetrics, type ServiceMetrics } from '../common/metrics.ts';

/** The orchestrator's Prometheus metrics (docs/metrics.md lists them, generated). */
export function orchestratorMetrics(): ServiceMetrics & {
  sessions: ReturnType<ServiceMetrics['gauge']>;
  connections: ReturnType<ServiceMetrics['counter']>;
  published: ReturnType<ServiceMetrics['counter']>;
  delivered: ReturnType<ServiceMetrics['counter']>;
  badInput: ReturnType<ServiceMetrics['counter']>;
} {
  const m = createServiceMetrics({ defaultMetrics: true });
  return {
    ...m,
    sessions: m.gauge('brokel_orchestrator_client_sessions', 'Client sessions connected now'),
    connections: m.counter('brokel_orchestrator_connections_total', 'Client connections accepted'),
    published: m.counter('brokel_orchestrator_published_total', 'Client publishes routed to a broker', [
      'broker',
    ]),
    delivered: m.counter('brokel_orchestrator_delivered_total', 'Deliveries relayed from a broker', [
      'broker',
    ]),
    badInput: m.counter(
      'brokel_orchestrator_closed_bad_input_total',
      'Sessions closed for malformed or oversized input',
    ),
  };
}
