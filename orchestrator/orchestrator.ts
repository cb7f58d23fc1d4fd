import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import type { BrokerStatus, DesiredBroker, OrchestratorStatus } from '../common/admin/contract.ts';
import type { EvictionStatus, EvictRequest } from '../common/eviction-contract.ts';
import type { Logger } from '../common/logger.ts';
import { acceptInto } from '../common/net/accept-into.ts';
import { ConnectGate } from './connect-gate.ts';
import { Evictor } from './eviction.ts';
import { DEFAULT_LIMITS, type OrchestratorLimits } from './limits.ts';
import { orchestratorMetrics } from './metrics.ts';
import { PendingConnections } from './pending-connections.ts';
import { BrokerPool, type PoolBroker } from './pool/broker-pool.ts';
import { sharedReads } from './protocol/framed-stream.ts';
import { JoinReplays } from './registry/join-replays.ts';
import { SessionRegistry } from './registry/session-registry.ts';
import { Router, type RoutingStrategyName } from './routing/strategies.ts';
import type { BrokerCounters } from './session/context.ts';
import { ACK_HOLD_MAX, HeldAcks } from './session/held-acks.ts';
import { Session, type SessionDeps, type SessionEvents } from './session/session.ts';

/**
 * The kernel's queue of connections not yet accepted (capped by net.core.somaxconn). Node's default,
 * 511, overflowed about 5,700 times in one 3,000-client storm on this machine (TcpExtListenOverflows):
 * each overflow drops a handshake the client must retransmit 1 s, 3 s, 7 s … later. A storm is what
 * the connect gate is sized for (limits.maxQueuedConnects), so the queue in front of it is too.
 */
const LISTEN_BACKLOG = 4096;

export type { BrokerStatus, OrchestratorStatus };

export interface OrchestratorOptions {
  routing: RoutingStrategyName;
  brokers: readonly DesiredBroker[];
  limits?: Partial<OrchestratorLimits>;
  log: Logger;
  /** Credentials of the session registry's own broker connections (default: none, anonymous). */
  registryCredentials?: { username: string; password: string };
  /** PEM of the CA that signed `mqtts://` brokers' certificates (config `brokers.tls`, `--broker-ca`). */
  brokerCa?: Buffer;
}

/** What every session of a replica shares (Orchestrator.sessionShared). */
interface SessionShared {
  deps: SessionDeps;
}

/**
 * One orchestrator replica: MQTT listeners for clients, a session per client, the broker pool, and
 * the control surface the admin API exposes (status, pool changes, drain).
 */
export class Orchestrator {
  readonly pool: BrokerPool;
  readonly metrics = orchestratorMetrics({
    counts: () => this.pool.list(),
    connects: () => this.gate,
    pending: () => this.pending,
    probes: () => this.registry?.probesAnswered,
    heldAcks: () => this.heldAcks,
    publishesExpired: () => this.publishesExpired,
    qos0Room: () => this.qos0Room,
  });
  /** Subscribers' PUBACKs held for one write per link (held-acks.ts; limits.ackHoldMs). */
  private readonly heldAcks: HeldAcks;
  readonly limits: OrchestratorLimits;
  private readonly router: Router;
  /** Admits client CONNECTs at limits.connectsPerSecond. */
  private readonly gate: ConnectGate;
  /** Connections that have not sent CONNECT yet, at most limits.maxPendingConnections. */
  private readonly pending: PendingConnections<Session>;
  /** Persistent sessions' subscriptions, kept on the brokers for brokers that join later. */
  readonly registry: SessionRegistry;
  private readonly joinReplays: JoinReplays;
  private readonly sessions = new Set<Session>();
  private readonly byClientId = new Map<string, Session>();
  /** Per broker, the connected sessions whose subscriptions are not (yet, or no longer) in place there. */
  private readonly lacking = new Map<string, Set<Session>>();
  /**
   * Per broker, its pool entry: the per-message counters are plain numbers on it (the metrics read
   * them on a scrape), since a prom-client increment per message showed up in the profile.
   */
  private readonly perBroker = new Map<string, PoolBroker>();
  private readonly counters: BrokerCounters = {
    published: (id) => {
      const b = this.perBroker.get(id);
      if (b) b.published += 1;
    },
    delivered: (id) => {
      const b = this.perBroker.get(id);
      if (b) b.delivered += 1;
    },
    expired: (id) => {
      const b = this.perBroker.get(id);
      if (b) b.expired += 1;
    },
    publishExpired: () => {
      this.publishesExpired += 1;
    },
    qos0Detoured: () => {
      this.qos0Room.detours += 1;
    },
    roomPaused: () => {
      this.qos0Room.pauses += 1;
    },
  };
  /** QoS 0 round full brokers (publish-routing.ts): brokel_orchestrator_qos0_detours_total, ..._room_pauses_total. */
  private readonly qos0Room = { detours: 0, pauses: 0 };
  /** Client publishes that expired here before a broker took them (brokel_orchestrator_publishes_expired_total). */
  private publishesExpired = 0;
  private readonly servers: Server[] = [];
  private readonly evictor = new Evictor<Session>(() => this.sessions);
  private readonly log: Logger;
  private draining = false;
  /** Bumped on every pool change and routability change: sessions cache their publish targets on it. */
  private routingGeneration = 0;
  private started = false;
  /** Made on the first session (sessionShared). */
  private shared: SessionShared | undefined;
  /** CPU of this process over the last full sampling period (fraction of one core). */
  private cpuFraction = 0;
  private readonly cpuTimer: NodeJS.Timeout | undefined;

