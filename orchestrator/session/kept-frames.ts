/**
 * Where the replay windows of a process keep their frames (replay-window.ts): copied back to back into
 * shared slabs that hold nothing else. A kept frame lives ~2 s, past two young-generation collections;
 * kept as a Buffer of its own (one ArrayBuffer and backing store each), every one of them cost the
 * scavenger work at each collection, and its pauses were the orchestrator's p99 tail at 2,000 msg/s
 * (docs/data-plane.md, "Session 20"). A slab is one ArrayBuffer for ~500 frames.
 *
 * A slab lives while any frame in it is kept. A window drops a frame when its broker acknowledges
 * newer ones, so the last frames of a session that stopped publishing could pin a whole slab for as
 * long as the session lasts; each session therefore moves its frames out of a slab sealed longer ago
 * than its window and a few seconds into a right-sized copy of their own (`ReplayWindow.rehome`, on the
 * session's keepalive tick), after which the slab is garbage.
 */
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

  constructor(readonly slabBytes = 64 * 1024) {}

  /**
   * Copies `frame` into the current slab and returns its offset there (`last` is the slab), or -1 for a
   * frame over a quarter of a slab, which the caller keeps as its own copy.
   */
  keep(frame: Buffer, now: number): number {
    if (frame.length > this.slabBytes / 4) return -1;
    let slab = this.slab;
    if (slab === undefined || this.end + frame.length > slab.bytes.length) {
      if (slab) slab.sealedAt = now;
      slab = new KeptSlab(Buffer.allocUnsafeSlow(this.slabBytes));
      this.slab = slab;
      this.end = 0;
    }
    const at = this.end;
    frame.copy(slab.bytes, at);
    this.end = at + frame.length;
    this.last = slab;
    return at;
  }
}

/** The process's store: every session with a keepalive (whose tick rehomes its frames) keeps its frames here. */
export const keptFrames = new KeptFrames();
