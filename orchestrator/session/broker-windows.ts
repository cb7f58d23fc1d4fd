import { emptyMap, writableMap } from './lazy-collections.ts';

/**
 * One session's use of each broker's receive maximum: how many of its publishes a broker holds
 * unacknowledged, and the publishes waiting (first in, first out) for that broker to free a slot.
 */
export class BrokerWindows<T> {
  // Allocated on first use (lazy-collections.ts): most sessions never publish at QoS 1 or 2.
  private used = emptyMap<string, number>();
  private usedQos2 = emptyMap<string, number>();
  private waiting = emptyMap<string, T[]>();
  /** Items waiting, over all brokers. */
  waitingCount = 0;

  inUse(brokerId: string): number {
    return this.used.get(brokerId) ?? 0;
  }

  /** Of those, QoS 2 ones (a 3.1.1 broker has a smaller window for them). */
  inUseQos2(brokerId: string): number {
    return this.usedQos2.get(brokerId) ?? 0;
  }

  take(brokerId: string, qos2 = false): void {
    this.used = writableMap(this.used);
    if (qos2) this.usedQos2 = writableMap(this.usedQos2);
    this.used.set(brokerId, this.inUse(brokerId) + 1);
    if (qos2) this.usedQos2.set(brokerId, this.inUseQos2(brokerId) + 1);
  }

  /**
   * A count that falls to 0 stays, as 0, until the broker goes (takeWaiting): V8 gives a Map a new table
   * when a delete empties it, and a session with one publish in flight at a time emptied this one at
   * every message (id-table.ts says why such tables cost more than their bytes).
   */
  release(brokerId: string, qos2 = false): void {
    const n = this.inUse(brokerId);
    if (n > 0) this.used.set(brokerId, n - 1);
    if (!qos2) return;
    const q = this.inUseQos2(brokerId);
    if (q > 0) this.usedQos2.set(brokerId, q - 1);
  }

  /** The oldest item waiting for this broker, left on its queue. */
  peek(brokerId: string): T | undefined {
    return this.waiting.get(brokerId)?.[0];
  }

  /** How many items wait for this broker. */
  waitingFor(brokerId: string): number {
    return this.waiting.get(brokerId)?.length ?? 0;
  }

  hasWaiting(brokerId: string): boolean {
    return (this.waiting.get(brokerId)?.length ?? 0) > 0;
  }

  wait(brokerId: string, item: T): void {
    const queue = this.waiting.get(brokerId);
    if (queue) queue.push(item);
    else {
      this.waiting = writableMap(this.waiting);
      this.waiting.set(brokerId, [item]);
    }
    this.waitingCount += 1;
  }

  /** The oldest item waiting for this broker, taken off its queue. */
  next(brokerId: string): T | undefined {
    const queue = this.waiting.get(brokerId);
    const item = queue?.shift();
    if (queue?.length === 0) this.waiting.delete(brokerId);
    if (item !== undefined) this.waitingCount -= 1;
    return item;
  }

  /** Every item waiting for this broker (it went away), oldest first; its counts go if they are 0. */
  takeWaiting(brokerId: string): T[] {
    const queue = this.waiting.get(brokerId) ?? [];
    this.waiting.delete(brokerId);
    if (this.inUse(brokerId) === 0) this.used.delete(brokerId);
    if (this.inUseQos2(brokerId) === 0) this.usedQos2.delete(brokerId);
    this.waitingCount -= queue.length;
    return queue;
  }
}
