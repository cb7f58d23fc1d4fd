import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type {
  IConnackPacket,
  IConnectPacket,
  IDisconnectPacket,
  IPublishPacket,
  ISubscription,
  Packet,
} from 'mqtt-packet';
import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { Admission } from '../connect-gate.ts';
import type { OrchestratorLimits } from '../limits.ts';
import type { BrokerPool, PoolBroker } from '../pool/broker-pool.ts';
import { FramedStream, PacketTooLargeError } from '../protocol/framed-stream.ts';
import { PacketIdSpace } from '../protocol/packet-ids.ts';
import { packetProblem } from '../protocol/validate-packet.ts';
import { hasRecordedSubscriptions, isPersistent, type RegistryEntry } from '../registry/reserved.ts';
import type { SessionRegistry } from '../registry/session-registry.ts';
import { homeBrokerRanking, type Router } from '../routing/strategies.ts';
import { clientConnack, refusal, upstreamConnect, validateConnect } from './connect-steps.ts';
import type { BrokerCounters, SessionContext, UpstreamLink, UpstreamPending } from './context.ts';
import { closedForDenial, DENIED_CLOSE_SETTLE_MS, NOT_AUTHORIZED } from './denied-close.ts';
import { InboundPublishes } from './inbound-publish.ts';
import { LinkGraces } from './link-grace.ts';
import { LinkNeed } from './link-need.ts';
import { OutboundDeliveries } from './outbound-delivery.ts';
import { RegistrySync } from './registry-sync.ts';
import { SubscriptionFanout } from './subscriptions.ts';
import { TopicAliases } from './topic-alias.ts';
import { type DisconnectOptions, Upstream } from './upstream.ts';

/** MQTT 5 reason code 0x8E: Session taken over (a newer connection with the same client id). */
const SESSION_TAKEN_OVER = 0x8e;
/** Two clean closes of a link by its broker this close together: the session lives on elsewhere. */
const TAKEOVER_WINDOW_MS = 10_000;

export interface SessionDeps {
  pool: BrokerPool;
  router: Router;
  limits: OrchestratorLimits;
  log: Logger;
  counters: BrokerCounters;
  /** Registers the session under its client id; returns the session it takes over, if any. */
  claim(clientId: string, session: Session): Session | undefined;
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
  admit?(gone: () => boolean): Admission | Promise<Admission>;
  /** Whether another session of this replica still has a live link to the broker (optional). */
  brokerAlive?(brokerId: string, except: Session): boolean;
  /**
   * A persistent session left with no link to these joining brokers (its join was cut short): they
   * get its subscriptions from its record (JoinReplays.replayLeft; optional).
   */
  replayLeft?(brokers: PoolBroker[], entry: RegistryEntry): void;
}

type CloseMode = 'graceful' | 'abrupt';

/**
 * One client's session: the client's stream (any Duplex) on one side, one upstream connection per
 * broker on the other. CONNECT is a short list of named steps (validate, take over, open upstreams,
 * CONNACK, flush); then packets are dispatched to the publish, delivery and subscription flows.
 */
export class Session extends EventEmitter implements SessionContext {
  clientId = '';
  version: 4 | 5 = 4;
  log: Logger;
  readonly counters: BrokerCounters;
  readonly links = new Map<string, UpstreamLink>();
  state: 'connecting' | 'connected' | 'closed' = 'connecting';
  private readonly down: FramedStream;
  private connect: IConnectPacket | undefined;
  private inbound: InboundPublishes | undefined;
  private outbound: OutboundDeliveries | undefined;
  private subs: SubscriptionFanout | undefined;
  private readonly early: Packet[] = [];
  private readonly earlyFromBrokers: Array<[UpstreamLink, Packet]> = [];
  private readonly clientPauses = new Set<string>();
  private readonly upstreamPauses = new Set<string>();
  private lastActivity = Date.now();
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private readonly reconnectTimers = new Map<string, NodeJS.Timeout>();
  /** The broker holding this client's will. */
  private homeId: string | undefined;
  /** publishTargets(), cached: recomputed when the pool, routability, or this session's links change. */
  private targets: UpstreamLink[] = [];
  private targetsGeneration = -1;
  private targetsLinkGeneration = -1;
  /** Bumped whenever a link is added, removed, or marked synced. */
  private linkGeneration = 0;
  /** This session's record in the session registry (undefined without a registry). */
  private registrySync: RegistrySync | undefined;
  private takenOver = false;
  /** Links whose broker said DISCONNECT 0x8E (session taken over) before closing them. */
  private readonly takenOverAt = new WeakSet<UpstreamLink>();
  /** Links whose broker said why with another reason (0x8B shutting down, …): not a takeover. */
  private readonly closedForAReason = new WeakSet<UpstreamLink>();
  /** Per broker, when it last closed this session's link cleanly (see takenOverAtBroker). */
  private readonly cleanCloses = new Map<string, number>();
  /** When each broker last refused a publish with 0x87 (see denied-close.ts). */
  private readonly deniedAt = new Map<string, number>();
  /**
   * Links to every joining and active broker (persistent sessions, and any session once it subscribed
   * or a publish needed a broker it has no link to); false: a lazy session, linked to its home broker
   * only (link-need.ts, docs/data-plane.md "Upstream links per client").
   */
  private full = true;
  private linkNeed: LinkNeed | undefined;
  /** The links a lazy session is opening as it becomes full; client packets wait meanwhile. */
  private linking: Promise<void> | undefined;
  private readonly whileLinking: Packet[] = [];
  /** Upstream sessions that outlive a lost link (a clean session's, on MQTT 5 brokers). */
  private readonly graces: LinkGraces;

