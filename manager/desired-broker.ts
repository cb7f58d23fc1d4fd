import type { BrokerState, DesiredBroker } from '../common/admin/contract.ts';
import { listsRetainedToWildcard } from '../templates/registry.ts';
import type { Replica } from './providers/cloud-provider.ts';

/**
 * A broker replica's entry in the pool the manager PUTs to every orchestrator (pure). A broker whose
 * template lists no retained message to a wildcard subscription (RabbitMQ 3.10) says so, and the
 * orchestrators do not read their session registry from it: it would answer with nothing, and a
 * saturated one not even the reader's CONNACK (a join waited 3 × 5 s for it).
 */
export function desiredBroker(broker: Replica, state: BrokerState, retainedFence: boolean): DesiredBroker {
  return {
    url: broker.url,
    state,
    ...(retainedFence ? { retainedFence: true } : {}),
    ...(listsRetainedToWildcard(broker.template) ? {} : { retainedWildcardRead: false }),
  };
}
