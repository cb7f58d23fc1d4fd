import type { IPublishPacket } from 'mqtt-packet';
import type { RetainedFence } from '../pool/retained-fence.ts';
import { emptyArray, writableArray } from './lazy-collections.ts';

interface Held<E> {
  packet: IPublishPacket;
  /** The QoS 1/2 flow it belongs to; undefined for QoS 0. */
  entry: E | undefined;
  /**
   * A QoS 0 one's arrival (performance.now(), ms) when it has an MQTT 5 Message Expiry Interval, else -1
   * (a QoS 1/2 flow keeps its own: InFlight.arrivedAt).
   */
  arrivedAt: number;
}

/** Where the pool's current retained fence is read (the BrokerPool: its `retainedFence` getter). */
export interface RetainedFenceSource {
  readonly retainedFence: RetainedFence;
}

/**
 * One session's retained publishes held by a pool fence while the manager moves retained messages
 * (docs/retained-moves.md): kept in arrival order, bounded by payload bytes (over the bound the client is
 * no longer read; its QoS 1/2 acknowledgements wait anyway until the publish reaches its broker), and
 * handed back, still in arrival order, once the fence no longer covers their topic.
 * Only retained publishes come here; the check for the rest is one flag test in the publish flow.
 */
export class RetainedHold<E> {
  private queue: Array<Held<E>> = emptyArray();
  private heldBytes = 0;

  constructor(
    /** Read at each check (an object, not a closure per session). */
    private readonly fences: RetainedFenceSource,
    readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.queue.length;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  /** Over the byte bound: the session stops reading its client until a release. */
  get full(): boolean {
    return this.heldBytes >= this.maxBytes;
  }

  /** A retained publish on this topic must wait: a fence covers it, or an earlier one on it still waits. */
  holds(topic: string): boolean {
    const fence = this.fences.retainedFence;
    if (fence.open && this.queue.length === 0) return false;
    return fence.holder(topic) !== undefined || this.queue.some((h) => h.packet.topic === topic);
  }

  add(packet: IPublishPacket, entry: E | undefined, arrivedAt = -1): void {
    this.queue = writableArray(this.queue);
    this.queue.push({ packet, entry, arrivedAt });
    this.heldBytes += packet.payload.length;
  }

  /** The held publishes the fence no longer covers, oldest first; the others stay, in order. */
  release(): Array<Held<E>> {
    const fence = this.fences.retainedFence;
    const out: Array<Held<E>> = [];
    const stillHeld = new Set<string>();
    for (let i = 0; i < this.queue.length; ) {
      const h = this.queue[i] as Held<E>;
      if (stillHeld.has(h.packet.topic) || fence.holder(h.packet.topic) !== undefined) {
        stillHeld.add(h.packet.topic); // per-topic order: nothing overtakes a publish still held
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.heldBytes -= h.packet.payload.length;
      out.push(h);
    }
    return out;
  }
}

/**
 * Retained QoS 1/2 flows on topics `fence` holds for `brokerId` that went out before the fence and are
 * not finished at their broker (sent, or waiting for a slot there): the manager copies only at 0.
 */
export function unsettledRetained(
  flows: Iterable<{ packet: IPublishPacket; fenced?: boolean; brokerId: string; queuedFor?: string }>,
  fence: RetainedFence,
  brokerId: string,
): number {
  let n = 0;
  for (const f of flows) {
    if (!f.packet.retain || f.fenced || (f.brokerId === '' && f.queuedFor === undefined)) continue;
    if (fence.holder(f.packet.topic) === brokerId) n += 1;
  }
  return n;
}
