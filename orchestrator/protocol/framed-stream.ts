import { Buffer } from 'node:buffer';
import type { OnReadOpts } from 'node:net';
import process from 'node:process';
import type { Duplex } from 'node:stream';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import mqttPacket from '../../common/mqtt-packet.ts';
import { FRAME_PARTIAL, nextFrame, REMAINING_TOO_LONG, wholeFrame } from './frames.ts';
import type { KeptFrames } from './kept-frames.ts';
import { OutBatch } from './out-batch.ts';
import { readFastPacket, TopicCache } from './raw-frame.ts';
import { fastEncode, fastLength, fastWrite, publishAsLength, writePublishAs } from './raw-write.ts';
import { type ParserSettings, parseWholeFrame } from './whole-frame-parser.ts';

export interface FramedStreamOptions {
  /** Protocol level for parsing and generating (CONNECT is parsed whatever it is set to). */
  protocolVersion: 3 | 4 | 5;
  /** Largest packet accepted from the peer, in bytes (remaining length + fixed header). */
  maxPacketBytes: number;
  /**
   * Where QoS 1/2 frames read here are copied (kept-frames.ts), when the reader's packets are ticked
   * out of it (a session's); without it, each into a Buffer of its own.
   */
  frames?: KeptFrames;
}

const EMPTY = Buffer.alloc(0);
/** Fast-path frames up to this size are copied into the outgoing batch; larger ones are written as they are. */
const MAX_BATCHED_BYTES = 4096;

/**
 * Streams written to since their batch last left. They are flushed together when the read that wrote
 * them has been handled (FramedStream.onData), or at the end of the turn for writes made elsewhere
 * (timers, promise continuations): no process.nextTick per batch on the common path.
 */
const dirty: FramedStream[] = [];
/** Depth of onData calls on the stack (an in-memory pair can nest them). */
let reading = 0;
let tickQueued = false;

function flushDirty(): void {
  tickQueued = false;
  // A flush can write to an in-memory peer, whose handler can write again: the list may grow meanwhile.
  for (let i = 0; i < dirty.length; i++) dirty[i]?.flushWrites();
  dirty.length = 0;
}

/** A stream's FramedStream, for the stream listeners below. */
const FRAMED = Symbol('FramedStream');
type Framed = Duplex & { [FRAMED]?: FramedStream };

// The stream's listeners, one function each for every stream of the process: node:events calls a
// listener with the stream as `this`, which leads to its FramedStream. Closures per stream (and the
// scope they keep) cost ~300 bytes per connection (docs/data-plane.md, "Memory per client").
function onStreamData(this: Framed, chunk: Buffer): void {
  this[FRAMED]?.read(chunk);
}
function onStreamError(this: Framed, err: Error): void {
  this[FRAMED]?.handler.frameTransportError(err);
}
function onStreamEnd(this: Framed): void {
  this[FRAMED]?.onClose();
}
function onStreamDrain(this: Framed): void {
  this[FRAMED]?.handler.frameDrain?.();
}

/**
 * The buffer every plain-TCP socket of the process reads into, broker links (net.connect's `onread`) and
 * clients (common/net/accept-into.ts): Node then makes no Buffer, no ArrayBuffer and no Readable step
 * per read. Each read is parsed before the next overwrites the buffer; what outlives it is copied
 * (FramedStream.read): fast-path packets own a copy of their frame anyway (raw-frame.ts), a slow-path
 * packet is parsed from a copy, and the unparsed rest (a partial packet, or what came in while paused)
 * is copied.
 */
const sharedReadBuffer = Buffer.allocUnsafeSlow(64 * 1024);
/** The process's decoded-topic table (raw-frame.ts). */
const topics = new TopicCache();
// Node calls it as a method of the socket: `this` is the stream.
function onSharedRead(this: Framed, nread: number): boolean {
  this[FRAMED]?.read(sharedReadBuffer.subarray(0, nread), true);
  return true;
}
export const sharedReads: OnReadOpts = {
  buffer: sharedReadBuffer,
  callback: onSharedRead as OnReadOpts['callback'],
};

export class PacketTooLargeError extends Error {
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`packet of ${bytes} bytes is larger than the ${limit}-byte limit`);
  }
}

/**
 * What a FramedStream reports, to one object (a Session, an Upstream) rather than to listeners: an
 * EventEmitter and a closure per event cost ~1 KB per connection (docs/data-plane.md, "Memory per
 * client"). Each is called synchronously, from the read or write that found it.
 */
