/**
 * The connections that have not sent CONNECT yet (limits.maxPendingConnections). Each one is closed
 * after limits.connectTimeoutMs anyway [MQTT-3.1.0-1 leaves the time to the server], but without a
 * count they are bounded only by the fd limit: a flood of silent sockets would take every descriptor
 * and keep real clients out. Pure: the listener asks for room, the session settles its entry.
 */
export class PendingConnections<T> {
  private readonly pending = new Set<T>();
  /** Connections closed at once because the bound was reached (read on a scrape). */
  refusedTotal = 0;
  private unlogged = 0;
  private lastLogAt = Number.NEGATIVE_INFINITY;

  /** `max` 0: no bound. */
  constructor(
    private readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** Whether one more may wait for its CONNECT; when not, it is counted as refused. */
  hasRoom(): boolean {
    if (this.max === 0 || this.pending.size < this.max) return true;
    this.refusedTotal += 1;
    this.unlogged += 1;
    return false;
  }

  add(key: T): void {
    this.pending.add(key);
  }

  /** Its CONNECT came (or it closed): it no longer counts. */
  settle(key: T): void {
    this.pending.delete(key);
  }

  /**
   * The refusals since the last report, when one is due (at most one per `intervalMs`), so a flood
   * writes one log line every interval, not one per socket.
   */
  refusalsToLog(intervalMs = 10_000): number | undefined {
    if (this.unlogged === 0 || this.now() - this.lastLogAt < intervalMs) return undefined;
    const n = this.unlogged;
    this.unlogged = 0;
    this.lastLogAt = this.now();
    return n;
  }
}