  constructor(
    stream: Duplex,
    private readonly deps: SessionDeps,
  ) {
    super();
    this.log = deps.log;
    this.counters = deps.counters;
    this.graces = new LinkGraces(deps.limits.upstreamLinkGraceSeconds);
    this.down = new FramedStream(stream, { protocolVersion: 4, maxPacketBytes: deps.limits.maxPacketBytes });
    this.down.on('packet', (p: Packet) => this.onClientPacket(p));
    this.down.on('error', (err: Error) => this.onClientBadInput(err));
    this.down.on('close', () => this.close('abrupt', 'client connection closed'));
    this.down.on('encodeError', (err: Error, packet: Packet) => {
      this.log.error({ err: err.message, cmd: packet.cmd }, 'a packet for the client could not be encoded');
      this.close('abrupt', `encoding ${packet.cmd} failed`);
    });
    stream.on('drain', () => this.outbound?.onClientDrain());
    // [MQTT-3.1.0-1]: the first packet is CONNECT, within a bounded time.
    this.armConnectTimer();
  }

  private armConnectTimer(): void {
    this.connectTimer = setTimeout(
      () => this.close('abrupt', 'no CONNECT in time'),
      this.deps.limits.connectTimeoutMs,
    );
    this.connectTimer.unref();
  }

  // ---- SessionContext -------------------------------------------------------------------------

  sendDown(packet: Packet): boolean {
    return this.down.write(packet);
  }

  link(brokerId: string): UpstreamLink | undefined {
    return this.links.get(brokerId);
  }

  get linksSettled(): boolean {
    return this.full && this.linking === undefined;
  }

  linksFor(packet: IPublishPacket): boolean {
    if (this.linking) return false;
    if (this.full || !this.needsEveryLink(packet)) return true;
    void this.goFull();
    return this.linking === undefined;
  }

  openEveryLink(): void {
    void this.goFull();
  }

  deferWhileLinking(packet: IPublishPacket): boolean {
    if (!this.linking) return false;
    this.whileLinking.push(packet);
    return true;
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
    this.clientPauses.add(reason);
  }

  resumeClient(reason: string): void {
    if (this.clientPauses.delete(reason) && this.clientPauses.size === 0) this.down.resume();
  }

  pauseUpstreams(reason: string): void {
    if (this.upstreamPauses.size === 0) for (const l of this.links.values()) l.upstream.pause();
    this.upstreamPauses.add(reason);
  }

  resumeUpstreams(reason: string): void {
    if (this.upstreamPauses.delete(reason) && this.upstreamPauses.size === 0) {
      for (const l of this.links.values()) l.upstream.resume();
    }
  }

  // ---- client side ----------------------------------------------------------------------------

  private onClientBadInput(err: Error): void {
    const tooLarge = err instanceof PacketTooLargeError;
    this.log.warn({ err: err.message }, tooLarge ? 'packet too large' : 'malformed packet');
    if (this.version === 5 && this.state === 'connected') {
      this.down.write({ cmd: 'disconnect', reasonCode: tooLarge ? 0x95 : 0x81 });
    }
    this.close('abrupt', err.message);
  }

  private onClientPacket(packet: Packet): void {
    this.lastActivity = Date.now();
    if (this.state === 'closed') return;
    if (this.state === 'connecting') {
      if (this.connect === undefined) {
        if (packet.cmd !== 'connect') return this.close('abrupt', `${packet.cmd} before CONNECT`); // [MQTT-3.1.0-1]
        this.connect = packet;
        // Nothing more is read from the client until it is connected: the early queue stays small.
        this.pauseClient('connecting');
        void this.runConnect(packet);
      } else if (packet.cmd === 'connect') {
        this.close('abrupt', 'second CONNECT'); // [MQTT-3.1.0-2]
      } else {
        this.early.push(packet); // sent right after CONNECT: handled once connected
      }
      return;
    }
    this.dispatch(packet);
  }

  private dispatch(packet: Packet): void {
    if (this.linking) {
      this.whileLinking.push(packet); // the client is paused: at most the packet in hand
      return;
    }
    if (!this.full && this.needsEveryLink(packet)) {
      void this.goFull();
      if (this.linking) return void this.whileLinking.push(packet);
    }
    const problem = packetProblem(packet);
    if (problem) return this.protocolError(problem.reason, problem.code);
    switch (packet.cmd) {
      case 'publish':
        return this.inbound?.onPublish(packet);
      case 'puback':
      case 'pubrec':
      case 'pubcomp':
        return this.outbound?.onClientAck(packet);
      case 'pubrel':
        return this.inbound?.onPubrel(packet.messageId ?? 0);
      case 'subscribe':
        return this.subs?.onSubscribe(packet);
      case 'unsubscribe':
        return this.subs?.onUnsubscribe(packet);
      case 'pingreq':
        this.down.write({ cmd: 'pingresp' }); // keepalive is answered locally
        return;
      case 'disconnect':
        this.registrySync?.noteDisconnect(packet as IDisconnectPacket);
        return this.onClientDisconnect(packet);
      case 'connect':
        return this.protocolError('second CONNECT', 0x82); // [MQTT-3.1.0-2]
      case 'auth':
        // No Authentication Method was accepted in CONNECT, so AUTH is a protocol error (0x8C is CONNACK-only).
        return this.protocolError('enhanced authentication (AUTH) is not supported', 0x82);
      default:
        return this.protocolError(`unexpected ${packet.cmd} from a client`, 0x82);
    }
  }

