import { Buffer } from 'node:buffer';
import type { IPublishPacket } from 'mqtt-packet';
import { type KeptFrames, KeptSlab } from '../protocol/kept-frames.ts';
import type { RawPublish } from '../protocol/raw-frame.ts';
import { readFastPacket, TopicCache } from '../protocol/raw-frame.ts';
import { asRead, forwardable } from '../protocol/raw-write.ts';
import { KeptRing } from './kept-ring.ts';
import { emptyMap, writableMap } from './lazy-collections.ts';

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
  private byBroker = emptyMap<string, KeptRing>();

  constructor(
    private readonly windowMs: number,
    /** Per broker: the oldest go first beyond it. */
    private readonly maxMessages: number,
    /** Where frames are kept (kept-frames.ts); without it, each in a Buffer of its own. */
    private readonly frames?: KeptFrames,
  ) {}

  /** Protocol level of the frames kept (a frame does not say it): the session's client's, one per session. */
  private frameVersion: 4 | 5 | undefined;

  get enabled(): boolean {
    return this.maxMessages > 0 && this.windowMs > 0;
  }

  remember(brokerId: string, packet: IPublishPacket, now: number, seq = 0): void {
    if (!this.enabled) return;
    let list = this.byBroker.get(brokerId);
    if (!list) {
      list = new KeptRing();
      this.byBroker = writableMap(this.byBroker);
      this.byBroker.set(brokerId, list);
    }
    // Those past the window go first, so that a ring the size of the window takes the new one.
    const cutoff = now - this.windowMs;
    while (list.count > 0 && list.at(0) < cutoff) list.shift();
    const item = this.keepable(packet, seq);
    if (!Buffer.isBuffer(item)) list.push(item, 0, 0, now, seq);
    else this.keepFrame(list, item, (packet as { raw?: RawPublish }).raw?.slab, now, seq);
    while (list.count > this.maxMessages) list.shift();
  }

  /**
   * A frame kept: where it already is when the reader copied it into a slab of the store (kept-frames.ts:
   * no second copy), else copied into one, else (no store, or too large) a Buffer of its own, never a
   * view of a slab that nothing would move it out of.
   */
  private keepFrame(
    list: KeptRing,
    frame: Buffer,
    slab: KeptSlab | undefined,
    now: number,
    seq: number,
  ): void {
    const frames = this.frames;
    if (frames !== undefined && slab !== undefined) {
      list.push(slab, frame.byteOffset - slab.bytes.byteOffset, frame.length, now, seq);
      return;
    }
    const off = frames ? frames.keep(frame, now) : -1;
    if (off >= 0) list.push(frames?.last as KeptSlab, off, frame.length, now, seq);
    else if (slab === undefined) list.push(frame, 0, 0, now, seq);
    else {
      const own = Buffer.allocUnsafeSlow(frame.length);
      frame.copy(own);
      list.push(own, 0, 0, now, seq);
    }
  }

  /**
   * What a publish is kept as: its frame alone while the packet says what the frame says (the writer's
   * own rule, raw-write.ts `forwardable`) and it is not retained (RetainedOrder reads a retained one's
   * topic); else the packet.
   */
  private keepable(packet: IPublishPacket, seq: number): IPublishPacket | Buffer {
    const raw = seq === 0 && !packet.retain ? forwardable(packet) : undefined;
    // A frame whose Topic Alias was resolved says another topic than the packet: kept as the packet.
    if (raw === undefined || !asRead(packet, raw)) return packet;
    this.frameVersion ??= raw.version;
    return raw.version === this.frameVersion ? raw.frame : packet;
  }

  /** A kept frame read again (a broker died: rare), as the fast path first read it. */
  private reread(list: KeptRing, k: number): IPublishPacket {
    const item = list.item(k);
    if (item instanceof KeptSlab) return this.readFrame(item.bytes, list.off(k), list.len(k));
    if (!Buffer.isBuffer(item)) return item as IPublishPacket;
    return this.readFrame(item, 0, item.length);
  }

  /** The fast path's reader copies a QoS 1 frame, so the packet holds no view of a slab. */
  private readFrame(bytes: Buffer, offset: number, length: number): IPublishPacket {
    const packet = readFastPacket(bytes, offset, length, this.frameVersion ?? 5, new TopicCache());
    return packet as unknown as IPublishPacket;
  }

  /**
   * Frames kept in a slab sealed more than the window and `slackMs` ago (nothing newer from their
   * broker has been acknowledged since: the session stopped publishing there) move to a Buffer of
   * their own, so that the slab can be freed (kept-frames.ts). Called on the session's keepalive tick.
   */
  rehome(now: number, slackMs = 3_000): void {
    const before = now - this.windowMs - slackMs;
    for (const list of this.byBroker.values()) {
      for (let k = 0; k < list.count; k++) {
        const item = list.item(k);
        if (!(item instanceof KeptSlab)) continue;
        // Frames are acknowledged in about the order they were read, not always (a publish re-sent
        // after its broker died): every entry is looked at.
        if (!(item.sealedAt < before)) continue;
        const off = list.off(k);
        const own = Buffer.allocUnsafeSlow(list.len(k));
        item.bytes.copy(own, 0, off, off + own.length);
        list.setItem(k, own);
      }
      // A burst's slots go once the window is back to its usual size.
      list.shrink();
    }
  }

  /**
   * The broker died: its publishes acknowledged within the window before its last acknowledgement, in
   * acknowledgement order, but those `skip` refuses (a retained one superseded since: retained-order.ts).
   * `age` sees each with when it was acknowledged (the clock of `remember`) and returns what to replay
   * (message-expiry.ts: the interval counted down), or undefined: not replayed.
   */
  take(
    brokerId: string,
    skip?: (packet: IPublishPacket, seq: number) => boolean,
    age?: (packet: IPublishPacket, ackedAt: number) => IPublishPacket | undefined,
  ): IPublishPacket[] {
    const list = this.byBroker.get(brokerId);
    this.byBroker.delete(brokerId);
    if (!list || list.count === 0) return [];
    const last = list.at(list.count - 1);
    const out: IPublishPacket[] = [];
    for (let k = 0; k < list.count; k++) {
      const seq = list.seq(k);
      if (list.at(k) < last - this.windowMs) continue;
      const packet = this.reread(list, k);
      if (seq > 0 && skip?.(packet, seq)) continue;
      const aged = age ? age(packet, list.at(k)) : packet;
      if (aged) out.push(aged);
    }
    return out;
  }

  /** Topics of the retained publishes kept for replay (what RetainedOrder must still know). */
  *retainedTopics(): Iterable<string> {
    for (const list of this.byBroker.values())
      for (let k = 0; k < list.count; k++) {
        const item = list.item(k);
        // A retained publish is kept whole (keepable), so its topic is at hand.
        if (list.seq(k) > 0 && !Buffer.isBuffer(item) && !(item instanceof KeptSlab)) yield item.topic;
      }
  }

  /** Slots held for a broker's entries (its ring's capacity): what the window costs in memory. */
  slots(brokerId: string): number {
    return this.byBroker.get(brokerId)?.capacity ?? 0;
  }

  /** A broker left the pool in order (drained): nothing of it will be replayed. */
  forget(brokerId: string): void {
    this.byBroker.delete(brokerId);
  }
}
