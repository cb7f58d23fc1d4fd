import { Buffer } from 'node:buffer';
/**
 * Where the orchestrator keeps QoS 1/2 frames: copied back to back into shared slabs that hold nothing
 * else. The fast path's reader copies each QoS 1/2 PUBLISH it reads here (raw-frame.ts), and a replay
 * window keeps the frames of acknowledged publishes where they already are (replay-window.ts).
 *
 * Why slabs: a frame kept as a Buffer of its own is one ArrayBuffer and backing store per message; at
 * full rate QoS 1 those allocations and their collection were about a fifth of the orchestrator's CPU
 * (docs/data-plane.md, "Session 29": 8.6 → 6.7 µs per message), and a kept frame that lives ~2 s (the replay window) cost the
 * scavenger work at each collection it survived, whose pauses were the p99 tail at 2,000 msg/s
 * ("Session 20"). A slab is one ArrayBuffer for ~500 frames.
 *
 * A slab lives while any frame in it is referenced, so memory is bounded by moving frames that stay:
 * on each session's 1-second tick, a frame in a slab sealed more than a few seconds ago gets a
 * right-sized copy of its own (`ownFrame` for a publish in flight or waiting, `ReplayWindow.rehome` for
 * the replay window), after which the slab is garbage. A slab's bytes are written once and never
 * reused, so a packet that still views an old slab reads the right bytes; it only keeps it alive.
 */

/**
 * A publish's frame in a slab sealed this long ago (ms) that is still in flight or waiting gets a copy
 * of its own on its session's next tick (`ownFrame`); the tick is 1 s, so a frame stays at most ~3 s.
 */
export const STAYING_FRAME_MS = 2_000;

export class KeptSlab {
  /** When the slab stopped taking frames (Infinity while it is the current one). */
  sealedAt = Number.POSITIVE_INFINITY;

  constructor(readonly bytes: Buffer) {}
}

export class KeptFrames {
  private slab: KeptSlab | undefined;
  private end = 0;
  /** The slab the last keep() copied into. */
  last: KeptSlab | undefined;
  /** Bytes copied in so far (what a test reads to see which store a stream uses). */
  copied = 0;

  constructor(readonly slabBytes = 64 * 1024) {}

  /**
   * Copies `frame` into the current slab and returns its offset there (`last` is the slab), or -1 for a
   * frame over a quarter of a slab, which the caller keeps as its own copy.
   */
  keep(frame: Buffer, now: number): number {
    if (frame.length > this.slabBytes / 4) return -1;
    return this.place(frame, 0, frame.length, now);
  }

  /**
   * Copies buf[start, end) into the current slab and returns the slab's view of it (`last` is the
   * slab), or undefined for a frame over a quarter of a slab, which the caller copies on its own. The
   * clock is read only when a slab is sealed.
   */
  copyIn(buf: Buffer, start: number, end: number): Buffer | undefined {
    const length = end - start;
    if (length > this.slabBytes / 4) return undefined;
    const at = this.place(buf, start, end, undefined);
    return (this.last as KeptSlab).bytes.subarray(at, at + length);
  }

  private place(buf: Buffer, start: number, end: number, now: number | undefined): number {
    const length = end - start;
    let slab = this.slab;
    if (slab === undefined || this.end + length > slab.bytes.length) {
      if (slab) slab.sealedAt = now ?? Date.now();
      slab = new KeptSlab(Buffer.allocUnsafeSlow(this.slabBytes));
      this.slab = slab;
      this.end = 0;
    }
    const at = this.end;
    buf.copy(slab.bytes, at, start, end);
    this.end = at + length;
    this.last = slab;
    this.copied += length;
    return at;
  }
}

/**
 * The process's stores; each session's tick moves its stale frames out of both. Clients' QoS 1/2
 * publishes, which the replay windows keep where they are: a slab kept alive by a window holds
 * publishes only. In one store with the deliveries (each publish delivered to N subscribers), a window
 * would pin N times its own bytes for as long as it keeps a frame.
 */
export const keptFrames = new KeptFrames();
/** QoS 1/2 deliveries read from brokers: gone once written to the client, or waiting for its window. */
export const deliveryFrames = new KeptFrames();