  /**
   * DISCONNECT from the client, passed on to every broker: a v5 Session Expiry Interval in it replaces
   * the CONNECT's (§3.14.2.2.2), and reason 0x04 (disconnect with will message) makes the home broker
   * publish the will. A 3.1.1 broker hears neither: it is closed abruptly for 0x04 instead.
   */
  private onClientDisconnect(packet: IDisconnectPacket): void {
    const v5 = this.version === 5;
    const expiry = v5 ? packet.properties?.sessionExpiryInterval : undefined;
    if (expiry !== undefined && expiry > 0 && (this.connect?.properties?.sessionExpiryInterval ?? 0) === 0) {
      // [MQTT-3.14.2-2]: a session that was to end at the close cannot be made to outlive it.
      return this.protocolError('DISCONNECT sets a Session Expiry Interval after CONNECT said 0', 0x82);
    }
    const reasonCode = v5 && packet.reasonCode === 0x04 ? 0x04 : undefined;
    this.close('graceful', 'client DISCONNECT', { reasonCode, sessionExpiryInterval: expiry });
  }

  // ---- CONNECT steps --------------------------------------------------------------------------

  private async runConnect(packet: IConnectPacket): Promise<void> {
    const version: 4 | 5 = packet.protocolVersion === 5 ? 5 : 4;
    this.version = version;
    this.down.setVersion(packet.protocolVersion === 5 ? 5 : 4);
    // Step 1: validate.
    const check = validateConnect(packet);
    if (!check.ok) {
      this.log.info({ reason: check.reason }, 'CONNECT refused');
      this.down.write(refusal(version, check.code));
      return this.close('graceful', check.reason);
    }
    // Step 1b: admission at the bounded connect rate (limits.connectsPerSecond): wait, or be refused.
    // The wait is bounded by the queue (maxQueuedConnects / connectsPerSecond), not by connectTimeoutMs,
    // which starts again once the CONNECT is admitted (it bounds the broker side of the connect).
    const admission = this.deps.admit?.(() => this.isClosed()) ?? 'admitted';
    if (typeof admission !== 'string' && this.connectTimer) clearTimeout(this.connectTimer);
    if ((typeof admission === 'string' ? admission : await admission) === 'refused') {
      if (this.isClosed()) return;
      // v5: 0x9F Connection rate exceeded (§3.2.2.2); 3.1.1: 3 Server unavailable (its closest).
      this.down.write(
        version === 5 ? { cmd: 'connack', sessionPresent: false, reasonCode: 0x9f } : refusal(4, 3),
      );
      return this.close('graceful', 'connection rate exceeded');
    }
    if (this.isClosed()) return;
    if (typeof admission !== 'string') this.armConnectTimer();
    this.clientId = check.clientId;
    this.log = this.deps.log.child({ clientId: this.clientId });
    this.setupFlows(packet);
    // Only a session that outlives its connection needs its subscriptions on every broker from the start.
    this.full = isPersistent(version, packet.clean ?? true, packet.properties?.sessionExpiryInterval);
    if (!this.full) this.linkNeed = new LinkNeed(this.deps.router.strategy, this.clientId);
    this.pauseUpstreams('connecting');
    // Step 2: take over a session with the same client id, as a broker would.
    const previous = this.deps.claim(this.clientId, this);
    previous?.takeOver();
    // Step 3: open upstreams: the home broker (with the will) first, then the others.
    // A persistent session links to a draining broker too: what it queued for the session while the
    // client was away (being moved) is delivered before the broker goes; nothing is routed there.
    const brokers = this.deps.pool
      .list()
      .filter((b) => b.state === 'active' || b.state === 'joining' || (this.full && b.state === 'draining'));
    const activeIds = brokers.filter((b) => b.state === 'active').map((b) => b.id);
    const ranking = homeBrokerRanking(
      this.clientId,
      activeIds.length > 0 ? activeIds : brokers.map((b) => b.id),
    );
    let home: { link: UpstreamLink; connack: IConnackPacket } | undefined;
    for (const id of ranking) {
      const broker = this.deps.pool.get(id);
      if (!broker || this.isClosed()) continue;
      try {
        home = await this.openLink(broker, true);
        break;
      } catch (err) {
        this.log.warn({ broker: id, err: errorMessage(err) }, 'home broker candidate unreachable');
      }
    }
    if (this.isClosed()) return this.dropAll();
    if (!home) {
      this.down.write(refusal(version, 3)); // server unavailable
      return this.close('graceful', 'no broker reachable');
    }
    this.homeId = home.link.brokerId;
    const homeCode = home.connack.reasonCode ?? home.connack.returnCode ?? 0;
    if (homeCode !== 0) {
      // Auth passthrough: the broker's refusal, translated to the client's level.
      this.down.write(clientConnack(home.connack, home.link.upstream.protocolVersion, version, undefined));
      this.links.delete(home.link.brokerId);
      this.linkGeneration += 1;
      return this.close('graceful', `home broker refused with code ${homeCode}`);
    }
    const fresh = new Set<string>(home.connack.sessionPresent ? [] : [home.link.brokerId]);
    await Promise.all(
      brokers
        .filter((b) => b.id !== home?.link.brokerId)
        .map((b) =>
          this.openLink(b, false).then(
            (r) => !r.connack.sessionPresent && fresh.add(b.id),
            (err) => this.onLinkFailed(b, err),
          ),
        ),
    );
    if (this.isClosed()) return this.dropAll();
    const { resumed, replayOn, ended } = await this.syncRegistry(packet, fresh);
    if (this.isClosed()) return this.dropAll();
    // Links opened with the CONNECT have every subscription already: none yet, or the brokers' own
    // persistent session; but those the registry says lack the session's subscriptions (resync below).
    for (const link of this.links.values()) link.synced = !replayOn.includes(link);
    this.linkGeneration += 1;
    // The record names this replica as the holder now (a clean start removes it).
    this.registrySync?.write(this.links, this.subs?.active.values() ?? [], this.missesBroker());
    // Step 4: CONNACK, the home broker's.
    const extra: IConnackPacket['properties'] = {
      receiveMaximum: this.deps.limits.maxInflightFromClient,
      topicAliasMaximum: this.deps.limits.topicAliasMaximum,
      maximumPacketSize: this.deps.limits.maxPacketBytes,
      ...(check.assigned ? { assignedClientIdentifier: this.clientId } : {}),
    };
    // The session lives on in the registry although the home broker never had it (it joined later):
    // its subscriptions are in place again, so the client is told its session is present.
    // A record newer than the home broker's session says the session ended (a tombstone): what the
    // home broker kept is left over from before (it missed the end), not the client's session.
    const present = resumed || (home.connack.sessionPresent && !ended);
    const connack =
      present === home.connack.sessionPresent ? home.connack : { ...home.connack, sessionPresent: present };
    this.down.write(clientConnack(connack, home.link.upstream.protocolVersion, version, extra));
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.state = 'connected';
    this.startKeepalive(packet.keepalive ?? 0);
    this.log.info(
      { brokers: [...this.links.keys()], home: home.link.brokerId, clean: packet.clean },
      'client connected',
    );
    // Step 5: flush what the client sent while we were connecting.
    for (const p of this.early.splice(0)) this.dispatch(p);
    for (const [link, p] of this.earlyFromBrokers.splice(0)) this.onBrokerPacket(link, p);
    this.resumeUpstreams('connecting');
    this.resumeClient('connecting');
    this.emit('connected');
    for (const link of replayOn) this.resync(link);
    if (!this.full) this.trimLinks();
    this.joinMissed(brokers);
  }

