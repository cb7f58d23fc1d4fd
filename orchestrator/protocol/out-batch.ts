import { Buffer } from 'node:buffer';
/**
 * A socket's outgoing batch: the frames one turn of the event loop writes to one socket, copied back
 * to back into a slab shared by every socket of the process, and handed to the socket as one Buffer
 * (one write(2)) when the turn ends (framed-stream.ts). No Buffer per frame, and no per-socket memory
 * between turns: a slab is left to the writes holding views of it once full, and a new one is taken.
 * A batch whose bytes are no longer at the slab's end (another socket wrote after it) is handed over
 * first and starts again there, so a socket's bytes always leave in the order they were written.
 */

/** Slab size: Node's own Buffer pool size, so a view pins no more memory than a pooled Buffer does. */
export const SLAB_BYTES = 8192;

const NONE = Buffer.alloc(0);
const shared = { buf: Buffer.alloc(0), end: 0 };

/** Where a batch goes when flushed (framed-stream.ts: the FramedStream, which writes it to its socket). */
export interface BatchSink {
  writeBatch(bytes: Buffer): void;
}

export class OutBatch {
  /** The slab this batch's bytes are in; NONE once handed over, so an idle socket pins no slab. */
  private buf: Buffer = NONE;
  private start = 0;
  private end = 0;

  constructor(
    /** Takes a view of the slab to write; the bytes in it are never written over. An object, not a
     * bound function: one fewer closure per socket. */
    private readonly sink: BatchSink,
  ) {}

  /** Bytes batched and not yet handed to the sink. */
  get pending(): number {
    return this.end - this.start;
  }

  /** The slab the last reserve() points into. */
  get slab(): Buffer {
    return this.buf;
  }

  /** Room for n bytes after this batch's own: returns their offset in `slab`, where the caller writes them. */
  reserve(n: number): number {
    if (this.buf !== shared.buf || this.end !== shared.end || shared.end + n > shared.buf.length) {
      this.flush();
      if (shared.end + n > shared.buf.length) {
        shared.buf = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, n));
        shared.end = 0;
      }
      this.buf = shared.buf;
      this.start = shared.end;
      this.end = shared.end;
    }
    const at = this.end;
    this.end += n;
    shared.end = this.end;
    return at;
  }

  /** Hands what is batched to the sink. */
  flush(): void {
    if (this.end === this.start) return;
    const bytes = this.buf.subarray(this.start, this.end);
    this.drop();
    this.sink.writeBatch(bytes);
  }

  /** Forgets what is batched (the socket is gone), and the slab. */
  drop(): void {
    this.buf = NONE;
    this.start = 0;
    this.end = 0;
  }
}
