import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { followRedirects } from './follow-redirects.ts';
import { resolveA } from './target.ts';

export type QoS = 0 | 1 | 2;

export function parseQos(value: string | undefined, fallback: QoS = 1): QoS {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (n !== 0 && n !== 1 && n !== 2) throw new RangeError(`--qos: ${value} is not 0, 1 or 2`);
  return n;
}

/** Where a client that was closed looks the service name up again (the geo-dns), and which answer it takes. */
export interface Follow {
  dns: string;
  name: string;
}

/**
 * An MQTT.js client with TCP_NODELAY (FIELD-NOTES: neither side sets it by default) and a bounded
 * connect; it reconnects after a drop (an orchestrator being drained closes 3.1.1 clients), and
 * MQTT.js re-sends unacknowledged QoS 1/2 publishes when it does. It follows a rebalance as a
 * well-behaved device would (docs/rebalancing.md): to a v5 DISCONNECT's Server Reference, and after a
 * plain close to what `follow`'s DNS answers now (client `index` takes answer index mod n).
 */
export async function connectMqtt(
  url: string,
  options: IClientOptions = {},
  follow?: Follow & { index: number },
): Promise<MqttClient> {
  const client = mqtt.connect(url, { connectTimeout: 10_000, reconnectPeriod: 1000, ...options });
  followRedirects(
    client,
    follow
      ? async () => {
          const addresses = await resolveA(follow.dns, follow.name, 1000);
          return addresses[follow.index % addresses.length];
        }
      : undefined,
  );
  client.on('connect', () => {
    const stream = client.stream as { setNoDelay?: (on: boolean) => void };
    stream.setNoDelay?.(true);
  });
  client.on('error', () => undefined); // surfaced through the connect promise or reconnects
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.end(true);
      reject(new Error(`${url}: no CONNACK in 15 s`));
    }, 15_000);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return client;
}

/** Ends a client gracefully, forcing it after `graceMs` (a broker that is gone never answers). */
export function endMqtt(client: MqttClient, graceMs = 3000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => client.end(true, {}, () => resolve()), graceMs);
    client.end(false, {}, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
