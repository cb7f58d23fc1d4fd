import type { Duplex } from 'node:stream';
import type { IConnectPacket, IPublishPacket, Packet } from 'mqtt-packet';
import type { Logger } from '../../common/logger.ts';
import type { Admission } from '../connect-gate.ts';
import type { OrchestratorLimits } from '../limits.ts';
import type { BrokerPool, PoolBroker } from '../pool/broker-pool.ts';
import { type FramedHandler, FramedStream } from '../protocol/framed-stream.ts';
import { keptFrames } from '../protocol/kept-frames.ts';
import { type Claim, isNewerClaim } from '../registry/claims.ts';
import type { RegistryEntry } from '../registry/reserved.ts';
import type { SessionRegistry } from '../registry/session-registry.ts';
import type { Router } from '../routing/strategies.ts';
import type { BrokerCounters, SessionContext, UpstreamLink } from './context.ts';
import type { HeldAcks } from './held-acks.ts';
import type { InboundPublishes } from './inbound-publish.ts';
import type { Qos2Options } from './inflight-publish.ts';
import { emptyArray, emptySet, writableSet } from './lazy-collections.ts';
import { LazyLinks } from './lazy-links.ts';
import { SESSION_TAKEN_OVER, TAKEN_OVER_REASONS, type TakenOverBy } from './link-endings.ts';
import { LinkGraces } from './link-grace.ts';
import type { OutboundDeliveries } from './outbound-delivery.ts';
import { PacketDispatch } from './packet-dispatch.ts';
import type { RegistrySync } from './registry-sync.ts';
import { type CloseMode, Lifetime } from './session-lifetime.ts';
import type { SubscriptionFanout } from './subscriptions.ts';
import type { DisconnectOptions } from './upstream.ts';
import { UpstreamLinks } from './upstream-links.ts';

export interface SessionDeps {
  pool: BrokerPool;
  router: Router;
  limits: OrchestratorLimits;
  /** The QoS 2 options of `limits`, one object for every session of the replica. */
  qos2: Qos2Options;
  /** The replica's held upstream PUBACKs (held-acks.ts; limits.ackHoldMs); absent: none held. */
  heldAcks?: HeldAcks;
  log: Logger;
  counters: BrokerCounters;
  /** Registers the session under its client id; returns the session it takes over, if any. */
  claim(clientId: string, session: Session): Session | undefined;
  /** Tells the other replicas that the client connected here (claims.ts; optional). */
  announce?(session: Session): void;
  release(clientId: string, session: Session): void;
  /**
   * Whether publishes may go to a broker: every session of this replica has its subscriptions there.
   * A message routed to a broker where a subscriber's subscription is missing would never reach it.
   */
  routable(brokerId: string): boolean;
  /** Changes whenever the pool or any broker's routability changes (the publish targets are cached). */
  routingGeneration(): number;
  /** Where persistent sessions' subscriptions are recorded for brokers that join later (optional). */
  registry?: SessionRegistry;
  /** Admission at the bounded CONNECT rate (connect-gate.ts); absent: every CONNECT is admitted. */
  admit?(session: Session, gone: () => boolean): Admission | Promise<Admission>;
  /** Whether another session of this replica still has a live link to the broker (optional). */
  brokerAlive?(brokerId: string, except: Session): boolean;
  /**
   * A persistent session left with no link to these joining brokers (its join was cut short): they
   * get its subscriptions from its record (JoinReplays.replayLeft; optional).
   */
  replayLeft?(brokers: PoolBroker[], entry: RegistryEntry): void;
  /** What a session tells its replica, called with the session as `this`; one object for every session. */
  events: SessionEvents;
}

/**
 * A session's events. Not an EventEmitter per session: its listener table cost ~300 bytes of every
 * client's memory (docs/data-plane.md, "Memory per client").
 */
export interface SessionEvents {
  /** CONNACK sent: the session is connected. */
  connected(this: Session): void;
  /** Its subscriptions are on this broker. */
  synced(this: Session, brokerId: string): void;
  /** It lost its link to this broker (or could not open it). */
  linkDown(this: Session, brokerId: string): void;
  /** Its first SUBSCRIBE: from now on it receives. */
  receiving(this: Session): void;
  /** It ended, for this reason. */
  closed(this: Session, reason: string): void;
}

type SessionEventArgs = { [K in keyof SessionEvents]: Parameters<SessionEvents[K]> };

