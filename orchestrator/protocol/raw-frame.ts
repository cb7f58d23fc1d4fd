import { Buffer } from 'node:buffer';
import type { Packet } from 'mqtt-packet';
import { readVarint, varintBytes } from './frames.ts';
import type { KeptFrames, KeptSlab } from './kept-frames.ts';
import { readAckProperties, readPublishProperties } from './raw-properties.ts';

/**
 * The raw-frame fast path, reading side (pure). PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, PINGREQ and
 * PINGRESP are read straight from the frame's bytes into the very object mqtt-packet's parser would
 * build (same fields, same values), so everything after the framing layer is unchanged. A frame this
 * reader is not sure about (a v5 property block other than raw-properties.ts reads, a reason code
 * mqtt-packet refuses, a short or odd frame, QoS 3, reserved flags) returns undefined and goes to
 * mqtt-packet, which decides: the fast path never accepts what the full path refuses
 * (test/unit/raw-frame-differential.test.ts checks it).
 */

/** Where a fast-path PUBLISH came from: its frame (a copy the packet owns), and the field offsets. */
export interface RawPublish {
  /** A copy of the frame: its own Buffer, or a view of `slab` (kept-frames.ts). */
  frame: Buffer;
  /** The slab the frame is a view of, or undefined (a Buffer of its own, or a QoS 0 frame). */
  slab: KeptSlab | undefined;
  /** Protocol level the frame was read at (4 stands for 3 and 4: their PUBLISH is the same). */
  version: 4 | 5;
  /** Offset of the payload in frame; the topic starts at bodyStart + 2. */
  bodyStart: number;
  /** Offset of the packet id in frame, or -1 (QoS 0). */
  idOffset: number;
  payloadStart: number;
  /** The fields the frame says; the writer forwards the frame only while the packet still says them. */
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  /**
   * A v5 frame's properties (raw-properties.ts), the very object the packet was given; undefined for
   * none. The property block is frame[end of the packet id or topic, payloadStart).
   */
  properties: Record<string, unknown> | undefined;
  /** Offset of the Topic Alias property (its id byte) in frame, or -1. */
  aliasAt: number;
  /**
   * Set once the session resolved the alias (raw-write.ts `unaliased`): the properties, without the
   * alias, the packet is forwarded with (its topic then is the one the alias stands for).
   */
  unaliased: Record<string, unknown> | undefined;
}

/** A PUBLISH read on the fast path: mqtt-packet's fields, plus the frame it came from. */
export interface FastPublish {
  cmd: 'publish';
  retain: boolean;
  qos: 0 | 1 | 2;
  dup: boolean;
  length: number;
  topic: string;
  payload: Buffer;
  messageId?: number;
  properties?: Record<string, unknown>;
  raw: RawPublish;
}

/** Reason codes mqtt-packet 9 accepts (constants.js MQTT5_PUBACK_PUBREC_CODES, ..._PUBREL_PUBCOMP_CODES). */
const PUBACK_PUBREC_CODES = new Set([0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]);
const PUBREL_PUBCOMP_CODES = new Set([0x00, 0x92]);
const ACK_NAMES = ['puback', 'pubrec', 'pubrel', 'pubcomp'] as const;

/**
 * Decoded topics, one table for the process: a topic's bytes are hashed (FNV-1a) to a set of two slots
 * and compared with the strings kept there before UTF-8 decoding again. Publishers repeat their topics,
 * and every link that delivers a topic to its subscribers reads the same bytes, so one table serves all
 * streams; a per-stream entry missed on nearly every delivery of a link whose subscriber hears many
 * publishers (docs/data-plane.md, "Session 29"). Two slots a set: with one, 400 topics in 1,024 slots
 * left about a third of them sharing a slot with another and decoded on every read ("Session 34").
 * Only pure-ASCII topics are kept, so a topic's bytes equal its string's char codes and the comparison
 * needs no bytes kept; others are decoded each time. Bounded: TOPIC_SETS × 2 strings of at most
 * MAX_KEPT_TOPIC_BYTES each (about 1 MB); a new topic takes its set's first slot and moves the string
 * there to the second, dropping the second's.
 */
const TOPIC_SETS = 2048;
export const MAX_KEPT_TOPIC_BYTES = 256;
const topicTexts: string[] = new Array<string>(TOPIC_SETS * 2).fill('');

/** frame[start, start + kept.length) holds kept's char codes. */
function sameBytes(frame: Buffer, start: number, kept: string): boolean {
  let i = 0;
  while (i < kept.length && frame[start + i] === kept.charCodeAt(i)) i++;
  return i === kept.length;
}

