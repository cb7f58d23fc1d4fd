import { JsonClient } from '../common/http/json-client.ts';
import type { OrchestratorRecord } from '../common/orchestrator-record.ts';

/**
 * Where the manager registers orchestrators for clients to find (geo-dns). Co-located, it is
 * geo-dns's own directory (same shape, passed in by `brokel up`); otherwise the HTTP registry of a
 * standalone `brokel dns`. The manager never imports geo-dns: the shape is the contract.
 */
export type { OrchestratorRecord };

export interface DnsRegistry {
  upsert(record: OrchestratorRecord): Promise<void>;
  remove(id: string): Promise<void>;
}

/** No geo-dns (dns.enabled: false): orchestrators are found by their addresses only. */
export class NoDnsRegistry implements DnsRegistry {
  async upsert(): Promise<void> {}
  async remove(): Promise<void> {}
}

/** A standalone geo-dns's registry API (`PUT` / `DELETE /records/:id`, bearer token). */
export class HttpDnsRegistry extends JsonClient implements DnsRegistry {
  async upsert(record: OrchestratorRecord): Promise<void> {
    await this.call('PUT', `/records/${encodeURIComponent(record.id)}`, record);
  }

  async remove(id: string): Promise<void> {
    await this.call('DELETE', `/records/${encodeURIComponent(id)}`);
  }
}
