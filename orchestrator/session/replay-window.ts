import type { IPublishPacket } from 'mqtt-packet';
import { emptyMap, writableMap } from './lazy-collections.ts';

interface Acked {
  packet: IPublishPacket;
  at: number;
  /** A retained publish's sequence number (retained-order.ts); 0 for the others. */
  seq: number;
}

/**
 * QoS 1 publishes each broker acknowledged recently (pure; the caller passes the clock), kept so
 * that, if the broker dies, those it may not have delivered yet are sent again through another.
 *
 * Which ones it may not have delivered (docs/acknowledgements-and-qos.md): Mosquitto writes a
 * publish to every subscriber whose in-flight window has room *before* it sends the PUBACK, so
 * only subscribers lagging behind at that broker (window full, the rest queued in its memory) can
 * lose it. The window is the lag tolerated; each replayed publish is a duplicate for every
 * subscriber that was keeping up. It is counted back from the broker's last acknowledgement, not
 * from when its death is noticed: a broker that hangs is noticed a keepalive later.
 */
export class ReplayWindow {
  /** Allocated on the first acknowledged QoS 1 publish (lazy-collections.ts). */
  private byBroker = emptyMap<string, { items: Acked[]; head: number }>();

  constructor(
    private readonly windowMs: number,
    /** Per broker: the oldest go first beyond it. */
    private readonly maxMessages: number,
  ) {}

  get enabled(): boolean {
    return this.maxMessages > 0 && this.windowMs > 0;
  }

  remember(brokerId: string, packet: IPublishPacket, now: number, seq = 0): void {
    if (!this.enabled) return;
    let list = this.byBroker.get(brokerId);
    if (!list) {
      list = { items: [], head: 0 };
      this.byBroker = writableMap(this.byBroker);
      this.byBroker.set(brokerId, list);
    }
    list.items.push({ packet, at: now, seq });
    const cutoff = now - this.windowMs;
    while (
      list.items.length - list.head > this.maxMessages ||
      (list.items[list.head]?.at ?? Number.POSITIVE_INFINITY) < cutoff
    ) {
      list.items[list.head] = undefined as unknown as Acked;
      list.head += 1;
    }
    if (list.head >= 1024 && list.head * 2 >= list.items.length) {
      list.items = list.items.slice(list.head);
      list.head = 0;
    }
  }

  /**
   * The broker died: its publishes acknowledged within the window before its last acknowledgement, in
   * acknowledgement order, but those `skip` refuses (a retained one superseded since: retained-order.ts).
   */
  take(brokerId: string, skip?: (packet: IPublishPacket, seq: number) => boolean): IPublishPacket[] {
    const list = this.byBroker.get(brokerId);
    this.byBroker.delete(brokerId);
    if (!list || list.head >= list.items.length) return [];
    const last = list.items[list.items.length - 1]?.at ?? 0;
    const out: IPublishPacket[] = [];
    for (let i = list.head; i < list.items.length; i++) {
      const r = list.items[i];
      if (r && r.at >= last - this.windowMs && !(r.seq > 0 && skip?.(r.packet, r.seq))) out.push(r.packet);
    }
    return out;
  }

  /** Topics of the retained publishes kept for replay (what RetainedOrder must still know). */
  *retainedTopics(): Iterable<string> {
    for (const list of this.byBroker.values())
      for (let i = list.head; i < list.items.length; i++) {
        const r = list.items[i];
        if (r && r.seq > 0) yield r.packet.topic;
      }
  }

  /** A broker left the pool in order (drained): nothing of it will be replayed. */
  forget(brokerId: string): void {
    this.byBroker.delete(brokerId);
  }
}
