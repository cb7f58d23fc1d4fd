import { randomBytes } from 'node:crypto';
import type { IPublishPacket, MqttClient, Packet } from 'mqtt';
import { TimeoutError } from '../common/errors.ts';

/** What a retained move throws once its caller gave up on it (MoveOptions.signal). */
export const stopped = (): Error => new Error('retained move stopped');

export interface FencedReadOptions {
  /** Names the read in its errors (`${label} did not happen within N ms`, `${label}: connection closed`). */
  label: string;
  timeoutMs: number;
  /** Drop the subscriptions again once the read is done (a connection that goes on being used). */
  unsubscribe?: boolean;
  /** The caller gave up: the read rejects at once ('retained move stopped'). */
  signal?: AbortSignal | undefined;
}

/**
 * The retained messages a broker sends on `client` for `filters`, complete without a fixed wait: the
 * broker sends a subscription's retained messages after its SUBACK [MQTT-3.3.1-6]; then a QoS 1 marker
 * is published on a topic only this connection subscribes to, and a broker delivers in order per
 * connection (Mosquitto's loop; RabbitMQ's connection process; QoS 1/2 messages share one queue), so
 * once the marker is back every retained message came before it. Each is given to `onRetained` in wire
 * order ('message' would come at PUBREL for a QoS 2 one, after a later QoS 1 marker); live (not retained)
 * publishes are skipped. Rejects on a timeout, a close of the connection, or `signal`.
 */
export async function readFenced(
  client: MqttClient,
  filters: Readonly<Record<string, { qos: 0 | 1 | 2 }>>,
  onRetained: (packet: IPublishPacket) => void,
  o: FencedReadOptions,
): Promise<void> {
  const marker = `$brokel/move/${randomBytes(8).toString('hex')}`;
  const { signal } = o;
  let onPacket: ((packet: Packet) => void) | undefined;
  let onClose: (() => void) | undefined;
  let onAbort: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const done = new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(o.label, o.timeoutMs)), o.timeoutMs);
      onPacket = (packet) => {
        if (packet.cmd !== 'publish') return;
        if (packet.topic === marker) resolve();
        else if (packet.retain) onRetained(packet); // not a live message: a stored one
      };
      onClose = () => reject(new Error(`${o.label}: connection closed`));
      onAbort = () => reject(stopped());
      client.on('packetreceive', onPacket);
      client.once('close', onClose);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
    done.catch(() => undefined);
    if (client.disconnected || client.disconnecting)
      throw new Error(`${o.label}: connection closed before the read`);
    // Beside `done`, so a close (or the signal) ends the read even while the SUBACK is awaited.
    await Promise.all([
      done,
      client
        .subscribeAsync({ ...filters, [marker]: { qos: 1 } })
        .then(() => client.publishAsync(marker, 'end', { qos: 1 })),
    ]);
    if (o.unsubscribe) client.unsubscribe([...Object.keys(filters), marker], () => undefined);
  } finally {
    clearTimeout(timer);
    if (onPacket) client.off('packetreceive', onPacket);
    if (onClose) client.off('close', onClose);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
