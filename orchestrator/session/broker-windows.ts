/**
 * One session's use of each broker's receive maximum: how many of its publishes a broker holds
 * unacknowledged, and the publishes waiting (first in, first out) for that broker to free a slot.
 */
export class BrokerWindows<T> {
  private readonly used = new Map<string, number>();
  private readonly waiting = new Map<string, T[]>();
  /** Items waiting, over all brokers. */
  waitingCount = 0;

  inUse(brokerId: string): number {
    return this.used.get(brokerId) ?? 0;
  }

  take(brokerId: string): void {
    this.used.set(brokerId, this.inUse(brokerId) + 1);
  }

  release(brokerId: string): void {
    const n = this.inUse(brokerId) - 1;
    if (n > 0) this.used.set(brokerId, n);
    else this.used.delete(brokerId);
  }

  hasWaiting(brokerId: string): boolean {
    return (this.waiting.get(brokerId)?.length ?? 0) > 0;
  }

  wait(brokerId: string, item: T): void {
    const queue = this.waiting.get(brokerId);
    if (queue) queue.push(item);
    else this.waiting.set(brokerId, [item]);
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

  /** Every item waiting for this broker (it went away), oldest first. */
  takeWaiting(brokerId: string): T[] {
    const queue = this.waiting.get(brokerId) ?? [];
    this.waiting.delete(brokerId);
    this.waitingCount -= queue.length;
    return queue;
  }
}