/**
 * One client's session: the client's stream (any Duplex) on one side, one upstream connection per
 * broker on the other. It owns the session's state and wires its parts: the CONNECT sequence
 * (connect-sequence.ts), packet dispatch (packet-dispatch.ts), the upstream links' life
 * (upstream-links.ts, lazy-links.ts), its end (session-lifetime.ts), and the publish, delivery and
 * subscription flows, which see it as their SessionContext.
 */
export class Session implements SessionContext, FramedHandler {
  clientId = '';
  version: 4 | 5 = 4;
  log: Logger;
  readonly counters: BrokerCounters;
  readonly links = new Map<string, UpstreamLink>();
  state: 'connecting' | 'connected' | 'closed' = 'connecting';
  // What follows is shared with the session's parts in this folder, and used nowhere else.
  readonly down: FramedStream;
  connect: IConnectPacket | undefined;
  inbound: InboundPublishes | undefined;
  outbound: OutboundDeliveries | undefined;
  subs: SubscriptionFanout | undefined;
  /** This session's record in the session registry (undefined without a registry). */
  registrySync: RegistrySync | undefined;
  /** The broker holding this client's will. */
  homeId: string | undefined;
  /** Bumped whenever a link is added, removed, or marked synced. */
  linkGeneration = 0;
  /**
   * The session lives on in a newer connection, seen here (this replica), through another replica's
   * claim, or at a broker (endTakenOver): its record stays as it is. Undefined: not taken over.
   */
  takenOver: TakenOverBy | undefined;
  /** When this replica took the client's CONNECT (ms since the epoch; claims.ts); 0 before. */
  claimedAt = 0;
  /** Upstream sessions that outlive a lost link (a clean session's, on MQTT 5 brokers). */
  readonly graces: LinkGraces;
  readonly lazy = new LazyLinks(this);
  readonly uplinks = new UpstreamLinks(this);
  readonly packets = new PacketDispatch(this);
  readonly lifetime = new Lifetime(this);
  // Allocated on the first pause (lazy-collections.ts).
  private clientPauses = emptySet<string>();
  /** observe()'s listeners; absent until the first. */
  private observers: Map<keyof SessionEvents, Array<SessionEvents[keyof SessionEvents]>> | undefined;
  private upstreamPauses = emptySet<string>();
  /** publishTargets(), cached: recomputed when the pool, routability, or this session's links change. */
  private targets: UpstreamLink[] = emptyArray();
  private targetsGeneration = -1;
  private targetsLinkGeneration = -1;
  /** activeBrokers(), cached: recomputed when the pool (or routability) changes. */
  private active: readonly string[] = emptyArray();
  private activeGeneration = -1;

  constructor(
    stream: Duplex,
    readonly deps: SessionDeps,
  ) {
    this.log = deps.log;
    this.counters = deps.counters;
    this.graces = new LinkGraces(deps.limits.upstreamLinkGraceSeconds);
    this.down = new FramedStream(
      stream,
      // A client's QoS 1/2 publishes: in the slabs its replay window keeps them in too (kept-frames.ts).
      { protocolVersion: 4, maxPacketBytes: deps.limits.maxPacketBytes, frames: keptFrames },
      this,
    );
    // [MQTT-3.1.0-1]: the first packet is CONNECT, within a bounded time.
    this.lifetime.armConnectTimer();
  }

  /** Tells the replica (deps.events), then what observe() added. */
  emit<K extends keyof SessionEvents>(event: K, ...args: SessionEventArgs[K]): void {
    (this.deps.events[event] as (this: Session, ...a: SessionEventArgs[K]) => void).apply(this, args);
    const extra = this.observers?.get(event);
    if (extra)
      for (const f of extra) (f as (this: Session, ...a: SessionEventArgs[K]) => void).apply(this, args);
  }

  /** Another listener of one event, beside the replica's (a test, a tool); most sessions have none. */
  observe<K extends keyof SessionEvents>(event: K, listener: SessionEvents[K]): void {
    this.observers ??= new Map();
    const list = this.observers.get(event) ?? [];
    this.observers.set(event, [...list, listener as SessionEvents[keyof SessionEvents]]);
  }

  // ---- FramedHandler: the client's connection --------------------------------------------------

  framePacket(packet: Packet): void {
    this.packets.onClientPacket(packet);
  }

  frameBadInput(err: Error): void {
    this.packets.onClientBadInput(err);
  }

  /** SubscriptionFanout: a SUBACK or UNSUBACK went out; a persistent session's record follows. */
  subscriptionsChanged(): void {
    if (this.registrySync?.persistent) this.registrySync.write(this.links, this.subs?.active.values() ?? []);
  }

  /** The client's socket drained (FramedStream's shared 'drain' listener: no closure per session). */
  frameDrain(): void {
    this.outbound?.onClientDrain();
  }

