import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { PoolBroker } from '../pool/broker-pool.ts';
import type { Upstream } from '../session/upstream.ts';
import { CLAIM_TOPIC, type Claim, decodeClaim, encodeClaim } from './claims.ts';
import { openAccepted } from './open-accepted.ts';
import { presenceTopic } from './reserved.ts';

/** Delay before a presence connection that dropped is opened again. */
const RETRY_MS = 1000;

/** Opens a connection with a client id and a Will (the registry's connection settings). */
export type OpenWithWill = (
  broker: PoolBroker,
  clientId: string,
  will: { topic: string; payload: Buffer; qos: 0; retain: true },
) => Upstream;

interface Link {
  upstream?: Upstream;
  /** The connection is up and subscribed to claims (claims.ts). */
  ready: boolean;
  retry?: NodeJS.Timeout;
  /** Reopenings in a row that failed: only the first is a warning (a broker down retries each second). */
  failures: number;
}

/**
 * This replica's presence on each broker of its pool: a connection of its own (clean, client id
 * `brokel-presence-<instanceId>`) that publishes the retained record `$brokel/presence/<instanceId>`,
 * with a retained empty Will on the same topic, so the broker removes the record when the replica dies
 * without a word (SIGKILL) [MQTT-3.1.2-8, MQTT-3.1.2-17; MQTT-3.3.1-10: an empty retained message
 * removes it]. A reconnect uses the same client id: a broker that has not noticed the old connection
 * gone takes it over first (its Will fires before the new record is written) [MQTT-3.1.4-2].
 *
 * The same connection carries claims (claims.ts): it subscribes to them on every broker, and
 * announces this replica's on one.
 */
export class Presence {
  private readonly links = new Map<string, Link>();

  constructor(
    private readonly instanceId: string,
    private readonly open: OpenWithWill,
    private readonly log: Logger,
    /** A claim another replica announced (this replica's own are not passed on). */
    private readonly onClaim: (claim: Claim) => void = () => undefined,
  ) {}

  /** Keeps the presence record on a broker (it joined the pool); idempotent. */
  keep(broker: PoolBroker): void {
    if (this.links.has(broker.id)) return;
    const link: Link = { failures: 0, ready: false };
    this.links.set(broker.id, link);
    void this.connect(broker, link);
  }

  private async connect(broker: PoolBroker, link: Link): Promise<void> {
    link.retry = undefined;
    if (this.links.get(broker.id) !== link) return;
    const topic = presenceTopic(this.instanceId);
    const upstream = this.open(broker, `brokel-presence-${this.instanceId}`, {
      topic,
      payload: Buffer.alloc(0),
      qos: 0,
      retain: true,
    });
    link.upstream = upstream;
    const again = (reason: string) => {
      if (this.links.get(broker.id) !== link || link.upstream !== upstream) return;
      link.upstream = undefined;
      link.ready = false;
      link.failures += 1;
      const level = link.failures === 1 ? 'warn' : 'debug';
      this.log[level]({ broker: broker.id, reason }, 'presence connection down; reopening');
      link.retry = setTimeout(() => void this.connect(broker, link), RETRY_MS);
      link.retry.unref();
    };
    try {
      await openAccepted(upstream, broker.id, 'the presence connection');
    } catch (err) {
      upstream.drop();
      return again(errorMessage(err));
    }
    if (this.links.get(broker.id) !== link) return upstream.disconnect();
    upstream.attach({
      packet: (packet) => {
        if (packet.cmd === 'suback') link.ready = link.upstream === upstream;
        else if (packet.cmd === 'publish' && packet.topic === CLAIM_TOPIC)
          this.heard(broker.id, packet.payload);
      },
      down: (reason) => again(reason),
      unencodable: () => undefined,
    });
    link.failures = 0;
    const payload = Buffer.from(JSON.stringify({ v: 1, instanceId: this.instanceId }));
    upstream.send({ cmd: 'publish', topic, payload, qos: 0, retain: true, dup: false });
    upstream.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: CLAIM_TOPIC, qos: 0 }] });
  }

  private heard(brokerId: string, payload: Buffer | string): void {
    const claim = decodeClaim(typeof payload === 'string' ? Buffer.from(payload) : payload);
    if (typeof claim === 'string') {
      this.log.warn({ broker: brokerId, reason: claim }, 'ignored a message on the claim topic');
      return;
    }
    if (claim.instanceId !== this.instanceId) this.onClaim(claim);
  }

  /**
   * Tells the other replicas that a client connected here (claims.ts), through one broker (each of
   * them subscribes on every broker of the pool). False when no connection is ready (not announced).
   */
  announce(claim: Claim): boolean {
    for (const link of this.links.values()) {
      if (!link.ready || !link.upstream?.isUp) continue;
      const payload = encodeClaim(claim);
      link.upstream.send({ cmd: 'publish', topic: CLAIM_TOPIC, payload, qos: 0, retain: false, dup: false });
      return true;
    }
    return false;
  }

  /** The broker left the pool, or the replica stops: the record is removed, then the connection closed. */
  forget(brokerId: string): void {
    const link = this.links.get(brokerId);
    if (!link) return;
    this.links.delete(brokerId);
    if (link.retry) clearTimeout(link.retry);
    const up = link.upstream;
    if (!up) return;
    const topic = presenceTopic(this.instanceId);
    up.send({ cmd: 'publish', topic, payload: Buffer.alloc(0), qos: 0, retain: true, dup: false });
    up.disconnect();
  }

  close(): void {
    for (const id of [...this.links.keys()]) this.forget(id);
  }
}
