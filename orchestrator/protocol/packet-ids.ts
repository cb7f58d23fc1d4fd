import { IdTable } from './id-table.ts';

/**
 * A packet identifier space (1..65535) with its in-use set (pure). One per direction per connection:
 * the orchestrator allocates downstream ids for deliveries it relays to a client, and upstream ids
 * for publishes it forwards to each broker. [MQTT-2.3.1-1]: non-zero; [MQTT-2.3.1-2]: unused.
 * The set is an IdTable (id-table.ts): no table until the first id, none reallocated per message.
 */
export class PacketIdSpace<V> {
  /** Made on the first id (an idle link or client never needs one): see writable(). */
  private used: IdTable<V> | undefined;
  private next = 1;

  get size(): number {
    return this.used?.size ?? 0;
  }

  private writable(): IdTable<V> {
    this.used ??= new IdTable<V>();
    return this.used;
  }

  /** Allocates a free id bound to value, or undefined when all 65535 are in use. */
  allocate(value: V): number | undefined {
    const used = this.writable();
    if (used.size >= 65_535) return undefined;
    while (used.has(this.next)) this.next = this.next === 65_535 ? 1 : this.next + 1;
    const id = this.next;
    used.set(id, value);
    this.next = id === 65_535 ? 1 : id + 1;
    return id;
  }

  get(id: number): V | undefined {
    return this.used?.get(id);
  }

  set(id: number, value: V): void {
    this.writable().set(id, value);
  }

  release(id: number): V | undefined {
    return this.used?.delete(id);
  }

  /** A snapshot, in the order the ids were taken. */
  entries(): Array<[number, V]> {
    return this.used?.entries() ?? [];
  }

  clear(): void {
    this.used?.clear();
  }

  /** On the session's tick: the table gives back what it no longer needs (IdTable.trim). */
  trim(): void {
    this.used?.trim();
  }
}