export interface FramedHandler {
  /** A whole packet, in stream order. */
  framePacket(packet: Packet): void;
  /** A malformed or oversized packet (PacketTooLargeError): nothing more is read; the handler closes. */
  frameBadInput(err: Error): void;
  /** The stream ended or closed; once. */
  frameClosed(): void;
  /** The transport failed (RST, TLS error); 'closed' follows. */
  frameTransportError(err: Error): void;
  /** A packet written could not be encoded at this protocol level (a bug, or a relayed value out of range). */
  frameEncodeError(err: Error, packet: Packet): void;
  /** The stream's write buffer drained ('drain'); only for a handler that has it (a Session's client). */
  frameDrain?(): void;
}

/**
 * MQTT packets over any Duplex (a TCP or TLS socket, or an in-memory pair in tests): packets may be
 * split or merged across reads. The common packets (PUBLISH and its acknowledgements, pings) take the
 * raw-frame fast path (raw-frame.ts, raw-write.ts); everything else, and anything the fast path is not
 * sure about, goes through mqtt-packet, in stream order; what it reads goes to its FramedHandler.
 */
export class FramedStream {
  /** mqtt-packet's settings for this stream (the parser itself is shared: whole-frame-parser.ts). */
  private settings: ParserSettings;
  private failed = false;
  /** end() was called: what arrives after it is dropped. */
  private ended = false;
  private closed = false;
  private paused = false;
  private corked = false;
  private flushQueued = false;
  /** Fast-path frames written this turn, back to back (out-batch.ts). */
  private readonly out = new OutBatch(this);
  /** Bytes read but not yet parsed (at most one partial packet, or what arrived while paused). */
  private buffer: Buffer = EMPTY;
  /** `buffer` is a view of the shared read buffer (during a read from it). */
  private lent = false;
  version: 3 | 4 | 5;
  maxPacketBytes: number;
  private readonly frames: KeptFrames | undefined;

  constructor(
    readonly stream: Duplex,
    options: FramedStreamOptions,
    readonly handler: FramedHandler,
  ) {
    this.version = options.protocolVersion;
    this.maxPacketBytes = options.maxPacketBytes;
    this.frames = options.frames;
    this.settings = { protocolVersion: options.protocolVersion };
    const framed = stream as Framed;
    // One FramedStream per stream (a session's client socket, a link's broker socket): two would both
    // consume its bytes.
    if (framed[FRAMED] !== undefined) throw new Error('this stream already has a FramedStream');
    framed[FRAMED] = this;
    stream.on('data', onStreamData);
    stream.on('error', onStreamError);
    stream.on('close', onStreamEnd);
    stream.on('end', onStreamEnd);
    if (handler.frameDrain) stream.on('drain', onStreamDrain);
  }

  /**
   * A read from the stream: its 'data' listener's chunk, or (`borrowed`) a view of the shared read
   * buffer (sharedReads), which the next read of any socket reading into it overwrites.
   */
  read(chunk: Buffer, borrowed = false): void {
    if (this.failed || this.ended) return;
    // A borrowed chunk is parsed in place when nothing was left over; else it is copied here.
    this.lent = borrowed && this.buffer.length === 0;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    reading += 1;
    try {
      this.parseFrames();
    } finally {
      if (this.lent) {
        this.lent = false;
        if (this.buffer.length > 0) this.buffer = Buffer.from(this.buffer);
      }
      reading -= 1;
      // What handling this read wrote, to any socket, leaves now: one write per socket.
      if (reading === 0) flushDirty();
    }
  }

  /** Hands whole packets to the parser one at a time, stopping as soon as the stream is paused. */
  private parseFrames(): void {
    let offset = 0;
    while (!this.paused && !this.failed && !this.ended && offset < this.buffer.length) {
      const length = wholeFrame(this.buffer, offset, this.maxPacketBytes);
      if (length === FRAME_PARTIAL) break;
      if (length < 0) return this.fail(this.frameError(offset));
      const fast = readFastPacket(this.buffer, offset, length, this.version, topics, this.frames);
      if (fast !== undefined) this.handler.framePacket(fast);
      else this.parseSlow(offset, length);
      offset += length;
    }
    this.buffer = offset === this.buffer.length ? EMPTY : this.buffer.subarray(offset);
  }

  /** Why the frame at `offset` is refused: wholeFrame said too large, or malformed (a fifth length byte). */
  private frameError(offset: number): Error {
    const found = nextFrame(this.buffer, offset, this.maxPacketBytes);
    return found.kind === 'too-large'
      ? new PacketTooLargeError(found.length, this.maxPacketBytes)
      : new Error(`malformed packet: ${REMAINING_TOO_LONG}`);
  }

