import type { Buffer } from 'node:buffer';
/**
 * A v5 property block read from its bytes (pure), for the raw-frame fast path. A PUBLISH's: the object
 * mqtt-packet's parser builds from it, for the properties an application message carries and the
 * orchestrator passes on untouched (Payload Format Indicator, Message Expiry Interval, Content Type,
 * Response Topic, Correlation Data, User Properties, the Subscription Identifiers a broker's delivery
 * carries (from a client the session refuses them [MQTT-3.3.4-6], on either road), and a client's Topic
 * Alias (the session resolves it; the writer then leaves its three bytes out: raw-write.ts `unaliased`).
 * Anything else returns undefined and mqtt-packet decides: any other property id, a property other
 * than a User Property or Subscription Identifier given twice (mqtt-packet makes an array of it), a
 * Subscription Identifier of 0 or a User Property repeating a name whose value was empty (mqtt-packet
 * overwrites a falsy earlier value instead of appending), a Payload Format Indicator other than 0 or 1
 * (mqtt-packet turns it into a boolean, so it would forward 1), a Variable Byte Integer not in its
 * minimal encoding, a value running past the block, or a block running past the frame. So the bytes
 * the writer copies are, property for property, what generate() would write, in the sender's order
 * ([MQTT-3.3.2-18]: User Properties keep their order; generate() would group them, and the
 * Subscription Identifiers, where the first one was).
 * An acknowledgement's: its Reason String and User Properties, read so that the packet is mqtt-packet's;
 * the flows relay only the reason code (as before, on the full path).
 */
import { readVarint, varintBytes } from './frames.ts';

/**
 * A property block read: mqtt-packet's `properties` (undefined for an empty block), where it ends, and
 * where its Topic Alias property starts (-1: none).
 */
export interface PropertyBlock {
  properties: Record<string, unknown> | undefined;
  end: number;
  aliasAt: number;
}

const PAYLOAD_FORMAT = 0x01;
const MESSAGE_EXPIRY = 0x02;
const CONTENT_TYPE = 0x03;
const RESPONSE_TOPIC = 0x08;
const CORRELATION_DATA = 0x09;
const SUBSCRIPTION_ID = 0x0b;
const TOPIC_ALIAS = 0x23;
const USER_PROPERTY = 0x26;

const REASON_STRING = 0x1f;

/** Which property ids a reader takes (by id); any other sends the frame to mqtt-packet. */
function accepting(ids: readonly number[]): Uint8Array {
  const table = new Uint8Array(256);
  for (const id of ids) table[id] = 1;
  return table;
}
const PUBLISH_IDS = accepting([
  PAYLOAD_FORMAT,
  MESSAGE_EXPIRY,
  CONTENT_TYPE,
  RESPONSE_TOPIC,
  CORRELATION_DATA,
  SUBSCRIPTION_ID,
  TOPIC_ALIAS,
  USER_PROPERTY,
]);
/** What a v5 PUBACK, PUBREC, PUBREL or PUBCOMP may carry (MQTT 5 §3.4.2.2): diagnostics the flows do not relay. */
const ACK_IDS = accepting([REASON_STRING, USER_PROPERTY]);

/**
 * Reads a PUBLISH's block whose Property Length starts at frame[start]; the frame ends at `limit`.
 * Binary values are views of `frame` (the fast path's own copy of the frame), as mqtt-packet's are of
 * its input.
 */
export function readPublishProperties(
  frame: Buffer,
  start: number,
  limit: number,
): PropertyBlock | undefined {
  return readProperties(frame, start, limit, PUBLISH_IDS);
}

/**
 * Reads an acknowledgement's block (Reason String, User Properties; anything else: undefined, to
 * mqtt-packet). Strings only: nothing of `frame` is kept, so it may be the shared read buffer.
 */
export function readAckProperties(frame: Buffer, start: number, limit: number): PropertyBlock | undefined {
  return readProperties(frame, start, limit, ACK_IDS);
}

