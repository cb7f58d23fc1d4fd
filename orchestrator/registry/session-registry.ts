import { randomBytes } from 'node:crypto';
import type { IPublishPacket, ISubscribePacket, Packet } from 'mqtt-packet';
import { errorMessage, TimeoutError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { AnswerTimeout } from '../../common/net/answer-timeout.ts';
import type { OrchestratorLimits } from '../limits.ts';
import type { PoolBroker } from '../pool/broker-pool.ts';
import { Upstream } from '../session/upstream.ts';
import type { Claim } from './claims.ts';
import { openAccepted } from './open-accepted.ts';
import { Presence } from './presence.ts';
import { type ProbeAnswer, RecordProbes } from './record-probes.ts';
import {
  encodeTombstone,
  isTombstone,
  liveRecord,
  newestRecord,
  type RegistryRecord,
} from './record-version.ts';
import {
  clientIdOfRegistryTopic,
  decodeEntry,
  decodeRecord,
  encodeEntry,
  instanceOfPresenceTopic,
  NEVER_EXPIRES,
  PRESENCE_FILTER,
  REGISTRY_FILTER,
  type RegistryEntry,
  registryTopic,
} from './reserved.ts';

export interface RegistryOptions {
  limits: OrchestratorLimits;
  log: Logger;
  /** Credentials of the registry's own connections (reads, and replays for sessions that are away). */
  credentials?: { username: string; password: string };
  /** Protocol level a broker speaks (the pool's probe). */
  protocolVersion(brokerId: string): Promise<4 | 5>;
  /** A client connected to another replica (claims.ts). */
  onClaim?(claim: Claim): void;
}

/** The record to publish for an entry (retained); `expirySeconds` > 0 makes it expire (v5 links only). */
export function registryPublish(
  clientId: string,
  entry: RegistryRecord | null,
  v5: boolean,
  expirySeconds = 0,
): IPublishPacket {
  const packet: IPublishPacket = {
    cmd: 'publish',
    topic: registryTopic(clientId),
    // An empty retained message removes the record [MQTT-3.3.1-10].
    payload: entry ? (isTombstone(entry) ? encodeTombstone(entry) : encodeEntry(entry)) : Buffer.alloc(0),
    qos: 0,
    retain: true,
    dup: false,
  };
  if (v5 && expirySeconds > 0 && expirySeconds !== NEVER_EXPIRES)
    packet.properties = { messageExpiryInterval: expirySeconds };
  return packet;
}

interface Reader {
  upstream: Upstream;
  /** Reads run one at a time on a connection: the UNSUBACK closes the one in progress. */
  queue: Promise<unknown>;
  onPacket?: (p: Packet) => void;
  nextId: number;
}

/**
 * The session registry's I/O: reads records from a broker through a connection of its own (clean
 * session, never a client's id), and recreates on a joining broker the sessions of clients that are
 * connected to no orchestrator. Records are retained messages, written by the sessions themselves on
 * their own upstreams; this class writes only for the sessions it replays.
 */
export class SessionRegistry {
  /** This replica, as named in the `online` field of the records of its live sessions. */
  readonly instanceId = randomBytes(6).toString('hex');
  private readonly readers = new Map<string, Promise<Reader>>();
  private readonly presence: Presence;
  private readonly probes: RecordProbes;

  constructor(private readonly options: RegistryOptions) {
    this.presence = new Presence(
      this.instanceId,
      (broker, clientId, will) => this.upstream(broker, clientId, 4, true, 0, will),
      options.log,
      options.onClaim,
    );
    this.probes = new RecordProbes(
      (broker, clientId) => this.upstream(broker, clientId, 4, true, 0),
      `brokel-probe-${this.instanceId}`,
      options.limits.upstreamConnectTimeoutMs,
      options.log,
    );
  }

  /**
   * Whether every broker in `brokers` answered and none holds a record of the client, live or a
   * tombstone (record-probes.ts: probes of many clients are in flight at once).
   */
  noRecordOn(clientId: string, brokers: readonly PoolBroker[]): Promise<boolean> {
    return this.probes.noneHeld(registryTopic(clientId), brokers);
  }

  /** Probes answered so far, by answer (for the metrics). */
  get probesAnswered(): Readonly<Record<ProbeAnswer, number>> {
    return this.probes.answered;
  }

  /** A client connected to this replica at `at`: the other replicas hear it (claims.ts). */
  announce(clientId: string, at: number): boolean {
    return this.presence.announce({ clientId, instanceId: this.instanceId, at });
  }

  /** A broker is in the pool: this replica's presence record is kept there (see presence.ts). */
  keepPresence(broker: PoolBroker): void {
    this.presence.keep(broker);
  }

  /**
   * The live record of one client, the newest among `brokers` (see loadRecord); undefined if none,
   * or if the newest is a tombstone (the session ended).
   */
  async load(clientId: string, brokers: readonly PoolBroker[]): Promise<RegistryEntry | undefined> {
    return liveRecord(await this.loadRecord(clientId, brokers));
  }

  /**
   * The newest record of one client (live or tombstone) among the brokers in `brokers` that answer,
   * read in parallel, each read bounded by its timeout; ties go to the earlier broker in `brokers`.
   * A broker that missed a change keeps an older copy, which loses (record-version.ts, review
   * finding 5). A broker without it is passed over: it may hold the client's session without ever
   * having had the record (a link of the client cut short there, issue #13).
   */
  async loadRecord(clientId: string, brokers: readonly PoolBroker[]): Promise<RegistryRecord | undefined> {
    return newestRecord(await this.loadCopies(clientId, brokers));
  }

  /** The copies of one client's record on `brokers`, in their order (undefined: none, or no answer). */
  async loadCopies(
    clientId: string,
    brokers: readonly PoolBroker[],
  ): Promise<Array<RegistryRecord | undefined>> {
    const topic = registryTopic(clientId);
    return Promise.all(
      brokers.map(async (broker) => {
        try {
          const payload = (await this.read(broker, topic)).get(topic);
          const record = payload && payload.length > 0 ? decodeRecord(payload) : undefined;
          return record?.clientId === clientId ? record : undefined;
        } catch (err) {
          this.options.log.warn(
            { broker: broker.id, clientId, err: errorMessage(err) },
            'registry read failed',
          );
          return undefined;
        }
      }),
    );
  }

  /** Every record, from the first broker in `brokers` that answers; throws when none does. */
  async loadAll(brokers: readonly PoolBroker[]): Promise<Map<string, RegistryEntry>> {
    let last: unknown = new Error('no broker to read the session registry from');
    for (const broker of brokers) {
      try {
        return decodeRecords(await this.read(broker, REGISTRY_FILTER));
      } catch (err) {
        last = err;
      }
    }
    throw last;
  }

  /**
   * The replicas with a presence record on any of `brokers` (a live replica keeps one on every broker
   * of its pool, so one connection that dropped does not make it look dead); undefined when no broker
   * answered, so nobody is taken for dead.
   */
  async livePresence(brokers: readonly PoolBroker[]): Promise<Set<string> | undefined> {
    let live: Set<string> | undefined;
    for (const broker of brokers) {
      try {
        const found = await this.read(broker, PRESENCE_FILTER);
        live ??= new Set();
        for (const [topic, payload] of found) {
          const id = instanceOfPresenceTopic(topic);
          if (id !== undefined && payload.length > 0) live.add(id);
        }
      } catch (err) {
        this.options.log.warn({ broker: broker.id, err: errorMessage(err) }, 'presence read failed');
      }
    }
    return live;
  }

  /**
   * Reads the retained messages matching a filter (topic → payload): SUBSCRIBE and UNSUBSCRIBE are sent together; the
   * broker sends the retained messages of the subscription before it answers the UNSUBSCRIBE, so the
   * UNSUBACK marks the end. QoS 0: nothing is held back by an in-flight window.
   */
  private async read(broker: PoolBroker, filter: string): Promise<Map<string, Buffer>> {
    const reader = await this.reader(broker);
    const run = reader.queue.then(
      () =>
        new Promise<Map<string, Buffer>>((resolve, reject) => {
          const out = new Map<string, Buffer>();
          const subId = this.nextId(reader);
          const unsubId = this.nextId(reader);
          const timeoutMs = this.options.limits.upstreamConnectTimeoutMs;
          const timer = new AnswerTimeout(timeoutMs, () => {
            reader.onPacket = undefined;
            this.forget(broker.id);
            reject(new TimeoutError(`session registry read from broker ${broker.id}`, timeoutMs));
          });
          reader.onPacket = (p) => {
            if (p.cmd === 'publish') out.set(p.topic, Buffer.from(p.payload));
            else if (p.cmd === 'unsuback' && p.messageId === unsubId) {
              timer.cancel();
              reader.onPacket = undefined;
              resolve(out);
            }
          };
          const subscribe: ISubscribePacket = {
            cmd: 'subscribe',
            messageId: subId,
            subscriptions: [{ topic: filter, qos: 0 }],
          };
          if (!reader.upstream.send(subscribe) && !reader.upstream.isUp) {
            timer.cancel();
            this.forget(broker.id);
            return reject(new Error(`registry connection to broker ${broker.id} is down`));
          }
          reader.upstream.send({ cmd: 'unsubscribe', messageId: unsubId, unsubscriptions: [filter] });
        }),
    );
    reader.queue = run.catch(() => undefined);
    return run;
  }

  private nextId(reader: Reader): number {
    reader.nextId = reader.nextId >= 65_535 ? 1 : reader.nextId + 1;
    return reader.nextId;
  }

  private reader(broker: PoolBroker): Promise<Reader> {
    const known = this.readers.get(broker.id);
    if (known) return known;
    const opening = (async () => {
      const upstream = this.upstream(broker, `brokel-registry-${this.instanceId}`, 4, true, 0);
      await openAccepted(upstream, broker.id, 'the registry connection');
      const reader: Reader = { upstream, queue: Promise.resolve(), nextId: 0 };
      upstream.attach({
        packet: (p) => reader.onPacket?.(p),
        down: () => this.readers.get(broker.id) === opening && this.readers.delete(broker.id),
        unencodable: () => undefined,
      });
      return reader;
    })();
    this.readers.set(broker.id, opening);
    opening.catch(() => this.readers.get(broker.id) === opening && this.readers.delete(broker.id));
    return opening;
  }

  private upstream(
    broker: PoolBroker,
    clientId: string,
    version: 4 | 5,
    clean: boolean,
    expiry: number,
    will?: { topic: string; payload: Buffer; qos: 0; retain: true },
  ) {
    const { limits, credentials } = this.options;
    return new Upstream({
      brokerId: broker.id,
      host: broker.host,
      port: broker.port,
      tls: broker.tls,
      protocolVersion: version,
      connect: {
        clientId,
        clean,
        ...(will ? { will } : {}),
        ...(credentials
          ? { username: credentials.username, password: Buffer.from(credentials.password) }
          : {}),
        ...(version === 5 && expiry > 0 ? { properties: { sessionExpiryInterval: expiry } } : {}),
      },
      keepaliveSeconds: limits.upstreamKeepaliveSeconds,
      connectTimeoutMs: limits.upstreamConnectTimeoutMs,
      maxPacketBytes: limits.maxPacketBytes,
      defaultReceiveMaximum: limits.upstreamReceiveMaximum,
    });
  }

  /** Closes the registry connection to a broker (it left the pool, or a read on it failed). */
  forget(brokerId: string): void {
    this.presence.forget(brokerId);
    this.probes.forget(brokerId);
    const reader = this.readers.get(brokerId);
    this.readers.delete(brokerId);
    void reader?.then((r) => r.upstream.disconnect()).catch(() => undefined);
  }

  close(): void {
    this.presence.close();
    this.probes.close();
    for (const id of [...this.readers.keys()]) this.forget(id);
  }

  /**
   * A broker joins: the sessions of the registry that no orchestrator holds live get their
   * subscriptions there: connect with the client's id (clean 0), subscribe, copy the record,
   * disconnect. Held by none: `online` null, or naming a replica with no presence record on any source
   * (it died without a word, docs/chaos.md defect 3), or naming this replica while no session of the
   * client is here. A session a live orchestrator holds is left to its live session, which replays it
   * itself: never take a session over. `isLocal` names this replica's.
   * Returns how many sessions were recreated.
   */
  async replayAway(
    joining: PoolBroker,
    sources: readonly PoolBroker[],
    isLocal: (clientId: string) => boolean,
  ): Promise<number> {
    if (sources.length === 0) return 0; // the first broker: no registry to read anywhere else
    // A broker that lists no retained message to a wildcard subscription (RabbitMQ 3.10) answers the
    // whole-registry read with nothing, and a saturated one not even its CONNECT: 3 × 5 s of a join
    // spent waiting for nothing (measured: the first RabbitMQ join of s2-rabbitmq, 16.5 s).
    const readable = sources.filter((b) => b.retainedWildcardRead !== false);
    if (readable.length === 0) {
      this.options.log.info(
        { broker: joining.id, sources: sources.map((b) => b.id) },
        'join: no broker of the pool lists the session registry (no retained delivery to a wildcard subscription); away sessions get their subscriptions when they reconnect',
      );
      return 0;
    }
    const entries = await this.loadAll(readable);
    const brokerVersion = await this.options.protocolVersion(joining.id);
    const held = [...entries.values()].some((e) => e.online !== null && e.online !== this.instanceId);
    const live = held ? await this.livePresence(readable) : undefined;
    let replayed = 0;
    for (const entry of entries.values()) {
      if (isLocal(entry.clientId)) continue;
      // A record naming this replica for a client with no session here is one whose holder left: the
      // broker read from had not yet processed the `online: null` written on the session's own link
      // (a CPU-starved broker can lag by a second; issue #13). It is away: nobody else would replay it.
      const mine = entry.online === this.instanceId;
      // No presence read at all (undefined): every holder counts as alive.
      if (!mine && entry.online !== null && (live === undefined || live.has(entry.online))) continue;
      await this.recreate(joining, entry, entry.protocolVersion === 5 && brokerVersion === 5 ? 5 : 4);
      replayed += 1;
    }
    return replayed;
  }

  /**
   * Whether another live replica holds the client now: its record names a replica other than this
   * one, with a presence record (or no presence could be read: every holder counts as alive).
   */
  async heldElsewhere(clientId: string, brokers: readonly PoolBroker[]): Promise<boolean> {
    const entry = await this.load(clientId, brokers);
    return entry !== undefined && (await this.heldByOther(entry, brokers));
  }

  /** Whether `entry` names another replica as its holder, and that replica is live (as heldElsewhere). */
  async heldByOther(entry: RegistryEntry, brokers: readonly PoolBroker[]): Promise<boolean> {
    if (entry.online === null || entry.online === this.instanceId) return false;
    const live = await this.livePresence(brokers);
    return live === undefined || live.has(entry.online);
  }

  /** Recreates one session on a joining broker from its record (see JoinReplays.replayLeft). */
  async replayOne(joining: PoolBroker, entry: RegistryEntry): Promise<void> {
    const brokerVersion = await this.options.protocolVersion(joining.id);
    await this.recreate(joining, entry, entry.protocolVersion === 5 && brokerVersion === 5 ? 5 : 4);
  }

  private async recreate(broker: PoolBroker, entry: RegistryEntry, version: 4 | 5): Promise<void> {
    const expiry = entry.sessionExpirySeconds;
    const upstream = this.upstream(broker, entry.clientId, version, false, expiry);
    await openAccepted(upstream, broker.id, `session ${entry.clientId}`);
    try {
      if (entry.subscriptions.length > 0) {
        await new Promise<void>((resolve, reject) => {
          const timeoutMs = this.options.limits.upstreamConnectTimeoutMs;
          const timer = new AnswerTimeout(timeoutMs, () =>
            reject(new TimeoutError(`SUBACK for session ${entry.clientId}`, timeoutMs)),
          );
          upstream.attach({
            packet: (p) => {
              if (p.cmd !== 'suback') return;
              timer.cancel();
              resolve();
            },
            down: (reason) => {
              timer.cancel();
              reject(new Error(`broker ${broker.id}: ${reason}`));
            },
            unencodable: () => undefined,
          });
          upstream.send({
            cmd: 'subscribe',
            messageId: 1,
            subscriptions: entry.subscriptions.map((s) =>
              version === 5 ? { ...s, qos: s.qos } : { topic: s.topic, qos: s.qos },
            ),
          });
        });
      }
      // The joining broker keeps a copy of the record too: any broker can serve the next join. Its
      // copy lists it among the brokers that have the subscriptions (they were SUBACKed just above).
      const at = entry.subscribedAt;
      const copy =
        at === undefined || at.includes(broker.id)
          ? entry
          : { ...entry, subscribedAt: [...at, broker.id].sort() };
      upstream.send(registryPublish(entry.clientId, copy, version === 5, expiry));
    } finally {
      upstream.disconnect();
    }
  }
}

/** The registry records among retained messages (an empty or malformed one is no record). */
function decodeRecords(messages: Map<string, Buffer>): Map<string, RegistryEntry> {
  const out = new Map<string, RegistryEntry>();
  for (const [topic, payload] of messages) {
    const clientId = clientIdOfRegistryTopic(topic);
    const entry = clientId !== undefined && payload.length > 0 ? decodeEntry(payload) : undefined;
    if (clientId !== undefined && entry) out.set(clientId, entry);
  }
  return out;
}
