import { performance } from 'node:perf_hooks';
import type { IPublishPacket, Packet } from 'mqtt-packet';

/**
 * A message that waited in the orchestrator before it is sent (pure): a delivery waiting for its
 * client's window (outbound-delivery.ts), or a client's publish waiting for a broker: a free slot,
 * any broker, a retained move, another broker after its own died (publish-routing.ts). The
 * orchestrator is the server its client sees and the client its broker sees, so MQTT 5's rules apply
 * to the time a message waits here: its Message Expiry Interval goes out reduced by the whole seconds
 * it waited [MQTT-3.3.2-6], and once that reaches 0 it is not sent on at all [MQTT-3.3.2-5]. (What a
 * broker holds, it counts down itself.) Returns the packet to send (the same one, or a copy with the
 * interval left), or undefined: expired.
 */
export function afterWaiting(packet: IPublishPacket, waitedMs: number): IPublishPacket | undefined {
  const interval = packet.properties?.messageExpiryInterval;
  if (interval === undefined || waitedMs < 1000) return packet;
  const left = interval - Math.floor(waitedMs / 1000);
  if (left <= 0) return undefined;
  return { ...packet, properties: { ...packet.properties, messageExpiryInterval: left } };
}

/** When a client's publish with an expiry was set aside before its flow saw it (performance.now(), ms). */
const heldSince = new WeakMap<object, number>();

/**
 * A client packet set aside before the publish flow sees it (sent before the session was connected, or
 * while a lazy session opens its links): a publish with an expiry counts its wait from `since` (now, or
 * its arrival when the flow had it already); the first stamp stays.
 */
export function setAside(packet: Packet, since = performance.now()): void {
  if (packet.cmd !== 'publish' || packet.properties?.messageExpiryInterval === undefined) return;
  if (!heldSince.has(packet)) heldSince.set(packet, since);
}

/** When a client's publish arrived here: when it was set aside (setAside), else now. */
export function arrivalOf(packet: IPublishPacket): number {
  return heldSince.get(packet) ?? performance.now();
}