function readProperties(
  frame: Buffer,
  start: number,
  limit: number,
  accepted: Uint8Array,
): PropertyBlock | undefined {
  const length = readVarint(frame, start, limit);
  if (length < 0) return undefined;
  let at = start + varintBytes(length);
  const end = at + length;
  if (end > limit) return undefined;
  if (length === 0) return { properties: undefined, end, aliasAt: -1 };
  let aliasAt = -1;
  const properties: Record<string, unknown> = {};
  let user: Record<string, string | string[]> | undefined;
  while (at < end) {
    const id = frame[at++] ?? 0;
    if (accepted[id] !== 1) return undefined;
    if (id === USER_PROPERTY) {
      const nameEnd = stringEnd(frame, at, end);
      if (nameEnd < 0) return undefined;
      const valueEnd = stringEnd(frame, nameEnd, end);
      if (valueEnd < 0) return undefined;
      const name = frame.toString('utf8', at + 2, nameEnd);
      const value = frame.toString('utf8', nameEnd + 2, valueEnd);
      if (user === undefined) {
        // mqtt-packet's own shape: a prototype-less map, a repeated name's values in an array.
        user = Object.create(null) as Record<string, string | string[]>;
        properties.userProperties = user;
      }
      const seen = user[name];
      // mqtt-packet tests the earlier value's truth: after an empty one it overwrites, not appends.
      if (seen === '') return undefined;
      if (seen === undefined) user[name] = value;
      else if (Array.isArray(seen)) seen.push(value);
      else user[name] = [seen, value];
      at = valueEnd;
      continue;
    }
    if (id === SUBSCRIPTION_ID) {
      const value = readVarint(frame, at, end);
      // 0 is a Protocol Error (MQTT 5 §3.3.2.3.8); mqtt-packet would let a later one overwrite it.
      if (value <= 0) return undefined;
      // mqtt-packet's shape: a number, an array from the second one on.
      const seen = properties.subscriptionIdentifier;
      if (seen === undefined) properties.subscriptionIdentifier = value;
      else if (Array.isArray(seen)) seen.push(value);
      else properties.subscriptionIdentifier = [seen, value];
      at += varintBytes(value);
      continue;
    }
    const name = NAMES[id];
    if (name === undefined || name in properties) return undefined;
    switch (id) {
      case TOPIC_ALIAS:
        if (at + 2 > end) return undefined;
        aliasAt = at - 1;
        properties[name] = frame.readUInt16BE(at);
        at += 2;
        break;
      case PAYLOAD_FORMAT: {
        const value = frame[at];
        if (at + 1 > end || (value !== 0 && value !== 1)) return undefined;
        properties[name] = value === 1;
        at += 1;
        break;
      }
      case MESSAGE_EXPIRY:
        if (at + 4 > end) return undefined;
        properties[name] = frame.readUInt32BE(at);
        at += 4;
        break;
      case CORRELATION_DATA: {
        const valueEnd = stringEnd(frame, at, end);
        if (valueEnd < 0) return undefined;
        properties[name] = frame.subarray(at + 2, valueEnd);
        at = valueEnd;
        break;
      }
      default: {
        // Content Type, Response Topic, Reason String: UTF-8 strings (the session's checks read them, as
        // on the full path).
        const valueEnd = stringEnd(frame, at, end);
        if (valueEnd < 0) return undefined;
        properties[name] = frame.toString('utf8', at + 2, valueEnd);
        at = valueEnd;
      }
    }
  }
  return { properties, end, aliasAt };
}

const NAMES: Record<number, string> = {
  [PAYLOAD_FORMAT]: 'payloadFormatIndicator',
  [MESSAGE_EXPIRY]: 'messageExpiryInterval',
  [CONTENT_TYPE]: 'contentType',
  [RESPONSE_TOPIC]: 'responseTopic',
  [CORRELATION_DATA]: 'correlationData',
  [TOPIC_ALIAS]: 'topicAlias',
  [REASON_STRING]: 'reasonString',
};

/** End of a two-byte-length string or binary at frame[at], or -1 if it runs past `end`. */
function stringEnd(frame: Buffer, at: number, end: number): number {
  if (at + 2 > end) return -1;
  const valueEnd = at + 2 + frame.readUInt16BE(at);
  return valueEnd > end ? -1 : valueEnd;
}
