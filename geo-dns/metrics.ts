import { createServiceMetrics, zeroLabels } from '../common/metrics.ts';
import { Counter } from '../common/prom.ts';
import { RCODE, rcodeName } from './answer.ts';
import { AnswerTally } from './answer-tally.ts';

const TYPES = ['A', 'AAAA', 'NS', 'SOA', 'ANY', 'OTHER', 'NONE'] as const;

/** Query types as metric labels: the ones geo-dns serves, everything else as OTHER (bounded). */
export function typeLabel(qtype: string): string {
  return (TYPES as readonly string[]).includes(qtype) ? qtype : 'OTHER';
}

export function dnsMetrics(tally = new AnswerTally()) {
  const m = createServiceMetrics({ defaultMetrics: false });
  const queries = m.counter(
    'brokel_dns_queries_total',
    'DNS queries answered, by type, rcode and transport',
    ['type', 'rcode', 'transport'],
  );
  const rcodes = Object.values(RCODE).map(rcodeName);
  zeroLabels(
    queries,
    TYPES.flatMap((type) =>
      rcodes.flatMap((rcode) => ['udp', 'tcp'].map((transport) => ({ type, rcode, transport }))),
    ),
  );
  return {
    registry: m.registry,
    queries,
    dropped: m.counter('brokel_dns_dropped_total', 'Packets not answered (unparseable, or responses)', [
      'transport',
    ]),
    latency: m.histogram(
      'brokel_dns_answer_duration_seconds',
      'Time from a parsed query to its answer being handed to the socket',
      [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
      ['transport'],
    ),
    records: m.gauge('brokel_dns_registered_orchestrators', 'Orchestrator records, by state', ['state']),
    /** Counted on the query path as plain numbers; the counter below reads them on a scrape. */
    tally,
    answers: new Counter({
      name: 'brokel_dns_answers_total',
      help: 'Answers to the service name, by the region the client was placed in (ECS or source address) and the orchestrator answered first (none: no orchestrator to give)',
      labelNames: ['client_region', 'orchestrator'],
      registers: [m.registry],
      collect() {
        // The series follow the directory: a removed orchestrator's go (AnswerTally.keepOnly).
        this.reset();
        for (const r of tally.rows())
          this.inc({ client_region: r.clientRegion, orchestrator: r.orchestrator }, r.answers);
      },
    }),
  };
}

export type DnsMetrics = ReturnType<typeof dnsMetrics>;
