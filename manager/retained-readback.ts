import type { MqttClient } from 'mqtt';
import { checkCopies, type SentCopy } from './retained-copy-check.ts';
import { readFenced } from './retained-read.ts';

/**
 * The retained values a broker holds on `topics` (exact topic names, valid filters [MQTT-3.3.2-2]),
 * read on `client`, the connection that wrote the copies: a broker handles one connection's packets in
 * order (Mosquitto's loop; RabbitMQ's connection process, whose retain casts and retained fetch go to
 * the same retainer), so a copy it stored is seen, and one it never got is not. The read is fenced by a
 * marker (retained-read.ts). A value arriving late is only reported missing, which makes the copy
 * again: safe. Rejects on a timeout, a close or `signal`; the subscriptions are dropped again on success.
 */
export async function readBack(
  client: MqttClient,
  topics: readonly string[],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Map<string, Buffer>> {
  const wanted = new Set(topics);
  const held = new Map<string, Buffer>();
  await readFenced(
    client,
    Object.fromEntries(topics.map((x) => [x, { qos: 0 as const }])),
    (packet) => {
      if (wanted.has(packet.topic)) held.set(packet.topic, Buffer.from(packet.payload));
    },
    { label: `read-back of ${topics.length} copies`, timeoutMs, unsubscribe: true, signal },
  );
  return held;
}

/** Topics per read-back SUBSCRIBE (one round trip each, in turn per owner). */
const READBACK_TOPICS = 200;

/**
 * The copies of `sent`, QoS 0 ones (a QoS 1 or 2 copy was acknowledged: stored), that a read-back of
 * their owner found with the same payload (review finding 7). An owner whose read-back fails (timeout, close) confirms no more of them
 * and is forgotten, so the next pass opens a new connection to it.
 */
export async function confirmCopies<T extends SentCopy & { qos: 0 }>(
  sent: readonly T[],
  target: (id: string) => Promise<MqttClient>,
  forget: (id: string) => void,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<T[]> {
  const byOwner = new Map<string, string[]>();
  for (const c of sent) {
    const topics = byOwner.get(c.owner);
    if (topics) topics.push(c.topic);
    else byOwner.set(c.owner, [c.topic]);
  }
  const held = new Map<string, Map<string, Buffer>>();
  await Promise.all(
    [...byOwner].map(async ([owner, topics]) => {
      const found = new Map<string, Buffer>();
      try {
        const client = await target(owner);
        for (let i = 0; i < topics.length; i += READBACK_TOPICS)
          for (const [k, v] of await readBack(
            client,
            topics.slice(i, i + READBACK_TOPICS),
            timeoutMs,
            signal,
          ))
            found.set(k, v);
      } catch {
        forget(owner); // what was read so far stands; the rest is copied again
      }
      held.set(owner, found);
    }),
  );
  return checkCopies(sent, held).stored;
}
