import { Buffer } from 'node:buffer';
import type { Packet } from 'mqtt-packet';
import { varintBytes } from './frames.ts';
import type { RawPublish } from './raw-frame.ts';

/**
 * The raw-frame fast path, writing side (pure): the bytes mqtt-packet's generate() would produce for
 * a PUBLISH read on the fast path (its original frame, with only the packet id and DUP flag patched,
 * the v5 property block removed for a 3.1.1 peer, an empty one added for a v5 peer, and a resolved
 * Topic Alias replaced by its topic), for the acknowledgements and for PINGREQ/PINGRESP. fastLength
 * says how many (or -1: generate() does it) and fastWrite writes them straight into the caller's
 * buffer (framed-stream.ts: the socket's outgoing batch), so a forwarded frame costs one copy,
 * converted or not. fastEncode makes them a Buffer of their own. User Properties keep the sender's
 * order, where generate() would group them (raw-properties.ts).
 */
export function fastLength(packet: Packet, version: number): number {
  switch (packet.cmd) {
    case 'publish':
      return publishAsLength(packet, version, (packet as { messageId?: number }).messageId);
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return ackLength(packet, version);
    case 'pingreq':
    case 'pingresp':
      return 2;
    default:
      return -1;
  }
}

/** Writes the packet's fastLength(packet, version) bytes at out[at]: only after fastLength said ≥ 0. */
export function fastWrite(packet: Packet, version: number, out: Buffer, at: number): void {
  switch (packet.cmd) {
    case 'publish': {
      const p = packet as PublishFields & { messageId?: number };
      return writePublishAs(p, version, out, at, p.messageId, Boolean(p.dup));
    }
    case 'puback':
      return writeAck(packet, 0x40, version, out, at);
    case 'pubrec':
      return writeAck(packet, 0x50, version, out, at);
    case 'pubrel':
      return writeAck(packet, 0x62, version, out, at);
    case 'pubcomp':
      return writeAck(packet, 0x70, version, out, at);
    default:
      out[at] = packet.cmd === 'pingreq' ? 0xc0 : 0xd0;
      out[at + 1] = 0;
  }
}

/** The fast path's bytes as a Buffer of their own, or undefined: generate() does it. */
export function fastEncode(packet: Packet, version: number): Buffer | undefined {
  const length = fastLength(packet, version);
  if (length < 0) return undefined;
  if (packet.cmd === 'publish') {
    // A QoS 0 frame forwarded at its own level with its own header: the frame itself, no copy.
    const raw = (packet as unknown as { raw: RawPublish }).raw;
    if (
      raw.qos === 0 &&
      (version === 5) === (raw.version === 5) &&
      raw.frame[0] === publishHeader(Boolean((packet as PublishFields).dup), raw) &&
      asRead(packet, raw)
    )
      return raw.frame;
  }
  const out = Buffer.allocUnsafe(length);
  fastWrite(packet, version, out, 0);
  return out;
}

function validId(id: unknown): id is number {
  return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= 65_535;
}

type PublishFields = Packet & {
  topic?: unknown;
  payload?: unknown;
  qos?: number;
  retain?: boolean;
  dup?: boolean;
};

/**
 * The frame the packet came from, while the packet still says what that frame says, or is the packet
 * `unaliased` made of it; else undefined. See `asRead` for the frame itself.
 */
export function forwardable(packet: PublishFields): RawPublish | undefined {
  const raw = frameOf(packet);
  if (raw !== undefined && raw.qos > 0 && !validId((packet as { messageId?: unknown }).messageId))
    return undefined;
  return raw;
}

/**
 * The length of the publish written with packet id `messageId` (the flows' forwarded copies: the
 * packet's own id is the sender's), or -1: generate() writes it. See writePublishAs.
 */
export function publishAsLength(
  packet: PublishFields,
  version: number,
  messageId: number | undefined,
): number {
  const raw = frameOf(packet);
  if (raw === undefined || (raw.qos > 0 && !validId(messageId))) return -1;
  return publishLength(packet, raw, version === 5);
}

/**
 * Writes the publish as fastWrite would write `{ ...packet, messageId, dup }`, without making that
 * object: only after publishAsLength said ≥ 0.
 */
