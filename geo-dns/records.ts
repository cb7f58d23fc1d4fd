import { isIP } from 'node:net';
import { z } from 'zod';
import { validate } from '../common/config/load.ts';
import { geoLocationSchema } from '../common/config/schema.ts';
import type { OrchestratorRecord } from '../common/orchestrator-record.ts';

export type { OrchestratorRecord };

export const orchestratorRecordSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'is not a replica id'),
  host: z.string().refine((h) => isIP(h) !== 0, 'is not an IPv4 or IPv6 address'),
  port: z.number().int().min(1).max(65_535),
  state: z.enum(['ready', 'draining']),
  load: z.number().min(0).max(1000),
  location: geoLocationSchema.optional(),
});

/**
 * The orchestrators geo-dns answers with. The manager keeps it current: in-process through this
 * object (it is the manager's DnsRegistry), or through the HTTP API of a standalone server.
 */
export class OrchestratorDirectory {
  private readonly records = new Map<string, OrchestratorRecord>();
  /** Bumped on every change: the SOA serial. */
  private changes = 0;

  constructor(private readonly onChange: (records: OrchestratorRecord[]) => void = () => undefined) {}

  /** Adds or replaces a record; a malformed one is refused with a ConfigError naming the field. */
  async upsert(record: OrchestratorRecord): Promise<void> {
    const checked = validate(orchestratorRecordSchema, record, 'orchestrator record') as OrchestratorRecord;
    this.records.set(checked.id, { ...checked });
    this.changes += 1;
    this.onChange(this.list());
  }

  async remove(id: string): Promise<void> {
    if (!this.records.delete(id)) return;
    this.changes += 1;
    this.onChange(this.list());
  }

  list(): OrchestratorRecord[] {
    return [...this.records.values()];
  }

  get version(): number {
    return this.changes;
  }
}
