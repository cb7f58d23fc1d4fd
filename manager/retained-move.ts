import { randomBytes } from 'node:crypto';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { parseBrokerUrl } from '../common/admin/contract.ts';
import { withMoveMarker } from '../common/move-marker.ts';
import { retainedOwner } from '../common/retained-owner.ts';
import type { SentCopy } from './retained-copy-check.ts';
import { readFenced, stopped } from './retained-read.ts';
import { confirmCopies } from './retained-readback.ts';

/** A retained message as read from a broker: enough to publish it again unchanged. */
export interface RetainedMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  /** MQTT 5 properties worth keeping (content type, user properties, remaining expiry, ...). */
  properties: IPublishPacket['properties'];
}

export interface MoveOptions {
  /** Brokers that may hold retained messages another broker now owns (`mqtt://host:port`). */
  sources: readonly string[];
  /** The owner set once the move is done: broker ids (`host:port`), as the orchestrators hash them. */
  owners: readonly string[];
  auth: { username?: string; password?: string };
  /** Bound on each read and each publish. */
  timeoutMs: number;
  /**
   * Highest QoS a broker takes, by id (RabbitMQ 3.10: 1; it answers a QoS 2 PUBLISH with PUBACK, which
   * a QoS 2 publisher would wait on forever). Absent: 2.
   */
  maxQos?: ReadonlyMap<string, 0 | 1 | 2>;
  /**
   * Clear each moved topic on its source (default). A draining source, about to be destroyed, is left
   * as it is: its subscribers would otherwise get an empty message per moved topic.
   */
  clearSource?: boolean;
  /** brokers.tls: the CA the `mqtts://` brokers' certificates are verified against (no unverified TLS). */
  ca?: Buffer;
  /** Read passes per source before giving up on one that keeps showing topics to move. */
  maxPasses?: number;
  /**
   * Sources read with these exact topic filters instead of `#` (by URL): a broker that sends retained
   * messages to exact filters only (RabbitMQ 3.10), for the topics known to have been copied to it.
   */
  exactTopics?: ReadonlyMap<string, readonly string[]>;
  /** Told of each copy as it is published, before its acknowledgement: owner id and topic. */
  onCopy?: (owner: string, topic: string) => void;
  /**
   * The caller gave up on the move (its deadline): no copy and no clear starts once this aborts, reads
   * and connection set-ups end at once, and the move settles only when every copy and clear it sent is
   * acknowledged (or its connection closed by the broker). So once it settled, every clear a source got
   * follows a copy its owner acknowledged, and no clear is still on its way (issue 17: a failed join
   * copies back what the new broker holds, and a late clear must not overwrite that copy).
   */
  signal?: AbortSignal;
}

/** What a move did: values moved (copy known stored), read passes, QoS 0 copies not found on their owner. */
export interface MoveResult {
  moved: number;
  passes: number;
  /** QoS 0 copies a read-back of their owner did not find (copied again on the next pass). */
  unconfirmed: number;
}

/** Copies being published and cleared at once (Mosquitto's default receive maximum is 20). */
const WINDOW = 10;
/** Properties a broker sets per delivery, not part of the message. */
const DROP = new Set(['subscriptionIdentifier', 'topicAlias']);

const idOf = (url: string) => parseBrokerUrl(url).id;

/** One connection attempt: resolves at CONNACK, rejects on an error, a close or `signal` before it. */
function connectOnce(url: string, options: IClientOptions, signal?: AbortSignal): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, options);
    const fail = (err: Error) => {
      client.off('connect', ok);
      signal?.removeEventListener('abort', aborted);
      client.end(true);
      reject(err);
    };
    const closed = () => fail(new Error(`${url} closed the connection before CONNACK`));
    const aborted = () => fail(stopped());
    const ok = () => {
      client.off('error', fail);
      client.off('close', closed);
      signal?.removeEventListener('abort', aborted);
      resolve(client);
    };
    client.once('connect', ok);
    client.once('error', fail);
    client.once('close', closed);
    if (signal?.aborted) aborted();
    else signal?.addEventListener('abort', aborted, { once: true });
  });
}