export function writePublishAs(
  packet: PublishFields,
  version: number,
  out: Buffer,
  at: number,
  messageId: number | undefined,
  dup: boolean,
): void {
  const raw = (packet as unknown as { raw: RawPublish }).raw;
  writePublish(packet, raw, version === 5, out, at, messageId ?? 0, dup);
}

/** forwardable() but for the packet id: the frame, while the packet says what it says. */
function frameOf(packet: PublishFields): RawPublish | undefined {
  const raw = (packet as { raw?: RawPublish }).raw;
  if (raw === undefined) return undefined;
  // Forward the frame only while the packet still says what the frame says (the flows change only
  // the packet id and DUP); anything else was changed on purpose and is generated. After `unaliased`
  // the writer writes the packet's topic, whatever it is.
  if (!asRead(packet, raw) && !isResolved(packet, raw)) return undefined;
  if (
    packet.payload !== raw.payload ||
    (packet.qos ?? 0) !== raw.qos ||
    Boolean(packet.retain) !== raw.retain
  )
    return undefined;
  return raw;
}

/**
 * The frame itself says what the packet says (no alias resolved since): the replay window may keep the
 * packet as its frame, and a QoS 0 one may be written as it came.
 */
export function asRead(packet: PublishFields, raw: RawPublish): boolean {
  return packet.topic === raw.topic && (packet as { properties?: unknown }).properties === raw.properties;
}

/**
 * A client's PUBLISH with a Topic Alias as it is forwarded: the topic the alias stands for, and its
 * properties without the alias. One read on the fast path keeps its frame: the writer writes that
 * topic and leaves the alias property's three bytes out.
 */
export function unaliased<P extends PublishFields & { properties?: Record<string, unknown> }>(
  packet: P,
  topic: string,
): P {
  const { topicAlias: _drop, ...rest } = packet.properties ?? {};
  const raw = (packet as { raw?: RawPublish }).raw;
  if (raw !== undefined && raw.aliasAt >= 0) raw.unaliased = rest;
  return { ...packet, topic, properties: rest };
}

/** End of the topic and packet id in the frame: what is copied before the (v5) property block. */
function headEnd(raw: RawPublish): number {
  return raw.idOffset < 0 ? raw.bodyStart + 2 + raw.frame.readUInt16BE(raw.bodyStart) : raw.idOffset + 2;
}

/** The packet is the frame with its Topic Alias resolved (`unaliased`): another topic, the alias left out. */
function isResolved(packet: PublishFields, raw: RawPublish): boolean {
  return raw.unaliased !== undefined && (packet as { properties?: unknown }).properties === raw.unaliased;
}

/** Bytes of the frame's properties (after the Property Length), and where they start. */
function propertySpan(raw: RawPublish): { start: number; length: number } {
  const blockStart = headEnd(raw);
  const length = raw.payloadStart - blockStart;
  // The Property Length is minimal (raw-properties.ts), so its size follows from the block's.
  let varint = 1;
  while (varint < 4 && varintBytes(length - varint) !== varint) varint++;
  return { start: blockStart + varint, length: length - varint };
}

/**
 * A v5 peer gets the frame's property block as it came (without a resolved alias's three bytes; an
 * empty one added to a 3.1.1 frame); a 3.1.1 peer none (generate() writes no properties at level 4).
 */
function blockLength(packet: PublishFields, raw: RawPublish, v5: boolean): number {
  if (!v5) return 0;
  if (raw.properties === undefined) return 1;
  if (!isResolved(packet, raw)) return raw.payloadStart - headEnd(raw);
  const properties = propertySpan(raw).length - 3;
  return varintBytes(properties) + properties;
}

/** Topic (with its length) and packet id: the frame's, or the resolved topic's. */
function headLength(packet: PublishFields, raw: RawPublish): number {
  if (!isResolved(packet, raw)) return headEnd(raw) - raw.bodyStart;
  return 2 + Buffer.byteLength(packet.topic as string) + (raw.qos > 0 ? 2 : 0);
}

function publishRemaining(packet: PublishFields, raw: RawPublish, v5: boolean): number {
  return headLength(packet, raw) + blockLength(packet, raw, v5) + raw.frame.length - raw.payloadStart;
}

function publishLength(packet: PublishFields, raw: RawPublish, v5: boolean): number {
  const remaining = publishRemaining(packet, raw, v5);
  return 1 + varintBytes(remaining) + remaining;
}