  /**
   * Brokers that joined the pool while this session was connecting: join() skipped them (it waits for
   * 'connected'), and without a link the broker would never be synced on this replica, so the
   * manager's join would wait for it until its action timeout. They are joined now.
   */
  private joinMissed(opened: readonly PoolBroker[]): void {
    const known = new Set(opened.map((b) => b.id));
    for (const b of this.deps.pool.list()) {
      if (known.has(b.id) || this.links.has(b.id) || this.reconnectTimers.has(b.id)) continue;
      if (b.state !== 'active' && b.state !== 'joining') continue;
      void this.join(b).catch((err) => this.onLinkFailed(b, err));
    }
  }

  // ---- lazy links -----------------------------------------------------------------------------

  /** Whether a lazy session must open its other links before this packet (a SUBSCRIBE, or routing). */
  private needsEveryLink(packet: Packet): boolean {
    if (packet.cmd === 'subscribe') return true; // subscriptions go to every broker (fan-out)
    if (packet.cmd !== 'publish' || !this.linkNeed) return false;
    return this.linkNeed.publishNeedsLink(
      packet.topic,
      packet.retain,
      this.deps.routingGeneration(),
      this.linkGeneration,
      () =>
        this.deps.pool
          .list()
          .filter((b) => b.state === 'active' && this.deps.routable(b.id))
          .map((b) => b.id),
      (id) => this.links.has(id),
    );
  }

  /**
   * A lazy session becomes full: it opens links to every joining and active broker it lacks (each
   * joined as a new broker would be: subscriptions replayed, then synced). Client packets wait, in
   * order, until every attempt settled; a broker that could not be reached is retried with back-off
   * and is not routable meanwhile (the session lacks it), as after a failed link at CONNECT.
   */
  private goFull(except?: string): Promise<void> {
    if (this.full) return this.linking ?? Promise.resolve();
    this.full = true;
    this.linkNeed = undefined;
    // `except`: a broker that just went down is retried with back-off, not waited for here.
    const missing = this.deps.pool
      .list()
      .filter(
        (b) => (b.state === 'active' || b.state === 'joining') && !this.links.has(b.id) && b.id !== except,
      );
    if (missing.length === 0) return Promise.resolve();
    this.pauseClient('opening links');
    const opening = Promise.all(
      missing.map((b) =>
        this.join(b).catch((err) => {
          this.onLinkFailed(b, err);
          if (this.state === 'connected') this.emit('linkDown', b.id);
        }),
      ),
    ).then(() => {
      this.linking = undefined;
      if (this.state !== 'connected') return;
      // Held publishes are older than what the client sent meanwhile: they go first.
      this.inbound?.resendHeld();
      for (const p of this.whileLinking.splice(0)) if (this.state === 'connected') this.dispatch(p);
      this.resumeClient('opening links');
    });
    this.linking = opening;
    return opening;
  }