/** The set (0 .. TOPIC_SETS − 1) the topic in frame[start, end) is kept in. */
export function topicSet(frame: Buffer, start: number, end: number): number {
  let h = 0x811c9dc5 ^ (end - start);
  for (let i = start; i < end; i++) h = Math.imul(h ^ (frame[i] ?? 0), 0x01000193);
  return (h ^ (h >>> 16)) & (TOPIC_SETS - 1);
}

/** The table above, behind the per-stream object readFastPacket takes. */
export class TopicCache {
  decode(frame: Buffer, start: number, end: number): string {
    const length = end - start;
    if (length > MAX_KEPT_TOPIC_BYTES) return frame.toString('utf8', start, end);
    const slot = topicSet(frame, start, end) << 1;
    const first = topicTexts[slot] ?? '';
    if (first.length === length && sameBytes(frame, start, first)) return first;
    const second = topicTexts[slot + 1] ?? '';
    if (second.length === length && sameBytes(frame, start, second)) return second;
    const text = frame.toString('utf8', start, end);
    // As many chars as bytes: each byte was one char, ASCII or U+FFFD (which no byte equals, so such a
    // string is never matched); a multi-byte character makes the string shorter than its bytes.
    if (text.length === length) {
      topicTexts[slot + 1] = first;
      topicTexts[slot] = text;
    }
    return text;
  }
}

/**
 * Reads the frame buf[offset, offset + frameLength) (framed by nextFrame: whole, within the size
 * limit) at protocol level `version`. Returns the packet, or undefined: mqtt-packet decides.
 */
export function readFastPacket(
  buf: Buffer,
  offset: number,
  frameLength: number,
  version: number,
  topics: TopicCache,
  /** Where a QoS 1/2 frame is copied (kept-frames.ts); without it, into a Buffer of its own. */
  frames?: KeptFrames,
): Packet | undefined {
  const first = buf[offset] ?? 0;
  const type = first >> 4;
  const flags = first & 0x0f;
  const end = offset + frameLength;
  // Remaining Length: nextFrame read it; the fast path takes only its minimal encoding, so a frame it
  // forwards is byte for byte what mqtt-packet would generate.
  const remaining = readVarint(buf, offset + 1, end);
  if (remaining < 0) return undefined;
  const bodyStart = offset + 1 + varintBytes(remaining);
  if (bodyStart + remaining !== end) return undefined;
  if (type === 3)
    return readPublish(buf, offset, bodyStart, end, first, version === 5 ? 5 : 4, topics, frames);
  if (type >= 4 && type <= 7) {
    // [MQTT-2.2.2-1/2]: PUBREL's flags are 0010, the others' 0000.
    if (flags !== (type === 6 ? 2 : 0)) return undefined;
    const cmd = ACK_NAMES[type - 4] ?? 'puback';
    if (remaining < 2) return undefined;
    const messageId = ((buf[bodyStart] ?? 0) << 8) | (buf[bodyStart + 1] ?? 0);
    const qos = type === 6 ? 1 : 0;
    if (version !== 5) {
      if (remaining !== 2) return undefined;
      const packet = {
        cmd,
        retain: false,
        qos,
        dup: false,
        length: remaining,
        topic: null,
        payload: null,
        messageId,
      };
      return packet as unknown as Packet;
    }
    // v5: mqtt-packet says reasonCode 0 when the frame omits it (remaining length 2).
    let reasonCode = 0;
    let properties: Record<string, unknown> | undefined;
    if (remaining > 2) {
      reasonCode = buf[bodyStart + 2] ?? 0;
      const valid = type === 4 || type === 5 ? PUBACK_PUBREC_CODES : PUBREL_PUBCOMP_CODES;
      if (!valid.has(reasonCode)) return undefined;
      if (remaining > 3) {
        // A Reason String and User Properties are read (raw-properties.ts); anything else, or bytes past
        // the block (mqtt-packet ignores them), goes to the full path. An empty block: no `properties`.
        const block = readAckProperties(buf, bodyStart + 3, end);
        if (block === undefined || block.end !== end) return undefined;
        properties = block.properties;
      }
    }
    // Every field in the literal: one added afterwards takes another allocation (V8 keeps it outside
    // the object) and another hidden class, per acknowledgement; but for the rare property block.
    const packet: Record<string, unknown> = {
      cmd,
      retain: false,
      qos,
      dup: false,
      length: remaining,
      topic: null,
      payload: null,
      messageId,
      reasonCode,
    };
    if (properties !== undefined) packet.properties = properties;
    return packet as unknown as Packet;
  }
  if ((type === 12 || type === 13) && flags === 0 && remaining === 0) {
    return {
      cmd: type === 12 ? 'pingreq' : 'pingresp',
      retain: false,
      qos: 0,
      dup: false,
      length: 0,
      topic: null,
      payload: null,
    } as unknown as Packet;
  }
  return undefined;
}

