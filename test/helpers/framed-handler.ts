import type { Packet } from 'mqtt-packet';
import type { FramedHandler } from '../../orchestrator/protocol/framed-stream.ts';

/** A FramedHandler that records nothing but what `on` asks for. */
export function framedHandler(
  on: { packet?: (p: Packet) => void; error?: (err: Error) => void } = {},
): FramedHandler {
  return {
    framePacket: on.packet ?? (() => undefined),
    frameBadInput: on.error ?? (() => undefined),
    frameClosed: () => undefined,
    frameTransportError: () => undefined,
    frameEncodeError: () => undefined,
  };
}