/** Rejects once the client's connection closes (one listener per client, however many publishes). */
const closes = new WeakMap<MqttClient, Promise<never>>();

/** A publish's acknowledgement, or a rejection when the broker closes the connection first. */
function acked(client: MqttClient, publish: Promise<unknown>): Promise<unknown> {
  let closed = closes.get(client);
  if (!closed) {
    closed = new Promise<never>((_, reject) =>
      client.once('close', () => reject(new Error('connection closed before the acknowledgement'))),
    );
    closed.catch(() => undefined);
    closes.set(client, closed);
  }
  return Promise.race([publish, closed]);
}

/** Connects as MQTT 5, or 3.1.1 when the broker refuses 5 (RabbitMQ 3.10 closes the connection). */
async function open(
  url: string,
  auth: MoveOptions['auth'],
  timeoutMs: number,
  ca?: Buffer,
  signal?: AbortSignal,
): Promise<MqttClient> {
  const base: IClientOptions = {
    ...auth,
    ...(ca ? { ca, rejectUnauthorized: true } : {}),
    clientId: `brokel-move-${randomBytes(6).toString('hex')}`,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
  };
  try {
    return await connectOnce(url, { ...base, protocolVersion: 5 }, signal);
  } catch (err) {
    if (signal?.aborted) throw err;
    return await connectOnce(url, { ...base, protocolVersion: 4 }, signal);
  }
}

/**
 * Every retained message a broker holds on non-`$` topics (or, given `topics`, on those exact topics),
 * read on a connection of its own and fenced by a marker (retained-read.ts), so complete without a
 * fixed wait.
 */
export async function readRetained(
  url: string,
  auth: MoveOptions['auth'],
  timeoutMs: number,
  ca?: Buffer,
  signal?: AbortSignal,
  topics?: readonly string[],
): Promise<RetainedMessage[]> {
  if (topics?.length === 0) return [];
  const client = await open(url, auth, timeoutMs, ca, signal);
  const found = new Map<string, RetainedMessage>();
  try {
    // QoS 2 subscription: each message comes at the QoS it was published with (RabbitMQ: at most 1).
    await readFenced(
      client,
      Object.fromEntries((topics ?? ['#']).map((filter) => [filter, { qos: 2 as const }])),
      (packet) => {
        const properties = Object.fromEntries(
          Object.entries(packet.properties ?? {}).filter(([k]) => !DROP.has(k)),
        ) as IPublishPacket['properties'];
        const { topic, payload, qos } = packet;
        found.set(topic, { topic, payload: Buffer.from(payload), qos, properties });
      },
      // Given up: the read ends at once (it writes nothing but its own marker).
      { label: `retained messages of ${url}`, timeoutMs, signal },
    );
    return [...found.values()];
  } finally {
    client.end(true);
  }
}

/**
 * What the mover publishes carries the move marker (common/move-marker.ts) where the broker speaks
 * MQTT 5, so orchestrators hide the copy and the clear (a zero-byte retained publish is delivered to
 * matching subscriptions too, 3.1.1 [MQTT-3.3.1-10]) from subscribers that had the value live.
 */
function marked(to: MqttClient, properties: RetainedMessage['properties']) {
  if (to.options.protocolVersion !== 5) return {};
  return { properties: { ...properties, userProperties: withMoveMarker(properties?.userProperties) } };
}

/**
 * Moves every retained message whose owner among `owners` is not the broker holding it: published on
 * the owner at its original QoS (2 stays 2) and properties, then cleared on the holder (unless clearSource is false). Each topic's
 * copy is known stored before its clear, so a move stopped at any point and run again finishes it
 * (a copy made twice is the same value): a QoS 1/2 copy is acknowledged; a QoS 0 one (not acknowledged,
 * and kept QoS 0) is read back from its owner (retained-readback.ts); one not found there stays on its
 * source and is copied again on the next pass, also on a drain, whose source is destroyed after. A source is read again after each pass until a read finds
 * nothing to move: a broker whose queue limit dropped part of the first read is still emptied.
 * The caller holds client retained publishes on the moving topics meanwhile (RetainedFence).
 */
