import type { IPublishPacket } from 'mqtt-packet';

/**
 * A delivery that waited in the orchestrator (its client's window full) before it is sent (pure).
 * The orchestrator is the server its client sees, so MQTT 5's rules for a server apply to the time a
 * message waits here: its Message Expiry Interval goes out reduced by the whole seconds it waited
 * [MQTT-3.3.2-6], and once that reaches 0 it is not delivered at all [MQTT-3.3.2-5]. (What the broker
 * holds, it counts down itself.) Returns the packet to send (the same one, or a copy with the interval
 * left), or undefined: expired.
 */
export function afterWaiting(packet: IPublishPacket, waitedMs: number): IPublishPacket | undefined {
  const interval = packet.properties?.messageExpiryInterval;
  if (interval === undefined || waitedMs < 1000) return packet;
  const left = interval - Math.floor(waitedMs / 1000);
  if (left <= 0) return undefined;
  return { ...packet, properties: { ...packet.properties, messageExpiryInterval: left } };
}