  frameClosed(): void {
    this.close('abrupt', 'client connection closed');
  }

  /** An RST or TLS error on the client's stream: logged; 'closed' follows, which ends the session. */
  frameTransportError(err: Error): void {
    this.log.debug({ err: err.message }, 'client stream error');
  }

  frameEncodeError(err: Error, packet: Packet): void {
    this.log.error({ err: err.message, cmd: packet.cmd }, 'a packet for the client could not be encoded');
    this.close('abrupt', `encoding ${packet.cmd} failed`);
  }

  // ---- SessionContext -------------------------------------------------------------------------

  sendDown(packet: Packet): boolean {
    return this.down.write(packet);
  }

  sendDownAs(packet: IPublishPacket, messageId: number, dup: boolean): boolean {
    return this.down.writePublishAs(packet, messageId, dup);
  }

  link(brokerId: string): UpstreamLink | undefined {
    return this.links.get(brokerId);
  }

  get linksSettled(): boolean {
    return this.lazy.settled;
  }

  linksFor(packet: IPublishPacket): boolean {
    return this.lazy.linksFor(packet);
  }

  openEveryLink(): void {
    void this.lazy.goFull();
  }

  deferWhileLinking(packet: IPublishPacket): boolean {
    return this.lazy.hold(packet);
  }

  publishTargets(): UpstreamLink[] {
    const generation = this.deps.routingGeneration();
    if (generation === this.targetsGeneration && this.linkGeneration === this.targetsLinkGeneration) {
      let up = true;
      for (let i = 0; i < this.targets.length; i++) if (!this.targets[i]?.upstream.isUp) up = false;
      if (up) return this.targets;
    }
    this.targetsGeneration = generation;
    this.targetsLinkGeneration = this.linkGeneration;
    this.targets = this.deps.pool
      .list()
      .filter((b) => b.state === 'active' && this.deps.routable(b.id))
      .map((b) => this.links.get(b.id))
      .filter((l): l is UpstreamLink => l?.synced === true && l.upstream.isUp);
    return this.targets;
  }

  activeBrokers(): readonly string[] {
    const generation = this.deps.routingGeneration();
    if (generation !== this.activeGeneration) {
      this.activeGeneration = generation;
      this.active = this.deps.pool
        .list()
        .filter((b) => b.state === 'active')
        .map((b) => b.id);
    }
    return this.active;
  }

  subscribeTargets(): UpstreamLink[] {
    return this.deps.pool
      .list()
      .filter((b) => b.state === 'active' || b.state === 'joining')
      .map((b) => this.links.get(b.id))
      .filter((l): l is UpstreamLink => l?.upstream.isUp === true);
  }

  protocolError(reason: string, reasonCode: number): void {
    this.log.warn({ reason, reasonCode }, 'protocol error: closing the session');
    if (this.version === 5 && this.state === 'connected') this.down.write({ cmd: 'disconnect', reasonCode });
    this.close('abrupt', reason);
  }

  pauseClient(reason: string): void {
    if (this.clientPauses.size === 0) this.down.pause();
    this.clientPauses = writableSet(this.clientPauses);
    this.clientPauses.add(reason);
  }

  resumeClient(reason: string): void {
    if (this.clientPauses.delete(reason) && this.clientPauses.size === 0) {
      this.clientPauses = emptySet(); // each CONNECT pauses and resumes: an idle session keeps no Set
      this.down.resume();
    }
  }

  pauseUpstreams(reason: string): void {
    if (this.upstreamPauses.size === 0) for (const l of this.links.values()) l.upstream.pause();
    this.upstreamPauses = writableSet(this.upstreamPauses);
    this.upstreamPauses.add(reason);
  }

  resumeUpstreams(reason: string): void {
    if (this.upstreamPauses.delete(reason) && this.upstreamPauses.size === 0) {
      this.upstreamPauses = emptySet();
      for (const l of this.links.values()) l.upstream.resume();
    }
  }

  /** Reading from the brokers is paused (a link opened now starts paused). */
  get upstreamsPaused(): boolean {
    return this.upstreamPauses.size > 0;
  }

  // ---- the pool's changes ---------------------------------------------------------------------

  /** Connects to a broker (new in the pool, or back), replays every subscription, marks it synced. */
  join(broker: PoolBroker): Promise<void> {
    return this.uplinks.join(broker);
  }

  /** A join that failed (a broker just booted may refuse a first connection): tried again with back-off. */
  joinLater(brokerId: string): void {
    this.uplinks.scheduleReconnect(brokerId);
  }