function readPublish(
  buf: Buffer,
  offset: number,
  bodyStart: number,
  end: number,
  first: number,
  version: 4 | 5,
  topics: TopicCache,
  frames: KeptFrames | undefined,
): Packet | undefined {
  const qos = (first >> 1) & 3;
  if (qos === 3) return undefined; // [MQTT-3.3.1-4]: mqtt-packet refuses it
  if (end - bodyStart < 2) return undefined;
  const topicEnd = bodyStart + 2 + (((buf[bodyStart] ?? 0) << 8) | (buf[bodyStart + 1] ?? 0));
  if (topicEnd > end) return undefined;
  let at = topicEnd;
  if (qos > 0) {
    if (at + 2 > end) return undefined;
    at += 2;
  }
  // v5: an empty property block here; any other is read from the packet's own copy (below).
  let propertiesAt = -1;
  if (version === 5) {
    if (at >= end) return undefined;
    if (buf[at] === 0) at += 1;
    else propertiesAt = at;
  }
  // The packet owns a copy of its frame: a QoS 1/2 publish stays in flight and in the replay window
  // long after the read chunk it came in is overwritten. That copy is in the process's slabs (one
  // ArrayBuffer per ~500 frames; a frame that stays is moved out: kept-frames.ts), or right-sized. A
  // QoS 0 frame is forwarded within the read, or waits briefly for a broker: Node's pool.
  const length = end - offset;
  let frame = qos > 0 ? frames?.copyIn(buf, offset, end) : undefined;
  const slab = frame === undefined ? undefined : frames?.last;
  if (frame === undefined) {
    frame = qos > 0 ? Buffer.allocUnsafeSlow(length) : Buffer.allocUnsafe(length);
    buf.copy(frame, 0, offset, end);
  }
  const shift = -offset;
  let properties: Record<string, unknown> | undefined;
  let aliasAt = -1;
  if (propertiesAt >= 0) {
    // Anything odd: the full path.
    const block = readPublishProperties(frame, propertiesAt + shift, length);
    if (block === undefined) return undefined;
    properties = block.properties;
    aliasAt = block.aliasAt;
    at = block.end - shift;
  }
  const topic = topics.decode(frame, bodyStart + shift + 2, topicEnd + shift);
  const payload = frame.subarray(at + shift);
  const retain = (first & 1) !== 0;
  const q = qos as 0 | 1 | 2;
  const raw: RawPublish = {
    frame,
    slab,
    version,
    bodyStart: bodyStart + shift,
    idOffset: qos > 0 ? topicEnd + shift : -1,
    payloadStart: at + shift,
    topic,
    payload,
    qos: q,
    retain,
    properties,
    aliasAt,
    unaliased: undefined,
  };
  const dup = (first & 8) !== 0;
  const remaining = end - bodyStart;
  // The packet id in the literal (mqtt-packet gives a QoS 0 publish none): a field added afterwards
  // takes another allocation (V8 keeps it outside the object) and hidden class per publish.
  const packet: FastPublish =
    qos > 0
      ? {
          cmd: 'publish',
          retain,
          qos: q,
          dup,
          length: remaining,
          topic,
          payload,
          messageId: frame.readUInt16BE(topicEnd + shift),
          raw,
        }
      : { cmd: 'publish', retain, qos: q, dup, length: remaining, topic, payload, raw };
  // mqtt-packet sets `properties` only when the block is not empty.
  if (properties !== undefined) packet.properties = properties;
  return packet as unknown as Packet;
}

/**
 * A publish that stays (in flight, waiting) moves its frame out of a slab sealed before `sealedBefore`
 * into a right-sized Buffer of its own, so that the slab can be freed (kept-frames.ts); the packet's
 * payload view moves with it when it was the frame's. Anything else: left as it is.
 */
export function ownFrame(packet: { payload: Buffer | string }, sealedBefore: number): void {
  const raw = (packet as { raw?: RawPublish }).raw;
  const slab = raw?.slab;
  if (raw === undefined || slab === undefined || !(slab.sealedAt < sealedBefore)) return;
  const own = Buffer.allocUnsafeSlow(raw.frame.length);
  raw.frame.copy(own);
  const payload = own.subarray(raw.payloadStart);
  if (packet.payload === raw.payload) packet.payload = payload;
  raw.frame = own;
  raw.payload = payload;
  raw.slab = undefined;
}
