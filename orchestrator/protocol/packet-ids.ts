/**
 * A packet identifier space (1..65535) with its in-use set (pure). One per direction per connection:
 * the orchestrator allocates downstream ids for deliveries it relays to a client, and upstream ids
 * for publishes it forwards to each broker. [MQTT-2.3.1-1]: non-zero; [MQTT-2.3.1-2]: unused.
 */
export class PacketIdSpace<V> {
  private readonly used = new Map<number, V>();
  private next = 1;

  get size(): number {
    return this.used.size;
  }

  /** Allocates a free id bound to value, or undefined when all 65535 are in use. */
  allocate(value: V): number | undefined {
    if (this.used.size >= 65_535) return undefined;
    while (this.used.has(this.next)) this.next = this.next === 65_535 ? 1 : this.next + 1;
    const id = this.next;
    this.used.set(id, value);
    this.next = id === 65_535 ? 1 : id + 1;
    return id;
  }

  get(id: number): V | undefined {
    return this.used.get(id);
  }

  set(id: number, value: V): void {
    this.used.set(id, value);
  }

  release(id: number): V | undefined {
    const value = this.used.get(id);
    this.used.delete(id);
    return value;
  }

  entries(): IterableIterator<[number, V]> {
    return this.used.entries();
  }

  clear(): void {
    this.used.clear();
  }
}