  constructor(options: OrchestratorOptions) {
    this.log = options.log;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.router = new Router(options.routing);
    this.gate = new ConnectGate(this.limits);
    this.heldAcks = new HeldAcks(this.limits.ackHoldMs, ACK_HOLD_MAX);
    this.pending = new PendingConnections(this.limits.maxPendingConnections);
    this.pool = new BrokerPool(this.log.child({ component: 'pool' }), options.brokerCa);
    const bump = () => {
      this.routingGeneration += 1;
    };
    this.pool.on('added', bump).on('removed', bump).on('state', bump);
    this.registry = new SessionRegistry({
      limits: this.limits,
      log: this.log.child({ component: 'registry' }),
      ...(options.registryCredentials ? { credentials: options.registryCredentials } : {}),
      protocolVersion: (id) => this.pool.protocolVersion(id),
      onClaim: (claim) => this.byClientId.get(claim.clientId)?.claimedElsewhere(claim),
    });
    this.joinReplays = new JoinReplays(
      this.registry,
      this.pool,
      (clientId) => {
        const state = this.byClientId.get(clientId)?.state;
        return state === 'connected' || state === 'connecting' ? state : undefined;
      },
      this.log.child({ component: 'registry' }),
      (brokerId) => this.onRoutableMaybe(brokerId),
    );
    this.pool.on('added', (b: PoolBroker) => {
      this.registry.keepPresence(b); // before any session of this replica names it in a record
      this.onBrokerAdded(b);
    });
    this.pool.on('removed', (b: PoolBroker) => {
      this.lacking.delete(b.id);
      this.joinReplays.cancel(b.id);
      this.registry.forget(b.id);
      // The broker label set stays bounded by the pool: a removed broker's series go.
      this.perBroker.delete(b.id);
      for (const s of this.sessions) s.leave(b.id);
    });
    this.pool.on('retainedFence', () => {
      for (const s of this.sessions) s.releaseRetained();
    });
    this.pool.on('state', (b: PoolBroker) => {
      if (b.state !== 'draining') for (const s of this.sessions) void s.join(b).catch(() => undefined);
    });
    this.pool.apply(options.brokers);
    // Brokers of the first pool are not joining: only those added later get the away sessions replayed.
    this.started = true;
    // CPU is sampled on a fixed clock, so reading the status never shortens anyone's window.
    let last = { usage: process.cpuUsage(), at: performance.now() };
    this.cpuTimer = setInterval(() => {
      const now = { usage: process.cpuUsage(), at: performance.now() };
      const used = now.usage.user - last.usage.user + now.usage.system - last.usage.system;
      this.cpuFraction = used / 1000 / Math.max(1, now.at - last.at);
      last = now;
    }, 1000);
    this.cpuTimer.unref();
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Serves MQTT on a TCP address; resolves the bound port (0 picks one). */
  listen(host: string, port: number, tls?: { cert: Buffer; key: Buffer }): Promise<number> {
    const server = tls
      ? createTlsServer({ cert: tls.cert, key: tls.key }, (socket) => this.accept(socket))
      : createNetServer((socket) => this.accept(socket));
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', reject);
        // Plain-TCP clients read into the process's shared buffer too, as broker links do (no Buffer,
        // Readable step or nextTick per read); TLS clients read through their TLS stream.
        if (!tls && !acceptInto(server, sharedReads))
          this.log.warn('client sockets read through Node streams: this Node has no listen handle to hook');
        server.on('error', (err) => this.log.error({ err }, 'listener error'));
        resolve((server.address() as { port: number }).port);
      });
    });
  }

  /**
   * A listener's new socket: a session, unless limits.maxPendingConnections sockets are already
   * waiting to send CONNECT; then it is closed at once (counted, logged at most every 10 s).
   */
  private accept(socket: Socket): void {
    if (this.pending.hasRoom()) {
      this.handle(socket);
      return;
    }
    socket.destroy();
    const refused = this.pending.refusalsToLog();
    if (refused !== undefined)
      this.log.warn(
        { refused, pending: this.pending.size, maxPendingConnections: this.limits.maxPendingConnections },
        'connections closed at once: too many have not sent CONNECT yet',
      );
  }

  /** Runs one client session over any stream (a socket, a TLS socket, an in-memory pair). */
  handle(stream: Duplex): Session {
    if ('setNoDelay' in stream) (stream as Socket).setNoDelay(true);
    this.shared ??= this.sessionShared();
    const session = new Session(stream, this.shared.deps);
    this.sessions.add(session);
    this.pending.add(session);
    this.metrics.connections.inc();
    if (this.draining) session.redirect(undefined);
    return session;
  }

  /**
   * What every session of this replica shares: its deps and its events, made once, not per session
   * (closures per session cost ~1 KB of each client's memory; docs/data-plane.md). An event finds its
   * session as `this` (Session.emit calls it so).
   */
  private sessionShared(): SessionShared {
    const orch = this;
    const events: SessionEvents = {
      connected(this: Session) {
        orch.evictor.connected(this);
        orch.metrics.sessions.set(orch.connectedCount());
        orch.relack(this);
        // A join replay that skipped it while it was connecting: it is lacking there now (just above).
        if (this.clientId) orch.joinReplays.sessionConnected(this.clientId);
      },
      synced(this: Session, brokerId: string) {
        orch.setLacking(brokerId, this, false);
      },
      linkDown(this: Session, brokerId: string) {
        orch.setLacking(brokerId, this, !this.isSynced(brokerId));
      },
      receiving(this: Session) {
        orch.relack(this); // it subscribes: the brokers it has no synced link to are lacking now
      },
      closed(this: Session, reason: string) {
        orch.sessions.delete(this);
        orch.pending.settle(this);
        orch.evictor.closed(this);
        // Before unlack: a broker whose replay skipped this session while it was connecting stays pending.
        const id = this.clientId;
        if (id && !orch.byClientId.has(id)) orch.joinReplays.sessionClosed(id, this.persistent);
        for (const [brokerId, set] of orch.lacking) orch.unlack(brokerId, set, this);
        orch.metrics.sessions.set(orch.connectedCount());
        if (/malformed|too large|Invalid|invalid|before CONNECT|second CONNECT/.test(reason))
          orch.metrics.badInput.inc();
        if (this.takenOver) orch.metrics.takenOver.inc({ by: this.takenOver });
      },
    };
    const deps: SessionDeps = {
      events,
      pool: this.pool,
      router: this.router,
      limits: this.limits,
      qos2: { onBrokerLoss: this.limits.qos2OnBrokerLoss, maxKeptBytes: this.limits.maxKeptQos2Bytes },
      heldAcks: this.heldAcks,
      log: this.log.child({ component: 'session' }),
      counters: this.counters,
      claim: (clientId, s) => {
        const previous = this.byClientId.get(clientId);
        this.byClientId.set(clientId, s);
        return previous === s ? undefined : previous;
      },
      announce: (s) => this.registry.announce(s.clientId, s.claimedAt),
      release: (clientId, s) => {
        if (this.byClientId.get(clientId) === s) this.byClientId.delete(clientId);
      },
      routable: (brokerId) =>
        (this.lacking.get(brokerId)?.size ?? 0) === 0 && !this.joinReplays.isPending(brokerId),
      routingGeneration: () => this.routingGeneration,
      registry: this.registry,
      admit: (session, gone) => {
        this.pending.settle(session); // its CONNECT came: the connect gate bounds it from here
        return this.gate.admit(gone);
      },
      replayLeft: (brokers, entry) => {
        for (const b of brokers) this.joinReplays.replayLeft(b, entry);
        this.routingGeneration += 1; // not routable while they are pending
      },
      brokerAlive: (brokerId, except) => {
        for (const s of this.sessions) if (s !== except && s.links.get(brokerId)?.upstream.isUp) return true;
        return false;
      },
    };
    return { deps };
  }

  private connectedCount(): number {
    let n = 0;
    for (const s of this.sessions) if (s.state === 'connected') n += 1;
    return n;
  }

  /** Reads, for every broker of the pool, whether the session lacks it. */
  private relack(session: Session): void {
    for (const b of this.pool.list()) this.setLacking(b.id, session, !session.isSynced(b.id));
  }

  private setLacking(brokerId: string, session: Session, lacking: boolean): void {
    if (!this.pool.get(brokerId)) return;
    this.routingGeneration += 1;
    let set = this.lacking.get(brokerId);
    if (!set) {
      set = new Set();
      this.lacking.set(brokerId, set);
    }
    if (lacking && session.state === 'connected') set.add(session);
    else this.unlack(brokerId, set, session);
  }

  /**
   * A session is no longer lacking a broker. When it was the last, the broker is routable again, and
   * publishes other sessions held for want of a routable broker go out (nothing else would send them).
   */
  private unlack(brokerId: string, set: Set<Session>, session: Session): void {
    if (!set.delete(session)) return;
    this.routingGeneration += 1;
    if (set.size > 0) return;
    this.onRoutableMaybe(brokerId);
  }

  /** A broker may have become routable (no session lacks it, no join replay pending): held publishes go. */
  private onRoutableMaybe(brokerId: string): void {
    this.routingGeneration += 1;
    if (!this.pool.get(brokerId) || (this.lacking.get(brokerId)?.size ?? 0) > 0) return;
    if (this.joinReplays.isPending(brokerId)) return;
    for (const s of this.sessions) s.resendHeld();
  }

  private onBrokerAdded(broker: PoolBroker): void {
    this.perBroker.set(broker.id, broker); // its series exist, at zero, from its first moment in the pool
    // A lazy session (no subscription, linked to its home broker only) lacks nothing on a new broker.
    for (const s of this.sessions)
      if (s.state === 'connected') this.setLacking(broker.id, s, !s.isSynced(broker.id));
    if (broker.state === 'draining') return;
    if (this.started) {
      this.joinReplays.start(broker);
      this.routingGeneration += 1; // not routable while the replay is pending
    }
    for (const s of this.sessions) {
      void s.join(broker).catch((err) => {
        this.log.warn({ broker: broker.id, clientId: s.clientId, err: String(err) }, 'join failed');
        s.joinLater(broker.id); // without it, the broker would never be synced for this session
      });
    }
  }

  setBrokers(desired: readonly DesiredBroker[]): ReturnType<BrokerPool['apply']> {
    return this.pool.apply(desired);
  }

  status(): OrchestratorStatus {
    const cpu = this.cpuFraction;
    const connected = [...this.sessions].filter((s) => s.state === 'connected');
    const occupancy = connected.map((s) => s.buffers());
    const buffers = {
      inflightFromClients: occupancy.reduce((n, b) => n + b.inflightFromClient, 0),
      deliveriesInflight: occupancy.reduce((n, b) => n + b.deliveriesInflight, 0),
      deliveriesBuffered: occupancy.reduce((n, b) => n + b.deliveriesBuffered, 0),
      maxSessionBuffered: occupancy.reduce((n, b) => Math.max(n, b.deliveriesBuffered), 0),
    };
    const eviction = this.evictor.status();
    return {
      buffers,
      ...(eviction ? { eviction } : {}),
      draining: this.draining,
      sessions: connected.length,
      routing: this.router.strategy,
      cpu,
      brokers: this.pool.list().map((b) => ({
        id: b.id,
        url: b.url,
        state: b.state,
        retainedFence: b.retainedFence,
        retainedUnsettled: b.retainedFence ? connected.reduce((n, s) => n + s.retainedUnsettled(b.id), 0) : 0,
        synced: connected.every((s) => s.isSynced(b.id)) && !this.joinReplays.isPending(b.id),
        sessions: connected.filter((s) => s.links.has(b.id)).length,
        inflight: connected.reduce((n, s) => n + s.inflightOn(b.id), 0),
        published: b.published,
        delivered: b.delivered,
      })),
    };
  }

  /**
   * Sends sessions away at a bounded rate (rebalance, evacuation): MQTT 5 clients get DISCONNECT
   * 0x9C with the move's Server Reference, 3.1.1 clients are closed (the manager made geo-dns answer
   * with the target first); both gracefully, so no will fires. Replaces an eviction under way.
   */
  evict(request: EvictRequest): EvictionStatus {
    if (request.stopAccepting && !this.draining) {
      this.draining = true;
      for (const server of this.servers) server.close();
    }
    return this.evictor.start(request);
  }

  /**
   * Stops accepting clients. MQTT 5 clients get DISCONNECT 0x9C (use another server) with the
   * reference when one is given; 3.1.1 clients are closed after the grace period.
   */
  async drain(serverReference: string | undefined, graceMs = this.limits.drainGraceMs): Promise<void> {
    this.draining = true;
    for (const server of this.servers) server.close();
    for (const s of this.sessions) if (s.version === 5) s.redirect(serverReference);
    const left = [...this.sessions].filter((s) => s.version !== 5);
    if (left.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, graceMs).unref());
    for (const s of left) s.redirect(undefined);
  }

  /**
   * Stops the replica: sessions first (a listener only finishes closing once its sockets are gone),
   * MQTT 5 clients told the server is shutting down (0x8B), then the listeners.
   */
  async close(): Promise<void> {
    this.draining = true;
    this.evictor.stop();
    this.gate.close();
    if (this.cpuTimer) clearInterval(this.cpuTimer);
    const closing = this.servers.map((s) => new Promise((resolve) => s.close(resolve)));
    for (const s of [...this.sessions]) s.shutdown();
    this.registry.close();
    await Promise.all(closing);
  }
}