  /**
   * A lazy session keeps its home link only. Every link was opened with the CONNECT all the same, so a
   * clean start ends an older persistent session of this client id on every broker [MQTT-3.1.2-6] and
   * clears its registry record; the others now say goodbye (no will is registered there).
   */
  private trimLinks(): void {
    for (const [id, link] of this.links) {
      if (id === this.homeId || this.inflightOn(id) > 0) continue;
      this.links.delete(id);
      this.linkGeneration += 1;
      this.graces.forget(id);
      link.upstream.disconnect();
      // An UNSUBSCRIBE sent with the CONNECT may wait for this broker's UNSUBACK: it no longer does.
      this.subs?.onBrokerDown(id);
    }
  }

  private setupFlows(packet: IConnectPacket): void {
    const limits = this.deps.limits;
    this.inbound = new InboundPublishes(
      this,
      this.deps.router,
      new TopicAliases(limits.topicAliasMaximum),
      limits.maxInflightFromClient,
      { windowMs: limits.replayWindowMs, maxMessages: limits.replayMaxMessages },
      limits.maxWaitingPublishBytes,
      { onBrokerLoss: limits.qos2OnBrokerLoss, maxKeptBytes: limits.maxKeptQos2Bytes },
      () => this.deps.pool.retainedFence,
    );
    const clientReceiveMax = packet.properties?.receiveMaximum ?? 65_535;
    this.outbound = new OutboundDeliveries(
      this,
      Math.min(limits.deliveryWindow, clientReceiveMax),
      limits.maxBufferedDeliveries,
      packet.properties?.maximumPacketSize ?? Number.POSITIVE_INFINITY,
    );
    this.subs = new SubscriptionFanout(this, () => {
      if (this.registrySync?.persistent)
        this.registrySync.write(this.links, this.subs?.active.values() ?? []);
    });
    if (this.deps.registry) this.registrySync = new RegistrySync(this.deps.registry, this.clientId, packet);
  }

