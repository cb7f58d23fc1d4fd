import type { DesiredBroker, OrchestratorStatus } from '../common/admin/contract.ts';
import type { EvictionStatus, EvictRequest } from '../common/eviction-contract.ts';
import { JsonClient } from '../common/http/json-client.ts';

/**
 * The manager's side of an orchestrator's admin API (undici). Every call has a timeout; errors are
 * HttpErrors carrying the status (0 when there was no answer) and whether a retry can help.
 */
export class OrchestratorClient extends JsonClient {
  status(): Promise<OrchestratorStatus> {
    return this.call('GET', '/status');
  }

  setBrokers(
    brokers: readonly DesiredBroker[],
  ): Promise<{ added: string[]; removed: string[]; changed: string[]; status: OrchestratorStatus }> {
    return this.call('PUT', '/brokers', { brokers });
  }

  drain(serverReference?: string, graceMs?: number): Promise<{ draining: boolean }> {
    return this.call('POST', '/drain', {
      ...(serverReference === undefined ? {} : { serverReference }),
      ...(graceMs === undefined ? {} : { graceMs }),
    });
  }

  /** Sends sessions away at a bounded rate (rebalance, evacuation); replaces an eviction under way. */
  evict(request: EvictRequest): Promise<EvictionStatus> {
    return this.call('POST', '/evict', request);
  }
}