/** mqtt-packet's PUBLISH_HEADER[qos][dup][retain]. */
function publishHeader(dup: boolean, raw: RawPublish): number {
  return 0x30 | (raw.qos << 1) | (dup ? 8 : 0) | (raw.retain ? 1 : 0);
}

function writeVarint(value: number, out: Buffer, at: number): number {
  let rest = value;
  do {
    let byte = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) byte |= 0x80;
    out[at++] = byte;
  } while (rest > 0);
  return at;
}

/** Header, Remaining Length, topic and packet id (patched), property block (v5), payload: one copy. */
function writePublish(
  packet: PublishFields,
  raw: RawPublish,
  v5: boolean,
  out: Buffer,
  at: number,
  id: number,
  dup: boolean,
): void {
  const frame = raw.frame;
  if (v5 === (raw.version === 5) && !isResolved(packet, raw)) {
    // Forwarded at its own level: the same bytes but the first and the packet id (the Remaining Length
    // is the frame's, minimal). One copy of the whole frame, which makes no view (Buffer.copy of a part
    // makes a Uint8Array each time: ~15 % of the bytes the QoS 1 path allocated).
    out.set(frame, at);
    out[at] = publishHeader(dup, raw);
    if (raw.qos > 0) out.writeUInt16BE(id, at + raw.idOffset);
    return;
  }
  out[at++] = publishHeader(dup, raw);
  at = writeVarint(publishRemaining(packet, raw, v5), out, at);
  if (isResolved(packet, raw)) {
    // The topic the alias stands for, then the properties before the alias and after it.
    const length = out.write(packet.topic as string, at + 2, 'utf8');
    out.writeUInt16BE(length, at);
    at += 2 + length;
    if (raw.qos > 0) at = out.writeUInt16BE(id, at);
    if (v5) {
      const { start, length: properties } = propertySpan(raw);
      at = writeVarint(properties - 3, out, at);
      at += frame.copy(out, at, start, raw.aliasAt);
      at += frame.copy(out, at, raw.aliasAt + 3, raw.payloadStart);
    }
  } else {
    const end = headEnd(raw);
    at = copyShort(frame, raw.bodyStart, end, out, at);
    if (raw.qos > 0) out.writeUInt16BE(id, at - 2);
    if (v5 && raw.properties === undefined) out[at++] = 0;
    else if (v5) at += frame.copy(out, at, end, raw.payloadStart);
  }
  // The payload is a view of the frame already (raw-frame.ts): copied whole, it makes no other view.
  out.set(raw.payload, at);
}

/**
 * src[from, to) to out[at]; returns the end. Byte by byte: for the few bytes of a topic and packet id
 * that is faster than Buffer.copy, which makes a Uint8Array view of any part it copies.
 */
function copyShort(src: Buffer, from: number, to: number, out: Buffer, at: number): number {
  if (to - from > 64) return at + src.copy(out, at, from, to);
  let o = at;
  for (let i = from; i < to; i++) out[o++] = src[i] as number;
  return o;
}

/** mqtt-packet's confirmation(): 3.1.1 [type, 2, id]; v5 adds the reason code (and an empty property block) unless it is 0. */
function ackLength(packet: Packet, version: number): number {
  const p = packet as { messageId?: unknown; reasonCode?: unknown; properties?: unknown; dup?: unknown };
  if (!validId(p.messageId) || p.properties !== undefined || p.dup) return -1;
  if (version !== 5) return 4;
  const code = p.reasonCode;
  if (code === 0) return 4;
  if (code !== undefined && !(typeof code === 'number' && Number.isInteger(code) && code >= 0 && code <= 255))
    return -1;
  return 6;
}

function writeAck(packet: Packet, header: number, version: number, out: Buffer, at: number): void {
  const p = packet as { messageId: number; reasonCode?: number };
  const id = p.messageId;
  const long = version === 5 && p.reasonCode !== 0;
  out[at] = header;
  out[at + 1] = long ? 4 : 2;
  out[at + 2] = id >> 8;
  out[at + 3] = id & 0xff;
  if (!long) return;
  out[at + 4] = p.reasonCode ?? 0;
  out[at + 5] = 0;
}
