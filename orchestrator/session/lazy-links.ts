import type { IPublishPacket, Packet } from 'mqtt-packet';
import { spreadsOverBrokers } from '../../common/admin/contract.ts';
import type { PoolBroker } from '../pool/broker-pool.ts';
import { emptyArray, takeAll, writableArray } from './lazy-collections.ts';
import { LinkNeed, type LinkSource } from './link-need.ts';
import { setAside } from './message-expiry.ts';
import type { Session } from './session.ts';

/**
 * A session's lazy links (docs/data-plane.md "Upstream links per client"): a session that is not
 * persistent and never subscribed keeps its home link only, until a SUBSCRIBE or a publish routed to
 * a broker it has no link to makes it "full" (link-need.ts decides; this opens the links).
 */
export class LazyLinks implements LinkSource {
  /**
   * Links to every joining and active broker (persistent sessions, and any session once it subscribed
   * or a publish needed a broker it has no link to); false: a lazy session, linked to its home broker
   * only.
   */
  full = true;
  /**
   * Whether publishes routed to a broker this session lacks could miss it: it subscribed, or it
   * outlives its connection (its subscriptions and queued messages live at the brokers). Only such a
   * session keeps a broker it has no synced link to unroutable for everyone (Session.isSynced): a
   * publisher that could not reach a broker routes around it alone (a connection storm once made every
   * broker unroutable that way, and held every publish: docs/data-plane.md "Publishers that lack a
   * broker"). Sticky: set on the first SUBSCRIBE, never cleared.
   */
  receives = true;
  private need: LinkNeed | undefined;
  /** The links a lazy session is opening as it becomes full; client packets wait meanwhile. */
  linking: Promise<void> | undefined;
  private whileLinking: Packet[] = emptyArray();

  constructor(private readonly s: Session) {}

  /** At CONNECT: only a session that outlives its connection needs every link from the start. */
  begin(full: boolean): void {
    this.full = full;
    this.receives = full;
    if (!full) this.need = new LinkNeed(this.s.deps.router.strategy, this.s.clientId);
  }

  get settled(): boolean {
    return this.full && this.linking === undefined;
  }

  linksFor(packet: IPublishPacket): boolean {
    if (this.linking) return false;
    if (this.full || !this.mustWaitFor(packet)) return true;
    void this.goFull();
    return this.linking === undefined;
  }

  /**
   * Whether a lazy session must open its other links before handling this packet (needsEveryLink),
   * and wait for them. Round-robin and least-outstanding are the exception: a publish may go to any
   * broker the session is linked to (they keep no order across brokers), so the links open behind it (widen): the
   * client is not paused, the publish goes out now on the links there are. A retained publish still
   * waits for its topic's owner, a SUBSCRIBE for every broker.
   */
  mustWaitFor(packet: Packet): boolean {
    if (!this.needsEveryLink(packet)) return false;
    if (packet.cmd !== 'publish' || packet.retain || !spreadsOverBrokers(this.s.deps.router.strategy))
      return true;
    this.widen();
    return false;
  }

  /**
   * A lazy session becomes full without waiting: it opens links to every joining and active broker it
   * lacks in the background, each joined as a new broker would be (subscriptions replayed, then synced);
   * until then it routes among the links it has. A broker that could not be reached is retried with
   * back-off, as after a failed link at CONNECT.
   */
  private widen(): void {
    if (this.full) return;
    this.full = true;
    this.need = undefined;
    for (const b of this.missingBrokers()) void this.openLink(b);
  }

  /** The joining and active brokers the session has no link to (but `except`). */
  private missingBrokers(except?: string): PoolBroker[] {
    const s = this.s;
    return s.deps.pool
      .list()
      .filter(
        (b) => (b.state === 'active' || b.state === 'joining') && !s.links.has(b.id) && b.id !== except,
      );
  }

  /** Joins a broker; settles, never rejects: a failure is retried with back-off and reported as 'linkDown'. */
  private openLink(b: PoolBroker): Promise<void> {
    const s = this.s;
    return s.uplinks.join(b).catch((err) => {
      s.uplinks.failed(b, err);
      if (s.state === 'connected') s.emit('linkDown', b.id);
    });
  }

  /**
   * A SUBSCRIBE is handled: from now on the session receives, so a broker it lacks is unroutable
   * (before any broker has its subscription). True when this changed it.
   */
  startReceiving(): boolean {
    if (this.receives) return false;
    this.receives = true;
    return true;
  }

  /** A packet to handle once the links being opened are open; false: none are being opened. */
  hold(packet: Packet): boolean {
    if (!this.linking) return false;
    this.whileLinking = writableArray(this.whileLinking);
    this.whileLinking.push(packet);
    setAside(packet);
    return true;
  }

  /** Whether a lazy session must open its other links before this packet (a SUBSCRIBE, or routing). */
  needsEveryLink(packet: Packet): boolean {
    if (packet.cmd === 'subscribe') return true; // subscriptions go to every broker (fan-out)
    if (packet.cmd !== 'publish' || !this.need) return false;
    // Asked per publish of a lazy session: no closure made here (two were ~8 % of the bytes allocated
    // per QoS 1 message; docs/data-plane.md, "Session 30").
    return this.need.publishNeedsLink(
      packet.topic,
      packet.retain,
      this.s.deps.routingGeneration(),
      this.s.linkGeneration,
      this,
    );
  }

  /** LinkSource: the brokers a publish may be routed to. */
  wantedBrokers(): string[] {
    const deps = this.s.deps;
    return deps.pool
      .list()
      .filter((b) => b.state === 'active' && deps.routable(b.id))
      .map((b) => b.id);
  }

  /** LinkSource: the session has a link to this broker. */
  hasLink(brokerId: string): boolean {
    return this.s.links.has(brokerId);
  }

  /**
   * A lazy session becomes full: it opens links to every joining and active broker it lacks (each
   * joined as a new broker would be: subscriptions replayed, then synced). Client packets wait, in
   * order, until every attempt settled; a broker that could not be reached is retried with back-off
   * and is not routable meanwhile (the session lacks it), as after a failed link at CONNECT.
   */
  goFull(except?: string): Promise<void> {
    if (this.full) return this.linking ?? Promise.resolve();
    this.full = true;
    this.need = undefined;
    const s = this.s;
    // `except`: a broker that just went down is retried with back-off, not waited for here.
    const missing = this.missingBrokers(except);
    if (missing.length === 0) return Promise.resolve();
    s.pauseClient('opening links');
    const opening = Promise.all(missing.map((b) => this.openLink(b))).then(() => {
      this.linking = undefined;
      if (s.state !== 'connected') return;
      // Held publishes are older than what the client sent meanwhile: they go first.
      s.inbound?.resendHeld();
      for (const p of takeAll(this.whileLinking)) if (s.state === 'connected') s.packets.dispatch(p);
      s.resumeClient('opening links');
    });
    this.linking = opening;
    return opening;
  }

  /**
   * A lazy session keeps its home link only. Every link was opened with the CONNECT all the same, so a
   * clean start ends an older persistent session of this client id on every broker [MQTT-3.1.2-6] and
   * clears its registry record; the others now say goodbye (no will is registered there).
   */
  trim(): void {
    const s = this.s;
    for (const [id, link] of s.links) {
      if (id === s.homeId || s.inflightOn(id) > 0) continue;
      s.links.delete(id);
      s.linkGeneration += 1;
      s.graces.forget(id);
      link.upstream.disconnect();
      // An UNSUBSCRIBE sent with the CONNECT may wait for this broker's UNSUBACK: it no longer does.
      s.subs?.onBrokerDown(id);
    }
  }
}