  /** A broker became routable again: publishes held for want of one go out now. */
  resendHeld(): void {
    if (this.state === 'connected') this.inbound?.resendHeld();
  }

  /**
   * The pool's retained fence changed: held retained publishes it no longer covers go out (once the
   * links a lazy session is opening are open, so they go to their owner in the order they came).
   */
  releaseRetained(): void {
    const linking = this.lazy.linking;
    if (linking) void linking.then(() => this.releaseRetained());
    else if (this.state === 'connected') this.inbound?.releaseRetained();
  }

  /** Retained publishes sent before a fence on `brokerId` and not finished yet (see InboundPublishes). */
  retainedUnsettled(brokerId: string): number {
    return this.inbound?.retainedUnsettled(this.deps.pool.retainedFence, brokerId) ?? 0;
  }

  /**
   * Synced state of this session on one broker (for the pool's "synced on this replica"): a lazy
   * session has no subscription to be missing anywhere, and neither has a full one that never
   * subscribed and does not outlive its connection (it only publishes: LazyLinks.receives).
   */
  isSynced(brokerId: string): boolean {
    if (!this.lazy.full || !this.lazy.receives) return true;
    const link = this.links.get(brokerId);
    return link?.synced === true;
  }

  /** The broker left the pool: say goodbye to it cleanly; unacknowledged publishes move. */
  leave(brokerId: string): void {
    this.uplinks.leave(brokerId);
  }

  inflightOn(brokerId: string): number {
    return this.inbound?.inflightOn(brokerId) ?? 0;
  }

  /** Buffer and window occupancy, for status and for tests of the bounds. */
  buffers(): { inflightFromClient: number; deliveriesInflight: number; deliveriesBuffered: number } {
    return {
      inflightFromClient: this.inbound?.size ?? 0,
      deliveriesInflight: this.outbound?.inflight ?? 0,
      deliveriesBuffered: this.outbound?.buffered ?? 0,
    };
  }

  // ---- close ----------------------------------------------------------------------------------

  /** Another connection took this client id: close without DISCONNECT upstream (brokers take over too). */
  takeOver(): void {
    this.endTakenOver('here', 'abrupt');
  }

  /**
   * Another replica took a CONNECT with this client id (claims.ts). If it is the newer connection,
   * this one ends (endTakenOver), gracefully upstream (no will fires). Its links are not kept up to be
   * taken over there, and nothing reconnects them (no ping-pong between the two replicas).
   */
  claimedElsewhere(claim: Claim): void {
    if (this.state === 'closed' || this.claimedAt === 0) return;
    if (!isNewerClaim(claim, { instanceId: this.deps.registry?.instanceId ?? '', at: this.claimedAt }))
      return;
    this.log.info(
      { replica: claim.instanceId },
      'session taken over: the client connected to another replica',
    );
    this.endTakenOver('replica', 'graceful');
  }

  /**
   * A newer connection of this client has the session, seen `by` here, another replica or a broker:
   * this one ends as a broker ends a taken-over connection [MQTT-3.1.4-3] (v5 clients hear 0x8E), and
   * the record is left to the new one.
   */
  endTakenOver(by: TakenOverBy, mode: CloseMode): void {
    this.takenOver = by;
    if (this.version === 5 && this.state === 'connected')
      this.down.write({ cmd: 'disconnect', reasonCode: SESSION_TAKEN_OVER });
    this.close(mode, TAKEN_OVER_REASONS[by]);
  }

  /** The orchestrator drains: v5 clients are told where to go; the will must not fire. */
  redirect(serverReference: string | undefined): void {
    if (this.version === 5 && this.state === 'connected') {
      this.down.write({
        cmd: 'disconnect',
        reasonCode: 0x9c,
        ...(serverReference ? { properties: { serverReference } } : {}),
      });
    }
    this.close('graceful', 'orchestrator draining');
  }

  /** The orchestrator stops: MQTT 5 clients hear why (0x8B server shutting down). */
  shutdown(): void {
    if (this.version === 5 && this.state === 'connected')
      this.down.write({ cmd: 'disconnect', reasonCode: 0x8b });
    this.close('graceful', 'orchestrator stopping');
  }

  close(mode: CloseMode, reason: string, goodbye: DisconnectOptions = {}): void {
    this.lifetime.close(mode, reason, goodbye);
  }

  /** Whether the client's session outlives its connection (clean 0 / v5 expiry > 0). */
  get persistent(): boolean {
    return this.registrySync?.persistent === true;
  }

  isClosed(): boolean {
    return this.state === 'closed';
  }
}
