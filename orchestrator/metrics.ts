import { createServiceMetrics, type ServiceMetrics } from '../common/metrics.ts';
import { Counter, Gauge } from '../common/prom.ts';
import type { ProbeAnswer } from './registry/record-probes.ts';

/** Per-broker message counts, kept as plain numbers on the hot path and read at scrape time. */
export interface BrokerCounts {
  id: string;
  published: number;
  delivered: number;
  expired: number;
}

/**
 * The orchestrator's Prometheus metrics (docs/metrics.md lists them, generated). The per-message counters are plain
 * numbers (`counts()`, the pool's brokers) that prom-client reads through `collect` on a scrape: an
 * `inc()` per message cost label hashing on the hot path.
 */
export interface OrchestratorReadings {
  /** The pool's brokers and their message counts. */
  counts: () => Iterable<BrokerCounts>;
  /** The CONNECT gate (undefined, or absent: none yet): CONNECTs waiting, and refused. */
  connects?: () => { queued: number; refusedTotal: number } | undefined;
  /** Connections that have not sent CONNECT yet, and those refused for the bound. */
  pending?: () => { size: number; refusedTotal: number } | undefined;
  /** The session registry's probes, by answer. */
  probes?: () => Readonly<Record<ProbeAnswer, number>> | undefined;
  /** Subscribers' PUBACKs held, and the links that stopped holding. */
  heldAcks?: () => { heldTotal: number; stopsTotal: number } | undefined;
  /** Client publishes whose Message Expiry Interval ran out here. */
  publishesExpired?: () => number;
  /** QoS 0 publishes sent round a full broker, and client reads paused for room. */
  qos0Room?: () => { detours: number; pauses: number };
}

export function orchestratorMetrics(read: OrchestratorReadings): ServiceMetrics & {
  sessions: ReturnType<ServiceMetrics['gauge']>;
  connections: ReturnType<ServiceMetrics['counter']>;
  published: Counter<'broker'>;
  delivered: Counter<'broker'>;
  expired: Counter<'broker'>;
  badInput: ReturnType<ServiceMetrics['counter']>;
  takenOver: ReturnType<ServiceMetrics['counter']>;
} {
  const m = createServiceMetrics({ defaultMetrics: true });
  const counts = read.counts;
  const connects = read.connects ?? (() => undefined);
  const pending = read.pending ?? (() => undefined);
  const probes = read.probes ?? (() => undefined);
  const heldAcks = read.heldAcks ?? (() => undefined);
  const publishesExpired = read.publishesExpired ?? (() => 0);
  const qos0Room = read.qos0Room ?? (() => ({ detours: 0, pauses: 0 }));
  const perBroker = (
    name: string,
    help: string,
    field: 'published' | 'delivered' | 'expired',
  ): Counter<'broker'> =>
    new Counter({
      name,
      help,
      labelNames: ['broker'],
      registers: [m.registry],
      collect() {
        // The series follow the pool: a removed broker's go, a new one's start at zero.
        this.reset();
        for (const b of counts()) this.inc({ broker: b.id }, b[field]);
      },
    });
  // Numbers kept elsewhere as plain fields, read on a scrape like the per-broker counts.
  const readGauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [m.registry],
      collect() {
        this.set(read());
      },
    });
  const readCounter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [m.registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  // The connect gate's (connect-gate.ts).
  readGauge(
    'brokel_orchestrator_connects_queued',
    'Client CONNECTs waiting for their turn at limits.connectsPerSecond',
    () => connects()?.queued ?? 0,
  );
  readCounter(
    'brokel_orchestrator_connects_refused_total',
    'Client CONNECTs refused because the connect queue was full (CONNACK 0x9F / 3)',
    () => connects()?.refusedTotal ?? 0,
  );
  // Sockets that have not sent CONNECT yet (pending-connections.ts).
  readGauge(
    'brokel_orchestrator_pending_connections',
    'Client connections that have not sent CONNECT yet (at most limits.maxPendingConnections)',
    () => pending()?.size ?? 0,
  );
  readCounter(
    'brokel_orchestrator_pending_connections_refused_total',
    'Client connections closed at once because limits.maxPendingConnections had not sent CONNECT yet',
    () => pending()?.refusedTotal ?? 0,
  );
  // Subscribers' PUBACKs held for one write per broker link (session/held-acks.ts).
  readCounter(
    'brokel_orchestrator_acks_held_total',
    'PUBACKs relayed to brokers that waited (limits.ackHoldMs) to leave with others on their link',
    () => heldAcks()?.heldTotal ?? 0,
  );
  readCounter(
    'brokel_orchestrator_ack_hold_stops_total',
    'Times a broker link stopped holding PUBACKs for 10 s because its broker waited for them (a small in-flight window)',
    () => heldAcks()?.stopsTotal ?? 0,
  );
  // Client publishes that waited here for a broker past their expiry (session/message-expiry.ts).
  readCounter(
    'brokel_orchestrator_publishes_expired_total',
    'Client publishes sent to no broker because their Message Expiry Interval ran out while they waited here for one (MQTT 5)',
    publishesExpired,
  );
  // QoS 0 publishes round brokers that do not keep up (session/publish-routing.ts).
  readCounter(
    'brokel_orchestrator_qos0_detours_total',
    "QoS 0 publishes sent to another broker than the routing strategy's pick, whose link's write buffer was full (round-robin, least-outstanding)",
    () => qos0Room().detours,
  );
  readCounter(
    'brokel_orchestrator_room_pauses_total',
    'Times a client stopped being read because every broker its QoS 0 publishes could go to had a full write buffer',
    () => qos0Room().pauses,
  );
  // The registry's probes at clean starts (record-probes.ts).
  new Counter({
    name: 'brokel_orchestrator_registry_probes_total',
    help: 'Registry probes of a clean start, by answer: none (that broker is skipped), held or unknown (every broker is reached)',
    labelNames: ['answer'],
    registers: [m.registry],
    collect() {
      this.reset();
      const answered = probes();
      for (const answer of ['none', 'held', 'unknown'] as const)
        this.inc({ answer }, answered?.[answer] ?? 0);
    },
  });
  return {
    ...m,
    sessions: m.gauge('brokel_orchestrator_client_sessions', 'Client sessions connected now'),
    connections: m.counter('brokel_orchestrator_connections_total', 'Client connections accepted'),
    published: perBroker(
      'brokel_orchestrator_published_total',
      'Client publishes routed to a broker',
      'published',
    ),
    delivered: perBroker(
      'brokel_orchestrator_delivered_total',
      'Deliveries relayed from a broker',
      'delivered',
    ),
    expired: perBroker(
      'brokel_orchestrator_deliveries_expired_total',
      'Deliveries from a broker not sent because their Message Expiry Interval ran out while they waited for their client (MQTT 5)',
      'expired',
    ),
    badInput: m.counter(
      'brokel_orchestrator_closed_bad_input_total',
      'Sessions closed for malformed or oversized input',
    ),
    takenOver: m.counter(
      'brokel_orchestrator_sessions_taken_over_total',
      "Sessions ended because their client connected again: `by` here (this replica), replica (another replica's claim) or broker (its closes)",
      ['by'],
    ),
  };
}
