import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { DnsRegistry, OrchestratorRecord } from './dns-registry.ts';
import type { Replica } from './providers/cloud-provider.ts';

export interface DnsPublisherOptions {
  dns: DnsRegistry;
  log: Logger;
  /** Where this deployment's orchestrators are (config dns.site), for geo-dns's distance. */
  site?: OrchestratorRecord['location'];
}

/**
 * The orchestrators' records in geo-dns: where each is and how busy. A rebalance holds some (its source
 * out of answers, its target advertised idle); one taken out (being removed, or failed) is never
 * published again. A failed registry call is logged; the next tick publishes again.
 */
export class DnsPublisher {
  /** Orchestrators taken out of geo-dns (being removed, or failed): never published again. */
  private readonly leaving = new Set<string>();
  /** Orchestrators a rebalance holds in geo-dns: a source out of answers, a target advertised idle. */
  private readonly holds = new Map<string, 'source' | 'target'>();
  /** The load each orchestrator was last published with (to restore it when a hold ends). */
  private readonly loads = new Map<string, number>();

  constructor(private readonly o: DnsPublisherOptions) {}

  /** A rebalance holds this orchestrator in geo-dns (see holds); resolves once published. */
  async hold(replica: Replica, role: 'source' | 'target'): Promise<void> {
    this.holds.set(replica.id, role);
    await this.publish(replica, this.loads.get(replica.id) ?? 0);
  }

  async release(replica: Replica): Promise<void> {
    if (!this.holds.delete(replica.id)) return;
    await this.publish(replica, this.loads.get(replica.id) ?? 0);
  }

  /** Tells geo-dns where an orchestrator is and how busy; on failure, logs (the next tick retries). */
  async publish(replica: Replica, load: number): Promise<void> {
    if (replica.level !== 'orchestrator' || replica.state !== 'ready' || this.leaving.has(replica.id)) return;
    this.loads.set(replica.id, load);
    const hold = this.holds.get(replica.id);
    const record: OrchestratorRecord = {
      id: replica.id,
      host: replica.host,
      port: replica.port,
      state: hold === 'source' ? 'draining' : 'ready',
      load: hold === 'target' ? 0 : load,
      ...(this.o.site ? { location: this.o.site } : {}),
    };
    await this.o.dns.upsert(record).catch((err: unknown) => {
      this.o.log.warn({ orchestrator: replica.id, err: errorMessage(err) }, 'geo-dns registration failed');
    });
  }

  /** Takes an orchestrator out of geo-dns; on failure, logs (its state there will be stale). */
  async unpublish(id: string): Promise<void> {
    this.leaving.add(id); // a tick that read the list before now must not publish it again
    await this.o.dns.remove(id).catch((err: unknown) => {
      this.o.log.error({ orchestrator: id, err: errorMessage(err) }, 'geo-dns removal failed');
    });
  }
}