  private parseSlow(offset: number, length: number): void {
    const bytes = this.buffer.subarray(offset, offset + length);
    // A PUBLISH's payload is a view of what is parsed: parse a right-sized copy, so a publish kept in
    // flight does not hold the whole read chunk. From the shared read buffer, every packet is parsed
    // from a copy (binary properties are views too).
    const copy = this.lent || (bytes[0] ?? 0) >> 4 === 3;
    const parsed = parseWholeFrame(copy ? Buffer.from(bytes) : bytes, this.settings);
    if (parsed instanceof Error) return this.fail(parsed);
    this.settings = parsed.settings;
    this.handler.framePacket(parsed.packet);
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.handler.frameBadInput(err);
  }

  /** The stream ended or closed (its listener). */
  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler.frameClosed();
  }

  /** Switches parser and generator to the protocol level the CONNECT announced. */
  setVersion(version: 3 | 4 | 5): void {
    this.version = version;
    this.settings.protocolVersion = version;
  }

  /**
   * Writes one packet; returns false when the stream's buffer is full (wait for 'drain'). Fast-path
   * packets are encoded straight into the turn's batch; the others, and large frames, are written as
   * Buffers of their own after what is batched, so the order is kept.
   */
  write(packet: Packet): boolean {
    if (this.closed || this.stream.destroyed) return false;
    this.queueFlush();
    try {
      const length = fastLength(packet, this.version);
      if (length >= 0 && length <= MAX_BATCHED_BYTES) {
        const at = this.out.reserve(length);
        fastWrite(packet, this.version, this.out.slab, at);
      } else {
        const bytes =
          (length >= 0 ? fastEncode(packet, this.version) : undefined) ??
          mqttPacket.generate(packet, { protocolVersion: this.version });
        this.out.flush();
        this.writeBatch(bytes);
      }
    } catch (err) {
      // A packet that cannot be encoded at this level (a bug, or a relayed value out of range).
      this.handler.frameEncodeError(err instanceof Error ? err : new Error(String(err)), packet);
      return false;
    }
    return !this.stream.writableNeedDrain;
  }

  /**
   * Writes a publish as `write({ ...packet, messageId, dup })` would, without making that object when
   * the fast path writes it (the flows forward a client's publish, or a broker's delivery, under an id
   * of their own: two such copies per QoS 1 message).
   */
  writePublishAs(packet: IPublishPacket, messageId: number | undefined, dup: boolean): boolean {
    const length = publishAsLength(packet, this.version, messageId);
    if (length < 0 || length > MAX_BATCHED_BYTES) return this.write({ ...packet, messageId, dup });
    if (this.closed || this.stream.destroyed) return false;
    this.queueFlush();
    const at = this.out.reserve(length); // first: it may take a new slab
    writePublishAs(packet, this.version, this.out.slab, at, messageId, dup);
    return !this.stream.writableNeedDrain;
  }

  /**
   * Packets written while one read is handled (or in one turn) leave in one write(2): without this, one
   * system call per relayed packet cost the orchestrator 35–45 % more CPU per message (bench:orchestrator).
   */
  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    dirty.push(this);
    if (reading === 0 && !tickQueued) {
      tickQueued = true;
      process.nextTick(flushDirty);
    }
  }

  /**
   * Hands bytes to the stream; more than one write in a turn are corked into one writev(2). Also the
   * outgoing batch's sink (OutBatch): not for other callers.
   */
  writeBatch(bytes: Buffer): void {
    if (!this.corked && this.flushQueued) {
      this.corked = true;
      this.stream.cork();
    }
    this.stream.write(bytes);
  }

  /** Writes what was batched (after a read, at the end of a turn, and before the stream ends). */
  flushWrites(): void {
    this.flushQueued = false;
    if (this.closed || this.stream.destroyed) {
      this.out.drop();
      return;
    }
    this.out.flush();
    if (this.corked) {
      this.corked = false;
      this.stream.uncork();
    }
  }

  get writableNeedDrain(): boolean {
    return this.stream.writableNeedDrain;
  }

  get isClosed(): boolean {
    return this.closed || this.stream.destroyed;
  }

  pause(): void {
    this.paused = true;
    this.stream.pause();
  }

  resume(): void {
    this.paused = false;
    this.parseFrames();
    if (!this.paused) this.stream.resume();
  }

  /**
   * Flushes what was written, then closes. Nothing more is read for the handler, but the stream reads on
   * until the peer's FIN: a socket reading into the shared buffer reads nothing at all while paused (a
   * paused 'data' stream still does), so a paused one would otherwise stay open until the timer.
   */
  end(): void {
    this.flushWrites();
    this.ended = true;
    if (!this.stream.destroyed) {
      this.stream.end();
      this.stream.resume();
    }
    setTimeout(() => this.stream.destroy(), 1000).unref();
  }

  destroy(): void {
    this.stream.destroy();
  }
}
