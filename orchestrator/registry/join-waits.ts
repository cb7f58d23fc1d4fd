/**
 * Per joining broker, the client ids its join replay skipped because a session of this replica was
 * *connecting* with that id (it claims the id at CONNECT, long before its CONNACK). Until each such
 * session either connects (it then joins the broker itself, and counts as lacking it until then) or
 * closes (the broker then gets the client's session from its record), the broker is not synced on
 * this replica: a connecting session is not among the connected ones the synced flag counts.
 * Pure bookkeeping; JoinReplays does the I/O.
 */
export class JoinWaits {
  private readonly byBroker = new Map<string, Set<string>>();

  /** The replay for `brokerId` skipped `clientId`, whose session here is connecting. */
  add(brokerId: string, clientId: string): void {
    let ids = this.byBroker.get(brokerId);
    if (!ids) {
      ids = new Set();
      this.byBroker.set(brokerId, ids);
    }
    ids.add(clientId);
  }

  /** Whether the broker still waits for a connecting session it skipped. */
  has(brokerId: string): boolean {
    return this.byBroker.has(brokerId);
  }

  /**
   * The session holding `clientId` here connected or closed: the brokers that waited for it (each
   * forgets it; the caller decides what each broker needs).
   */
  settle(clientId: string): string[] {
    const out: string[] = [];
    for (const [brokerId, ids] of this.byBroker) {
      if (!ids.delete(clientId)) continue;
      out.push(brokerId);
      if (ids.size === 0) this.byBroker.delete(brokerId);
    }
    return out;
  }

  /** The broker left the pool (or its join was undone): nothing to wait for. */
  cancel(brokerId: string): void {
    this.byBroker.delete(brokerId);
  }
}
