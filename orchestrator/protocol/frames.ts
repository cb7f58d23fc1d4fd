import type { Buffer } from 'node:buffer';
/**
 * MQTT framing (pure): where the next whole packet ends in a buffer. The fixed header is one byte
 * and a Remaining Length of 1 to 4 bytes (MQTT 3.1.1 §2.2.3, 5.0 §1.5.5); a fifth continuation byte
 * is malformed. mqtt-packet parses each frame; framing first lets a paused stream stop between
 * packets instead of parsing a whole 64 KiB read at once, and refuses an oversized packet from its
 * header before buffering it.
 */
export type FrameResult =
  | { kind: 'frame'; length: number }
  | { kind: 'partial' }
  | { kind: 'malformed'; reason: string }
  | { kind: 'too-large'; length: number };

export function nextFrame(buffer: Buffer, offset: number, maxPacketBytes: number): FrameResult {
  const length = wholeFrame(buffer, offset, maxPacketBytes);
  if (length >= 0) return { kind: 'frame', length };
  if (length === FRAME_PARTIAL) return { kind: 'partial' };
  if (length === FRAME_MALFORMED) return { kind: 'malformed', reason: REMAINING_TOO_LONG };
  return { kind: 'too-large', length: frameExtent(buffer, offset) };
}

/** wholeFrame: the frame is not all there yet (its fixed header, or its bytes). */
export const FRAME_PARTIAL = -1;
/** wholeFrame: a fifth Remaining Length byte. */
export const FRAME_MALFORMED = -2;
/** wholeFrame: the header announces a frame over the size limit. */
export const FRAME_TOO_LARGE = -3;
export const REMAINING_TOO_LONG = 'remaining length longer than 4 bytes';

/**
 * nextFrame's reading as a number, for the read loop (no object per frame): the length of the whole
 * frame at `offset`, or FRAME_PARTIAL, FRAME_MALFORMED or FRAME_TOO_LARGE (nextFrame says more).
 */
export function wholeFrame(buffer: Buffer, offset: number, maxPacketBytes: number): number {
  const length = frameExtent(buffer, offset);
  if (length < 0) return length;
  if (length > maxPacketBytes) return FRAME_TOO_LARGE;
  return offset + length <= buffer.length ? length : FRAME_PARTIAL;
}

/**
 * The whole frame's length once its fixed header is there (the frame itself may not be), or
 * FRAME_PARTIAL (the header is not), or FRAME_MALFORMED.
 */
function frameExtent(buffer: Buffer, offset: number): number {
  let remaining = 0;
  let multiplier = 1;
  for (let i = 1; i <= 4; i++) {
    const at = offset + i;
    if (at >= buffer.length) return FRAME_PARTIAL;
    const byte = buffer[at] ?? 0;
    remaining += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return 1 + i + remaining;
    multiplier *= 128;
  }
  return FRAME_MALFORMED;
}

/** Bytes of a Variable Byte Integer in its minimal encoding (MQTT 5.0 §1.5.5 [MQTT-1.5.5-1]). */
export function varintBytes(value: number): number {
  return value < 128 ? 1 : value < 16_384 ? 2 : value < 2_097_152 ? 3 : 4;
}

/**
 * A Variable Byte Integer at frame[at] in its minimal encoding, ending by `end`; else -1 (mqtt-packet
 * reads a longer encoding too, and generate() writes the minimal one: not the same bytes).
 */
export function readVarint(frame: Buffer, at: number, end: number): number {
  let value = 0;
  let multiplier = 1;
  for (let i = 0; i < 4 && at + i < end; i++) {
    const byte = frame[at + i] ?? 0;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return i + 1 === varintBytes(value) ? value : -1;
    multiplier *= 128;
  }
  return -1;
}
