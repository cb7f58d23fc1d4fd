import type { IConnectPacket, IDisconnectPacket, ISubscription } from 'mqtt-packet';
import type { PoolBroker } from '../pool/broker-pool.ts';
import {
  isPersistent,
  NEVER_EXPIRES,
  type PendingRelease,
  type RegistryEntry,
  toRegistered,
} from '../registry/reserved.ts';
import { registryPublish, type SessionRegistry } from '../registry/session-registry.ts';
import type { UpstreamLink } from './context.ts';

/**
 * One session's part in the session registry (see orchestrator/registry/): it loads the record when
 * a client resumes a session, and writes it, on the session's own upstreams, whenever what a joining
 * broker would need changes: subscriptions, and whether a live session holds it.
 * Nothing here is on the publish path.
 */
export class RegistrySync {
  readonly persistent: boolean;
  private readonly version: 4 | 5;
  private expirySeconds: number;

  constructor(
    private readonly registry: SessionRegistry,
    private readonly clientId: string,
    connect: IConnectPacket,
  ) {
    this.version = connect.protocolVersion === 5 ? 5 : 4;
    const expiry = connect.properties?.sessionExpiryInterval;
    this.persistent = isPersistent(this.version, connect.clean ?? true, expiry);
    this.expirySeconds = this.version === 4 ? NEVER_EXPIRES : (expiry ?? 0);
  }

  /**
   * A client resumes its session (clean 0): the record's subscriptions, read from the brokers the
   * session is connected to, or none. A clean start returns none: the old session is gone
   * [MQTT-3.1.2-6].
   */
  async load(clean: boolean, brokers: readonly PoolBroker[]): Promise<RegistryEntry | undefined> {
    if (clean) return undefined;
    return this.registry.load(this.clientId, brokers);
  }

  /**
   * The record as it stands, for the live session's subscriptions (null: no record). `links` are all
   * the session's links: those synced have the subscriptions (the record's `subscribedAt`).
   */
  private entry(
    subscriptions: Iterable<ISubscription>,
    online: boolean,
    links: Iterable<UpstreamLink>,
  ): RegistryEntry | null {
    if (!this.persistent) return null;
    const subscribedAt: string[] = [];
    for (const link of links) if (link.synced) subscribedAt.push(link.brokerId);
    return {
      clientId: this.clientId,
      protocolVersion: this.version,
      sessionExpirySeconds: this.expirySeconds,
      online: online ? this.registry.instanceId : null,
      subscriptions: [...subscriptions].map(toRegistered),
      subscribedAt: subscribedAt.sort(),
    };
  }

  /** Writes the live record on every link of the session (joining and active brokers alike). */
  write(links: ReadonlyMap<string, UpstreamLink>, subscriptions: Iterable<ISubscription>): void {
    const entry = this.entry(subscriptions, true, links.values());
    for (const link of links.values()) {
      if (link.upstream.isUp)
        link.upstream.send(registryPublish(this.clientId, entry, link.upstream.protocolVersion === 5));
    }
  }

  /** A v5 DISCONNECT may change the Session Expiry Interval (§3.14.2.2.2); 0 ends the session now. */
  noteDisconnect(packet: IDisconnectPacket): void {
    const expiry = packet.properties?.sessionExpiryInterval;
    if (this.version === 5 && expiry !== undefined) this.expirySeconds = expiry;
  }

  /**
   * The client left: the record says no live session holds it any more, so the next broker to join
   * gets its subscriptions from whichever orchestrator adds it. A v5 record expires with the session
   * (Message Expiry Interval = Session Expiry Interval); a session ending now leaves no record.
   * Returns the record written (null: none).
   */
  release(
    links: ReadonlyMap<string, UpstreamLink>,
    subscriptions: Iterable<ISubscription>,
    releases: PendingRelease[],
  ): RegistryEntry | null {
    if (!this.persistent) return null;
    const ends = this.version === 5 && this.expirySeconds === 0;
    const entry = ends ? null : this.entry(subscriptions, false, links.values());
    if (entry && releases.length > 0) entry.releases = releases;
    for (const link of links.values()) {
      if (!link.upstream.isUp) continue;
      const v5 = link.upstream.protocolVersion === 5;
      link.upstream.send(registryPublish(this.clientId, entry, v5, this.expirySeconds));
    }
    return entry;
  }
}
