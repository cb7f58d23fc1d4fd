/**
 * Where the manager registers orchestrators for clients to find (the geo-dns part). Until geo-dns
 * lands this is an interface with a no-op implementation.
 */
export interface OrchestratorRecord {
  id: string;
  host: string;
  port: number;
  state: 'ready' | 'draining';
  load: number;
}

export interface DnsRegistry {
  upsert(record: OrchestratorRecord): Promise<void>;
  remove(id: string): Promise<void>;
}

export class NoDnsRegistry implements DnsRegistry {
  async upsert(): Promise<void> {}
  async remove(): Promise<void> {}
}
