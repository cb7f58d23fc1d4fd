import type { Packet } from 'mqtt-packet';
import { type RawPublish, varintBytes } from './raw-frame.ts';

/**
 * The raw-frame fast path, writing side (pure): the bytes mqtt-packet's generate() would produce for
 * a PUBLISH read on the fast path (its original frame, with only the packet id and DUP flag patched in
 * the outgoing copy, and the empty v5 property block added or removed across protocol levels), for
 * the acknowledgements and for PINGREQ/PINGRESP. Returns undefined for anything else: generate() does it.
 */
export function fastEncode(packet: Packet, version: number): Buffer | undefined {
  switch (packet.cmd) {
    case 'publish': {
      const raw = (packet as { raw?: RawPublish }).raw;
      return raw === undefined ? undefined : encodePublish(packet, raw, version === 5 ? 5 : 4);
    }
    case 'puback':
      return encodeAck(packet, 0x40, version);
    case 'pubrec':
      return encodeAck(packet, 0x50, version);
    case 'pubrel':
      return encodeAck(packet, 0x62, version);
    case 'pubcomp':
      return encodeAck(packet, 0x70, version);
    case 'pingreq':
      return PINGREQ;
    case 'pingresp':
      return PINGRESP;
    default:
      return undefined;
  }
}

const PINGREQ = Buffer.from([0xc0, 0]);
const PINGRESP = Buffer.from([0xd0, 0]);

function validId(id: unknown): id is number {
  return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= 65_535;
}

function encodePublish(
  packet: Packet & { topic?: unknown; payload?: unknown; qos?: number; retain?: boolean },
  raw: RawPublish,
  version: 4 | 5,
): Buffer | undefined {
  // Forward the frame only while the packet still says what the frame says (the flows change only
  // the packet id and DUP); anything else was changed on purpose and is generated.
  const props = (packet as { properties?: unknown }).properties;
  if (
    packet.topic !== raw.topic ||
    packet.payload !== raw.payload ||
    (packet.qos ?? 0) !== raw.qos ||
    Boolean(packet.retain) !== raw.retain ||
    props !== undefined
  )
    return undefined;
  const qos = raw.qos;
  const id = (packet as { messageId?: unknown }).messageId;
  if (qos > 0 && !validId(id)) return undefined;
  // mqtt-packet's PUBLISH_HEADER[qos][dup][retain].
  const header = 0x30 | (qos << 1) | ((packet as { dup?: boolean }).dup ? 8 : 0) | (raw.retain ? 1 : 0);
  const frame = raw.frame;
  if (version === raw.version) {
    if (qos === 0 && frame[0] === header) return frame; // nothing to patch: the frame itself
    const out = Buffer.allocUnsafe(frame.length);
    frame.copy(out);
    out[0] = header;
    if (qos > 0) out.writeUInt16BE(id as number, raw.idOffset);
    return out;
  }
  // v5 frame to a 3.1.1 peer: its (empty) property block goes; 3.1.1 frame to a v5 peer: one is added.
  const head =
    (raw.idOffset < 0 ? raw.bodyStart + 2 + frame.readUInt16BE(raw.bodyStart) : raw.idOffset + 2) -
    raw.bodyStart;
  const payloadLength = frame.length - raw.payloadStart;
  const remaining = head + (version === 5 ? 1 : 0) + payloadLength;
  const out = Buffer.allocUnsafe(1 + varintBytes(remaining) + remaining);
  out[0] = header;
  let at = 1;
  let rest = remaining;
  do {
    let byte = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) byte |= 0x80;
    out[at++] = byte;
  } while (rest > 0);
  frame.copy(out, at, raw.bodyStart, raw.bodyStart + head);
  if (qos > 0) out.writeUInt16BE(id as number, at + head - 2);
  at += head;
  if (version === 5) out[at++] = 0;
  frame.copy(out, at, raw.payloadStart);
  return out;
}

/** mqtt-packet's confirmation(): 3.1.1 [type, 2, id]; v5 adds the reason code (and an empty property block) unless it is 0. */
function encodeAck(packet: Packet, header: number, version: number): Buffer | undefined {
  const p = packet as { messageId?: unknown; reasonCode?: unknown; properties?: unknown; dup?: unknown };
  if (!validId(p.messageId) || p.properties !== undefined || p.dup) return undefined;
  const id = p.messageId;
  if (version !== 5) return Buffer.from([header, 2, id >> 8, id & 0xff]);
  const code = p.reasonCode;
  if (code === 0) return Buffer.from([header, 2, id >> 8, id & 0xff]);
  if (code !== undefined && !(typeof code === 'number' && Number.isInteger(code) && code >= 0 && code <= 255))
    return undefined;
  return Buffer.from([header, 4, id >> 8, id & 0xff, code ?? 0, 0]);
}
