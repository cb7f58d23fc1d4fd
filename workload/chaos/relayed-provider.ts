import type { CloudProvider, CreateOptions, Level, Replica } from '../../manager/providers/cloud-provider.ts';
import { type FaultRelay, openFaultRelay } from './fault-relay.ts';

/** A create the provider was asked for, and when it was ready (for duplicate-action checks). */
export interface CreateRecord {
  id: string;
  level: Level;
  requestedAt: number;
  readyAt: number | undefined;
  /** Destroyed, or seen failed. */
  goneAt: number | undefined;
}

/**
 * A cloud provider that puts a fault relay in front of every broker (the chaos run, issue 17): the
 * replicas it reports give each broker's address as its relay's (on the broker's own loopback
 * address, ephemeral port), so the manager hands the orchestrators relay addresses in their pool and
 * every orchestrator→broker link crosses a relay the run can delay, throttle, reset or blackhole. The
 * local provider underneath and the replicas themselves are unchanged. Orchestrators pass through.
 */
export class RelayedProvider implements CloudProvider {
  readonly kind: string;
  readonly creates: CreateRecord[] = [];
  private readonly relays = new Map<string, Promise<FaultRelay>>();

  /**
   * `beforeDestroy`: called with a replica's id before it is destroyed (the run keeps its log: a
   * destroyed replica's folder, log included, is removed, and a loss is found in the orchestrators' logs).
   */
  constructor(
    private readonly inner: CloudProvider,
    private readonly beforeDestroy: (id: string) => Promise<void> = async () => undefined,
  ) {
    this.kind = inner.kind;
  }

  /** The relay of a broker, opened on first sight. */
  relayOf(broker: Replica): Promise<FaultRelay> {
    let relay = this.relays.get(broker.id);
    if (!relay) {
      relay = openFaultRelay({ host: broker.host, port: broker.port }, broker.host);
      this.relays.set(broker.id, relay);
    }
    return relay;
  }

  /** Relays of the brokers seen so far, by replica id. */
  async openRelays(): Promise<Map<string, FaultRelay>> {
    const out = new Map<string, FaultRelay>();
    for (const [id, relay] of this.relays) out.set(id, await relay);
    return out;
  }

  private async outward(r: Replica): Promise<Replica> {
    if (r.level !== 'broker') return r;
    const relay = await this.relayOf(r);
    const host = relay.host;
    return { ...r, port: relay.port, url: `mqtt://${host}:${relay.port}` };
  }

  async list(): Promise<Replica[]> {
    const replicas = await this.inner.list();
    const now = Date.now();
    for (const r of replicas) {
      const record = this.recordOf(r.id);
      if (!record) continue;
      // The provider's own ready time: a replica that became ready while no manager listed counts then.
      if (r.state !== 'booting') record.readyAt ??= r.readyAt ?? now;
      if (r.state === 'failed') record.goneAt ??= now;
    }
    return Promise.all(replicas.map((r) => this.outward(r)));
  }

  async create(level: Level, template: string, options?: CreateOptions): Promise<Replica> {
    const requestedAt = Date.now();
    const replica = await this.inner.create(level, template, options);
    this.creates.push({ id: replica.id, level, requestedAt, readyAt: undefined, goneAt: undefined });
    return this.outward(replica);
  }

  async waitReady(id: string, timeoutMs: number): Promise<Replica> {
    const replica = await this.inner.waitReady(id, timeoutMs);
    const record = this.recordOf(id);
    if (record) record.readyAt ??= Date.now();
    return this.outward(replica);
  }

  /**
   * The latest create of a replica id: the provider reuses the number of a replica that is gone
   * (`o2` again after `o2` died), and the first record's readiness must not stand in for the second's
   * (seed 9 counted two duplicate actions that way).
   */
  private recordOf(id: string): CreateRecord | undefined {
    return this.creates.findLast((c) => c.id === id);
  }

  /** The run killed this replica at `at` (it is gone from then on, whether or not anyone listed it). */
  noteKilled(id: string, at: number): void {
    const record = this.recordOf(id);
    if (record) record.goneAt ??= at;
  }

  markDraining(id: string): Promise<void> {
    return this.inner.markDraining(id);
  }

  async destroy(id: string): Promise<void> {
    await this.beforeDestroy(id).catch(() => undefined);
    await this.inner.destroy(id);
    const record = this.recordOf(id);
    if (record) record.goneAt ??= Date.now();
    const relay = this.relays.get(id);
    this.relays.delete(id);
    await (await relay)?.close();
  }

  cpu(ids: readonly string[]): Promise<Map<string, number | undefined>> {
    return this.inner.cpu(ids);
  }

  async stop(): Promise<void> {
    for (const r of await this.inner.list().catch(() => []))
      await this.beforeDestroy(r.id).catch(() => undefined);
    await this.inner.stop();
    await this.closeRelays();
  }

  async close(): Promise<void> {
    await this.inner.close();
    await this.closeRelays();
  }

  private async closeRelays(): Promise<void> {
    const relays = [...this.relays.values()];
    this.relays.clear();
    await Promise.all(relays.map(async (r) => (await r).close()));
  }
}

/**
 * Creates of a level asked for while an earlier create of that level was still booting (neither ready
 * nor gone), pure: the manager keeps one action in flight per level, across its own restarts too.
 */
export function overlappingCreates(creates: readonly CreateRecord[]): CreateRecord[] {
  return creates.filter((c) =>
    creates.some(
      (e) =>
        e !== c &&
        e.level === c.level &&
        e.requestedAt < c.requestedAt &&
        (e.readyAt ?? Number.POSITIVE_INFINITY) > c.requestedAt &&
        (e.goneAt ?? Number.POSITIVE_INFINITY) > c.requestedAt,
    ),
  );
}
