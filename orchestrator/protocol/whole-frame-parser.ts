import type { Buffer } from 'node:buffer';
import type { Packet } from 'mqtt-packet';
import mqttPacket from '../../common/mqtt-packet.ts';

type Parser = ReturnType<typeof mqttPacket.parser>;
/** The parser settings a stream carries (mqtt-packet replaces them with the CONNECT it parses). */
export type ParserSettings = { protocolVersion: number } & Record<string, unknown>;

/**
 * mqtt-packet's parser, one for the whole process: framing hands it one whole frame at a time, so it
 * holds no state between frames, and one parser per connection (with the BufferList stream it keeps)
 * cost kilobytes per connection. Each stream keeps its own settings (protocol level, and the CONNECT
 * mqtt-packet adopts as settings), swapped in around the call. The packet is returned, not emitted,
 * so no listener runs while the parser is mid-frame.
 */
let shared: { parser: Parser; packet: Packet | undefined; error: Error | undefined } | undefined;

export function parseWholeFrame(
  frame: Buffer,
  settings: ParserSettings,
): { packet: Packet; settings: ParserSettings } | Error {
  if (!shared) {
    const slot = { parser: mqttPacket.parser({ protocolVersion: 4 }), packet: undefined, error: undefined };
    slot.parser.on('packet', (p: Packet) => {
      (slot as { packet?: Packet }).packet = p;
    });
    slot.parser.on('error', (e: Error) => {
      (slot as { error?: Error }).error ??= e;
    });
    shared = slot;
  }
  const slot = shared;
  const parser = slot.parser as unknown as { settings: ParserSettings };
  parser.settings = settings;
  slot.parser.parse(frame);
  const { packet, error } = slot;
  const after = parser.settings;
  slot.packet = undefined;
  slot.error = undefined;
  if (error || !packet) {
    shared = undefined; // a parser that failed mid-frame is not reused: the next one starts clean
    return error ?? new Error('incomplete packet');
  }
  return { packet, settings: after };
}
