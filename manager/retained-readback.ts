import { randomBytes } from 'node:crypto';
import type { MqttClient, Packet } from 'mqtt';
import { TimeoutError } from '../common/errors.ts';
import { checkCopies, needsReadBack, type SentCopy } from './retained-copy-check.ts';

/**
 * The retained values a broker holds on `topics` (exact topic names, valid filters [MQTT-3.3.2-2]),
 * read on `client`, the connection that wrote the copies: a broker handles one connection's packets in
 * order (Mosquitto's loop; RabbitMQ's connection process, whose retain casts and retained fetch go to
 * the same retainer), so a copy it stored is seen, and one it never got is not. The broker sends the
 * retained values after the SUBACK [MQTT-3.3.1-6]; a QoS 1 marker published after the SUBACK on a
 * topic only this connection subscribes to comes back after them (the read in retained-move.ts uses
 * the same fence). A value arriving late is only reported missing, which makes the copy again: safe.
 * Rejects on a timeout, a close or `signal`; the subscriptions are dropped again on success.
 */
export async function readBack(
  client: MqttClient,
  topics: readonly string[],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Map<string, Buffer>> {
  const marker = `$brokel/move/${randomBytes(8).toString('hex')}`;
  const wanted = new Set(topics);
  const held = new Map<string, Buffer>();
  let onPacket: ((packet: Packet) => void) | undefined;
  let onClose: (() => void) | undefined;
  let onAbort: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const done = new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new TimeoutError(`read-back of ${topics.length} copies`, timeoutMs)),
        timeoutMs,
      );
      onPacket = (packet) => {
        if (packet.cmd !== 'publish') return;
        if (packet.topic === marker) resolve();
        else if (packet.retain && wanted.has(packet.topic))
          held.set(packet.topic, Buffer.from(packet.payload));
      };
      onClose = () => reject(new Error('connection closed during the read-back'));
      onAbort = () => reject(new Error('retained move stopped'));
      client.on('packetreceive', onPacket);
      client.once('close', onClose);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
    done.catch(() => undefined);
    if (client.disconnected || client.disconnecting)
      throw new Error('connection closed before the read-back');
    const filters = Object.fromEntries([
      ...topics.map((x) => [x, { qos: 0 as const }]),
      [marker, { qos: 1 as const }],
    ]);
    await Promise.race([
      client.subscribeAsync(filters).then(() => client.publishAsync(marker, 'end', { qos: 1 })),
      done,
    ]);
    await done;
    client.unsubscribe([...topics, marker], () => undefined);
    return held;
  } finally {
    clearTimeout(timer);
    if (onPacket) client.off('packetreceive', onPacket);
    if (onClose) client.off('close', onClose);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/** Topics per read-back SUBSCRIBE (one round trip each, in turn per owner). */
const READBACK_TOPICS = 200;

/**
 * The copies known stored: the acknowledged ones, and the QoS 0 ones read back from their owner with
 * the same payload (review finding 7). An owner whose read-back fails (timeout, close) confirms no more
 * of them and is forgotten, so the next pass opens a new connection to it.
 */
export async function confirmCopies<T extends SentCopy>(
  sent: readonly T[],
  target: (id: string) => Promise<MqttClient>,
  forget: (id: string) => void,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<T[]> {
  const byOwner = new Map<string, string[]>();
  for (const c of needsReadBack(sent)) {
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