export async function moveRetained(o: MoveOptions): Promise<MoveResult> {
  // One connection per broker, cached as a promise: a window's copies ask for it at the same time.
  const targets = new Map<string, Promise<MqttClient>>();
  const target = (id: string): Promise<MqttClient> => {
    let client = targets.get(id);
    if (!client) {
      client = open(`${o.ca ? 'mqtts' : 'mqtt'}://${id}`, o.auth, o.timeoutMs, o.ca, o.signal);
      targets.set(id, client);
    }
    return client;
  };
  const closing: Array<Promise<unknown>> = [];
  /** Drops a connection whose read-back failed: the next pass opens a new one. */
  const forget = (id: string) => {
    const client = targets.get(id);
    targets.delete(id);
    if (client) closing.push(client.then((c) => c.endAsync(true)).catch(() => undefined));
  };
  const go = () => {
    if (o.signal?.aborted) throw stopped();
  };
  let moved = 0;
  let passes = 0;
  let unconfirmed = 0;
  try {
    const clear = o.clearSource ?? true;
    for (const source of o.sources) {
      const copied = new Set<string>(); // not cleared: the next pass looks for topics not seen yet
      for (let pass = 1; ; pass++) {
        passes += 1;
        const read = await readRetained(
          source,
          o.auth,
          o.timeoutMs,
          o.ca,
          o.signal,
          o.exactTopics?.get(source),
        );
        const misplaced = read.filter(
          (m) => retainedOwner(m.topic, o.owners) !== idOf(source) && !copied.has(m.topic),
        );
        if (misplaced.length === 0) break;
        if (pass > (o.maxPasses ?? 5))
          throw new Error(
            `${source} still holds ${misplaced.length} retained topics after ${pass - 1} passes (${unconfirmed} QoS 0 copies not found on their owner)`,
          );
        const holder = clear ? await target(idOf(source)) : undefined;
        /** A copy known stored: cleared on its source if the caller still waits; not cleared: noted. */
        const settle = async (topic: string) => {
          if (holder) {
            go();
            await acked(
              holder,
              holder.publishAsync(topic, Buffer.alloc(0), {
                qos: 1,
                retain: true,
                ...marked(holder, undefined),
              }),
            );
          } else copied.add(topic);
          moved += 1;
        };
        // Review finding 7: a QoS 0 copy has no acknowledgement; it is settled after the pass's read-back.
        const sentQos0: Array<SentCopy & { qos: 0 }> = [];
        for (let i = 0; i < misplaced.length; i += WINDOW) {
          // Settled, not all: a failed copy leaves the window's other clears acknowledged first.
          const window = await Promise.allSettled(
            misplaced.slice(i, i + WINDOW).map(async (m) => {
              const owner = retainedOwner(m.topic, o.owners);
              if (owner === undefined) throw new Error(`no owner for ${m.topic}`);
              const to = await target(owner);
              go();
              const qos = Math.min(m.qos, o.maxQos?.get(owner) ?? 2) as 0 | 1 | 2;
              o.onCopy?.(owner, m.topic);
              await acked(
                to,
                to.publishAsync(m.topic, m.payload, { qos, retain: true, ...marked(to, m.properties) }),
              );
              if (qos === 0) sentQos0.push({ topic: m.topic, payload: m.payload, qos, owner });
              else await settle(m.topic); // acknowledged: stored
            }),
          );
          const failed = window.find((r) => r.status === 'rejected');
          if (failed) throw failed.reason;
        }
        const stored = await confirmCopies(sentQos0, target, forget, o.timeoutMs, o.signal);
        unconfirmed += sentQos0.length - stored.length; // left on the source: copied again next pass
        for (let i = 0; i < stored.length; i += WINDOW) {
          const window = await Promise.allSettled(stored.slice(i, i + WINDOW).map((m) => settle(m.topic)));
          const failed = window.find((r) => r.status === 'rejected');
          if (failed) throw failed.reason;
        }
      }
    }
  } finally {
    await Promise.all([
      ...closing,
      ...[...targets.values()].map((c) =>
        c.then(
          (client) => client.endAsync(true),
          () => undefined,
        ),
      ),
    ]);
  }
  return { moved, passes, unconfirmed };
}
