import type { IConnectPacket, IDisconnectPacket, ISubscription } from 'mqtt-packet';
import type { PoolBroker } from '../pool/broker-pool.ts';
import {
  isTombstone,
  liveRecord,
  newestRecord,
  nextVersion,
  type RegistryRecord,
  staleSubscriptions,
  versionOf,
} from '../registry/record-version.ts';
import {
  isPersistent,
  NEVER_EXPIRES,
  type PendingRelease,
  type RegisteredSubscription,
  type RegistryEntry,
  toRegistered,
} from '../registry/reserved.ts';
import { registryPublish, type SessionRegistry } from '../registry/session-registry.ts';
import type { UpstreamLink } from './context.ts';
import { emptyArray } from './lazy-collections.ts';

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
  /** The newest record version this session wrote or read: its next write is above it. */
  private lastVersion = 0;
  /** The newest record `load` found was a tombstone: the session ended after any older copy. */
  endedAtLoad = false;
  /** Filters of older copies the newest does not have: a broker that missed a change may hold them. */
  staleAtLoad: readonly RegisteredSubscription[] = emptyArray();

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
    const copies = await this.registry.loadCopies(this.clientId, brokers);
    const record = newestRecord(copies);
    if (record) this.lastVersion = Math.max(this.lastVersion, versionOf(record));
    this.endedAtLoad = record !== undefined && isTombstone(record);
    this.staleAtLoad = staleSubscriptions(copies, record);
    return liveRecord(record);
  }

  private stamp(): number {
    this.lastVersion = nextVersion(Date.now(), this.lastVersion);
    return this.lastVersion;
  }

  /**
   * What to write where no live record is due: nothing (an empty retained message) when every broker
   * of the pool gets it; a tombstone when one was out of reach (`missed`), since it keeps the old
   * record, which must lose to something newer (review finding 5).
   */
  private ended(missed: boolean): RegistryRecord | null {
    return missed ? { clientId: this.clientId, ended: true, writtenAt: this.stamp() } : null;
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
      writtenAt: this.stamp(),
    };
  }

  /**
   * Writes the live record on every link of the session (joining and active brokers alike); for a
   * session that is not persistent, removes the record (a tombstone if a broker was `missed`).
   */
  write(
    links: ReadonlyMap<string, UpstreamLink>,
    subscriptions: Iterable<ISubscription>,
    missed = false,
  ): void {
    const entry = this.entry(subscriptions, true, links.values()) ?? this.ended(missed);
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
   * (Message Expiry Interval = Session Expiry Interval); a session ending now leaves no record (a
   * tombstone if a broker of the pool was `missed`). Returns the live record written (null: none).
   */
  release(
    links: ReadonlyMap<string, UpstreamLink>,
    subscriptions: Iterable<ISubscription>,
    releases: PendingRelease[],
    missed = false,
  ): RegistryEntry | null {
    if (!this.persistent) return null;
    const ends = this.version === 5 && this.expirySeconds === 0;
    const entry = ends ? null : this.entry(subscriptions, false, links.values());
    if (entry && releases.length > 0) entry.releases = releases;
    const written = entry ?? this.ended(missed);
    for (const link of links.values()) {
      if (!link.upstream.isUp) continue;
      const v5 = link.upstream.protocolVersion === 5;
      // A tombstone does not expire: it must outlive the stale copy it answers (a v4 one never expires).
      const expiry = entry ? this.expirySeconds : 0;
      link.upstream.send(registryPublish(this.clientId, written, v5, expiry));
    }
    return entry;
  }
}