  /**
   * CONNECT step 3b, the session registry: a resumed session takes its subscriptions from the record
   * (made through another orchestrator, or before this one restarted); brokers that answered
   * session present 0 are returned, to get them replayed once connected (they stay unsynced, so not
   * routable, until then). The record then names this replica as the session's holder. A clean start
   * (or a session that ends with its connection) removes the record.
   */
  private async syncRegistry(
    packet: IConnectPacket,
    fresh: ReadonlySet<string>,
  ): Promise<{ resumed: boolean; replayOn: UpstreamLink[]; ended?: boolean }> {
    const sync = this.registrySync;
    const subs = this.subs;
    if (!sync || !subs) return { resumed: false, replayOn: [] };
    // The record is read from a broker that had the session (it holds the record), if any.
    const ids = [...this.links.keys()].sort((p, q) => Number(fresh.has(p)) - Number(fresh.has(q)));
    const linked = ids.flatMap((id) => this.deps.pool.get(id) ?? []);
    let entry: Awaited<ReturnType<RegistrySync['load']>>;
    try {
      entry = await sync.load(packet.clean ?? true, linked);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'session registry unreadable: subscriptions not restored');
    }
    const recorded = entry?.subscriptions.map((s) => ({ ...s }) as ISubscription);
    // QoS 2 deliveries the client received before it left: their PUBRELs come under the ids it knows.
    for (const r of entry?.releases ?? [])
      if (this.links.has(r.broker)) this.outbound?.expectRelease(r.broker, r.up, r.down);
    for (const sub of recorded ?? []) if (!subs.active.has(sub.topic)) subs.active.set(sub.topic, sub);
    if (!entry || !recorded || recorded.length === 0) {
      // An older copy had filters the newest has not (the session ended or changed while a broker was
      // out of reach): a broker that answered session present may still hold them (resync drops them).
      const present = [...this.links.values()].filter((l) => !fresh.has(l.brokerId));
      return {
        resumed: false,
        replayOn: sync.staleAtLoad.length > 0 ? present : [],
        ended: sync.endedAtLoad,
      };
    }
    // "Session present" is trusted only from a broker the record lists as having the subscriptions:
    // another may hold a session of this client made by a link that was cut short (issue #13).
    const lacking = (id: string) => fresh.has(id) || !hasRecordedSubscriptions(entry, id);
    return {
      resumed: fresh.size < this.links.size,
      replayOn: [...this.links.values()].filter((l) => lacking(l.brokerId)),
    };
  }

  /** A broker that lacks this session's subscriptions gets them; until then it is not synced. */
  private resync(link: UpstreamLink): void {
    const subs = this.subs;
    if (!subs) return;
    const stale = (this.registrySync?.staleAtLoad ?? [])
      .map((s) => s.topic)
      .filter((f) => !subs.active.has(f));
    subs
      .dropStale(link, stale)
      .then(() => subs.replay(link))
      .then(() => {
        if (this.links.get(link.brokerId) !== link) return;
        link.synced = true;
        if (this.registrySync?.persistent)
          this.registrySync.write(this.links, this.subs?.active.values() ?? []);
        this.inbound?.resendHeld();
        this.emit('synced', link.brokerId);
      })
      .catch((err) =>
        this.log.warn({ broker: link.brokerId, err: errorMessage(err) }, 'subscriptions not restored'),
      );
  }

  /** Opens one upstream; resolves with its CONNACK. The link is registered once the broker accepted. */
  private async openLink(
    broker: PoolBroker,
    withWill: boolean,
  ): Promise<{ link: UpstreamLink; connack: IConnackPacket; resumed: boolean }> {
    const connect = this.connect;
    if (!connect) throw new Error('no CONNECT');
    // The broker's best level, whatever the client's: a 3.1.1 client's deliveries then carry the
    // retained move's marker too (common/move-marker.ts), which a 3.1.1 connection cannot.
    const brokerVersion = (await this.deps.pool.protocolVersion(broker.id)) === 5 ? 5 : 4;
    const grace = this.graces.forLink(broker.id, connect, brokerVersion);
    const upstream = new Upstream({
      brokerId: broker.id,
      host: broker.host,
      port: broker.port,
      tls: broker.tls,
      protocolVersion: brokerVersion,
      connect: upstreamConnect(connect, this.clientId, brokerVersion, withWill, grace),
      keepaliveSeconds: this.deps.limits.upstreamKeepaliveSeconds,
      connectTimeoutMs: this.deps.limits.upstreamConnectTimeoutMs,
      maxPacketBytes: this.deps.limits.maxPacketBytes,
      defaultReceiveMaximum: this.deps.limits.upstreamReceiveMaximum,
      v4Maximum: this.deps.limits.maxInflightFromClient,
      graceful: grace.seconds > 0,
    });
    const connack = await upstream.open();
    // Session present 1 on a resumed link: the broker kept the subscriptions and queued what came.
    const resumed = grace.resume && connack.sessionPresent;
    const link: UpstreamLink = {
      brokerId: broker.id,
      upstream,
      ids: new PacketIdSpace<UpstreamPending>(),
      synced: false,
    };
    if ((connack.reasonCode ?? connack.returnCode ?? 0) !== 0) return { link, connack, resumed };
    if (this.isClosed()) {
      upstream.drop();
      return { link, connack, resumed };
    }
    this.graces.opened(broker.id, grace.seconds);
    this.links.set(broker.id, link);
    this.linkGeneration += 1;
    if (this.upstreamPauses.size > 0) upstream.pause();
    upstream.attach(
      (p) => this.onBrokerPacket(link, p),
      (reason) => this.onLinkDown(link, reason),
      (p, err) => this.protocolError(`a ${p.cmd} from the client cannot be relayed: ${err.message}`, 0x81),
    );
    return { link, connack, resumed };
  }

  private onLinkFailed(broker: PoolBroker, err: unknown): void {
    this.log.warn({ broker: broker.id, err: errorMessage(err) }, 'broker unreachable for this session');
    this.scheduleReconnect(broker.id);
  }

  // ---- broker side ----------------------------------------------------------------------------

  private onBrokerPacket(link: UpstreamLink, packet: Packet): void {
    if (this.state === 'connecting') {
      // Nothing reaches the client before its CONNACK: held (upstreams are paused meanwhile).
      this.earlyFromBrokers.push([link, packet]);
      return;
    }
    const id = (packet as { messageId?: number }).messageId ?? 0;
    switch (packet.cmd) {
      case 'publish':
        return this.outbound?.onBrokerPublish(link, packet as IPublishPacket);
      case 'pubrel':
        return this.outbound?.onBrokerPubrel(link, id);
      case 'puback':
      case 'pubrec':
      case 'pubcomp': {
        const pending = link.ids.get(id);
        if ((packet as { reasonCode?: number }).reasonCode === NOT_AUTHORIZED)
          this.deniedAt.set(link.brokerId, Date.now());
        if (pending?.kind === 'publish') this.inbound?.onBrokerAck(link, packet, pending.downId);
        else if (pending?.kind === 'republish') link.ids.release(id);
        return;
      }
      case 'suback':
      case 'unsuback': {
        const pending = link.ids.get(id);
        if (pending?.kind === 'subscribe' || pending?.kind === 'unsubscribe') {
          this.subs?.onBrokerAck(link, packet, pending.requestId);
        } else if (pending?.kind === 'replay') {
          link.ids.release(id);
          pending.done();
        }
        return;
      }
      case 'disconnect': {
        const reasonCode = (packet as IDisconnectPacket).reasonCode;
        if (reasonCode === SESSION_TAKEN_OVER) this.takenOverAt.add(link);
        else this.closedForAReason.add(link);
        this.log.warn({ broker: link.brokerId, reasonCode }, 'broker sent DISCONNECT');
        return;
      }
      default:
        this.log.warn({ broker: link.brokerId, cmd: packet.cmd }, 'unexpected packet from a broker: ignored');
    }
  }

  private onLinkDown(link: UpstreamLink, reason: string): void {
    if (this.links.get(link.brokerId) !== link) return;
    this.links.delete(link.brokerId);
    this.linkGeneration += 1;
    for (const [, pending] of link.ids.entries()) {
      if (pending.kind === 'replay') pending.done(new Error(`broker ${link.brokerId} went down: ${reason}`));
    }
    if (this.state === 'closed') return;
    if (closedForDenial(this.deniedAt.get(link.brokerId), Date.now(), reason))
      return this.endAsBrokerDid(link.brokerId);
    this.deniedAt.delete(link.brokerId);
    if (link.upstream.protocolVersion === 4 && link.upstream.closedAfterAck && this.deps.brokerAlive) {
      // A 3.1.1 broker may have refused that publish: decided once a dead broker's other links closed too.
      const brokerAlive = this.deps.brokerAlive;
      setTimeout(() => {
        if (this.state === 'closed') return;
        if (brokerAlive(link.brokerId, this)) this.endAsBrokerDid(link.brokerId);
        else this.onLinkLost(link, reason);
      }, DENIED_CLOSE_SETTLE_MS).unref();
      return;
    }
    this.onLinkLost(link, reason);
  }

  /**
   * Whether the broker handed this link's session to another connection with the same client id: it
   * said so (v5 DISCONNECT 0x8E), or it closed the link cleanly (FIN, no DISCONNECT, no transport
   * error) a second time within TAKEOVER_WINDOW_MS, which is what two orchestrators resuming the
   * session from each other look like: Mosquitto 2.0.11 closes a taken-over connection without a
   * DISCONNECT, so the first clean close is taken for a lost link (reconnected: a join replay may have
   * taken the link over once, docs/persistent-sessions.md), the second one in a row is not.
   */
  private takenOverAtBroker(link: UpstreamLink): boolean {
    if (this.takenOverAt.delete(link)) return true;
    if (!link.upstream.closedByBroker || this.closedForAReason.has(link)) return false;
    const now = Date.now();
    const previous = this.cleanCloses.get(link.brokerId);
    this.cleanCloses.set(link.brokerId, now);
    return previous !== undefined && now - previous < TAKEOVER_WINDOW_MS;
  }

  /**
   * A broker gave this session to a newer connection with the same client id (see takenOverAtBroker):
   * the client is connected elsewhere now, typically moved to another orchestrator while this
   * session lingered. Reconnecting would take the session back there, and the other orchestrator
   * would take it back in turn (ping-pong). The stale session ends as a broker ends a taken-over
   * connection [MQTT-3.1.4-3]: v5 clients hear 0x8E; gracefully (no will), record left to the new one.
   */
  private movedAway(brokerId: string): void {
    this.log.info({ broker: brokerId }, 'session taken over at a broker: the client is connected elsewhere');
    this.takenOver = true;
    if (this.version === 5) this.down.write({ cmd: 'disconnect', reasonCode: SESSION_TAKEN_OVER });
    this.close('graceful', 'session taken over at a broker');
  }

  /** The broker ended this client (a refused publish): the client is ended too, as the broker would. */
  private endAsBrokerDid(brokerId: string): void {
    this.log.info({ broker: brokerId }, 'broker closed the connection after refusing a publish');
    if (this.version === 5) this.down.write({ cmd: 'disconnect', reasonCode: NOT_AUTHORIZED });
    this.close('abrupt', 'broker closed the connection after refusing a publish');
  }

  private onLinkLost(link: UpstreamLink, reason: string): void {
    if (this.state === 'connected' && this.takenOverAtBroker(link)) return this.movedAway(link.brokerId);
    this.graces.lost(link.brokerId, this.subs?.active);
    this.log.warn({ broker: link.brokerId, reason }, 'broker connection lost');
    // A lazy session lost its one link: it opens the others now, as a full session has them (its
    // publishes held meanwhile go out as each joins; the recent ones are replayed once they are open).
    const opening = this.full || this.state !== 'connected' ? undefined : this.goFull(link.brokerId);
    this.subs?.onBrokerDown(link.brokerId);
    this.outbound?.onBrokerDown(link.brokerId);
    this.inbound?.onBrokerDown(link.brokerId);
    if (opening) void opening.then(() => this.replayRecent(link.brokerId));
    else this.replayRecent(link.brokerId);
    this.emit('linkDown', link.brokerId);
    this.scheduleReconnect(link.brokerId);
  }

  private replayRecent(brokerId: string): void {
    const replayed = this.inbound?.replayRecent(brokerId) ?? 0;
    if (replayed > 0)
      this.log.warn({ broker: brokerId, replayed }, 'recent QoS 1 publishes re-sent to other brokers');
  }

  /** Reconnects to a broker that is still in the pool, with back-off; replays subscriptions. */
  private scheduleReconnect(brokerId: string, attempt = 0): void {
    if (this.state === 'closed' || this.reconnectTimers.has(brokerId)) return;
    const { first, max } = this.deps.limits.reconnectDelayMs;
    const delay = Math.min(max, first * 2 ** attempt);
    const timer = setTimeout(() => {
      this.reconnectTimers.delete(brokerId);
      const broker = this.deps.pool.get(brokerId);
      if (!broker || broker.state === 'draining' || this.state !== 'connected' || this.links.has(brokerId))
        return;
      void this.join(broker).catch(() => this.scheduleReconnect(brokerId, attempt + 1));
    }, delay);
    timer.unref();
    this.reconnectTimers.set(brokerId, timer);
  }

  /** Connects to a broker (new in the pool, or back), replays every subscription, marks it synced. */
  async join(broker: PoolBroker): Promise<void> {
    if (this.state !== 'connected' || this.links.has(broker.id)) return;
    if (!this.full && broker.id !== this.homeId) return; // a lazy session opens it when it needs it
    // The home broker holds the will: it is registered again when the home broker comes back.
    const { link, connack, resumed } = await this.openLink(broker, broker.id === this.homeId);
    const code = connack.reasonCode ?? connack.returnCode ?? 0;
    if (code !== 0) throw new Error(`broker ${broker.id} refused the session with code ${code}`);
    // A resumed upstream session has the subscriptions it had when its link was lost: only the changes.
    let replaying: Promise<void> | undefined;
    if (resumed) replaying = this.subs?.restore(link, this.graces.before(broker.id));
    else {
      this.outbound?.forgetHandedOver(broker.id);
      replaying = this.subs?.replay(link);
    }
    this.subs?.coverPending(link); // SUBSCRIBEs still waiting for the other brokers go here too
    await replaying;
    this.graces.synced(broker.id);
    link.synced = true;
    this.linkGeneration += 1;
    // Every copy of the record now lists this broker among those with the subscriptions.
    if (this.registrySync?.persistent) this.registrySync.write(this.links, this.subs?.active.values() ?? []);
    this.inbound?.resendHeld();
    this.emit('synced', broker.id);
  }

  /** A join that failed (a broker just booted may refuse a first connection): tried again with back-off. */
  joinLater(brokerId: string): void {
    this.scheduleReconnect(brokerId);
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
    if (this.linking) void this.linking.then(() => this.releaseRetained());
    else if (this.state === 'connected') this.inbound?.releaseRetained();
  }

  /** Retained publishes sent before a fence on `brokerId` and not finished yet (see InboundPublishes). */
  retainedUnsettled(brokerId: string): number {
    return this.inbound?.retainedUnsettled(this.deps.pool.retainedFence, brokerId) ?? 0;
  }

  /**
   * Synced state of this session on one broker (for the pool's "synced on this replica"): a lazy
   * session has no subscription to be missing anywhere.
   */
  isSynced(brokerId: string): boolean {
    if (!this.full) return true;
    const link = this.links.get(brokerId);
    return link?.synced === true;
  }

  /** The broker left the pool: say goodbye to it cleanly; unacknowledged publishes move. */
  leave(brokerId: string): void {
    const link = this.links.get(brokerId);
    const timer = this.reconnectTimers.get(brokerId);
    if (timer) clearTimeout(timer);
    this.reconnectTimers.delete(brokerId);
    this.graces.forget(brokerId);
    if (!link) return;
    this.links.delete(brokerId);
    this.linkGeneration += 1;
    // A lazy session's home broker left: it opens links to the others (its publishes wait for them).
    if (!this.full && this.state === 'connected') void this.goFull();
    link.upstream.disconnect();
    this.subs?.onBrokerDown(brokerId);
    this.outbound?.onBrokerDown(brokerId);
    this.outbound?.forgetHandedOver(brokerId);
    this.inbound?.onBrokerLeft(brokerId);
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

  // ---- keepalive and close --------------------------------------------------------------------

  private startKeepalive(keepaliveSeconds: number): void {
    if (!keepaliveSeconds) return;
    // [MQTT-3.1.2-24]: nothing from the client for 1.5 × keepalive: the connection is dead.
    const limitMs = keepaliveSeconds * 1500;
    this.keepaliveTimer = setInterval(
      () => {
        if (Date.now() - this.lastActivity > limitMs) {
          this.log.info({ keepaliveSeconds }, 'keepalive expired');
          if (this.version === 5) this.down.write({ cmd: 'disconnect', reasonCode: 0x8d });
          this.close('abrupt', 'keepalive expired');
        }
      },
      Math.min(limitMs, 1000),
    );
    this.keepaliveTimer.unref();
  }

  /** Another connection took this client id: close without DISCONNECT upstream (brokers take over too). */
  takeOver(): void {
    this.takenOver = true; // the session lives on in the new connection: its record stays as it is
    if (this.version === 5 && this.state === 'connected')
      this.down.write({ cmd: 'disconnect', reasonCode: SESSION_TAKEN_OVER });
    this.close('abrupt', 'session taken over');
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
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    if (this.connectTimer) clearTimeout(this.connectTimer);
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    for (const t of this.reconnectTimers.values()) clearTimeout(t);
    this.reconnectTimers.clear();
    const recording = wasConnected && !this.takenOver && this.persistent;
    if (recording) {
      const releases = this.outbound?.awaitingRelease() ?? [];
      const subs = this.subs?.active.values() ?? [];
      const entry = this.registrySync?.release(this.links, subs, releases, this.missesBroker());
      // Joining brokers it has no link to yet (issue #13): before the 'closed' below makes them synced.
      const left = this.deps.pool.list().filter((b) => b.state === 'joining' && !this.links.has(b.id));
      if (entry && entry.subscriptions.length > 0 && left.length > 0) this.deps.replayLeft?.(left, entry);
    }
    for (const link of this.links.values()) {
      // Graceful: DISCONNECT, the brokers discard the will. Abrupt: just close, the home broker fires it
      // (after the registry record written just above, when there is one).
      if (mode === 'graceful') link.upstream.disconnect(goodbye);
      else if (recording) link.upstream.dropAfterFlush();
      else link.upstream.drop();
    }
    this.links.clear();
    this.linkGeneration += 1;
    this.down.end();
    if (this.clientId) this.deps.release(this.clientId, this);
    if (wasConnected) this.log.info({ reason, mode }, 'client disconnected');
    this.emit('closed', reason);
  }

  /** Whether the client's session outlives its connection (clean 0 / v5 expiry > 0). */
  get persistent(): boolean {
    return this.registrySync?.persistent === true;
  }

  /**
   * Whether a broker this session links to (as at CONNECT) has no live link of it: a record removed
   * now would stay there, so the removal leaves a tombstone instead (registry-sync.ts, review
   * finding 5). A draining broker counts for a persistent session only, as at CONNECT.
   */
  private missesBroker(): boolean {
    return this.deps.pool
      .list()
      .some((b) => (b.state !== 'draining' || this.full) && !this.links.get(b.id)?.upstream.isUp);
  }

  isClosed(): boolean {
    return this.state === 'closed';
  }

  private dropAll(): void {
    for (const link of this.links.values()) link.upstream.drop();
    this.links.clear();
    this.linkGeneration += 1;
  }
}
