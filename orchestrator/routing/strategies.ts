import { ROUTING_STRATEGY_NAMES, type RoutingStrategyName } from '../../common/admin/contract.ts';
import { rendezvousOwner, retainedOwner } from '../../common/retained-owner.ts';

export type { RoutingStrategyName };
export { retainedOwner };
export const ROUTING_STRATEGIES: readonly RoutingStrategyName[] = ROUTING_STRATEGY_NAMES;

export interface RouteRequest {
  clientId: string;
  topic: string;
  retain: boolean;
  /** Brokers a publish may go to now: active, synced and connected for this session, in pool order. */
  candidates: readonly string[];
  /** least-outstanding: how many of this session's publishes a broker holds unacknowledged or queued. */
  outstanding?: (brokerId: string) => number;
}

/**
 * Picks the one broker a PUBLISH goes to (pure but for its own counter).
 * - round-robin: the Brokel model; spreads load, but two publishes of one client may overtake
 *   each other on different brokers.
 * - least-outstanding: spreads like round-robin, but to the broker holding the fewest of the
 *   session's publishes not yet acknowledged (join the shortest queue; ties in round-robin order).
 *   A broker that acknowledges slowly (CPU-bound, backlogged, or weaker than the others in a mixed
 *   pool) gets fewer: each broker's share follows its speed instead of 1/n, and no broker builds a
 *   backlog that holds the session's in-order acknowledgements back. QoS 0 publishes are never
 *   outstanding, so a QoS 0-only session routes exactly round-robin.
 * - client-affinity: every publish of one client to one broker: per-publisher order holds.
 * - topic-affinity: every publish on one topic to one broker: per-topic order holds for all publishers.
 * Retained publishes (and clears) always go to the topic's owner, so a topic has one retained value.
 * When the candidate set changes, affinity keys move only if their broker left (rendezvous hashing).
 */
export class Router {
  private counter = 0;

  constructor(readonly strategy: RoutingStrategyName) {}

  /** Round-robin's next position among `count` candidates (what route() picks, without a request object). */
  nextRoundRobin(count: number): number {
    const index = this.counter % count;
    this.counter = (this.counter + 1) % 1_000_000_007;
    return index;
  }

  /**
   * least-outstanding's position among `count` candidates, `load(i)` being candidate i's outstanding
   * publishes: the least loaded, the first found scanning from the position after the previous pick
   * (so equally loaded brokers take turns even when one of them is skipped).
   */
  leastOutstanding(count: number, load: (index: number) => number): number {
    const start = this.counter % count;
    let best = start;
    let bestLoad = load(start);
    for (let k = 1; k < count && bestLoad > 0; k++) {
      const i = (start + k) % count;
      const l = load(i);
      if (l < bestLoad) {
        best = i;
        bestLoad = l;
      }
    }
    this.counter = (best + 1) % count;
    return best;
  }

  route(request: RouteRequest): string | undefined {
    const { candidates } = request;
    if (candidates.length === 0) return undefined;
    if (request.retain) return retainedOwner(request.topic, candidates);
    switch (this.strategy) {
      case 'round-robin':
        return candidates[this.nextRoundRobin(candidates.length)];
      case 'least-outstanding': {
        const outstanding = request.outstanding ?? (() => 0);
        return candidates[
          this.leastOutstanding(candidates.length, (i) => outstanding(candidates[i] as string))
        ];
      }
      case 'client-affinity':
        return rendezvousOwner(`client:${request.clientId}`, candidates);
      case 'topic-affinity':
        return rendezvousOwner(`topic:${request.topic}`, candidates);
    }
  }
}

/** Brokers in the order they are tried as a client's home (the first reachable one holds the will). */
export function homeBrokerRanking(clientId: string, brokers: readonly string[]): string[] {
  const rest = [...brokers];
  const out: string[] = [];
  while (rest.length > 0) {
    const next = rendezvousOwner(`client:${clientId}`, rest);
    if (next === undefined) break;
    out.push(next);
    rest.splice(rest.indexOf(next), 1);
  }
  return out;
}
