import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import type { EvictionStatus, EvictRequest } from '../common/eviction-contract.ts';
import type { Logger } from '../common/logger.ts';
import { Evictor } from './eviction.ts';
import { DEFAULT_LIMITS, type OrchestratorLimits } from './limits.ts';
import { orchestratorMetrics } from './metrics.ts';
import { BrokerPool, type BrokerState, type DesiredBroker, type PoolBroker } from './pool/broker-pool.ts';
import { Router, type RoutingStrategyName } from './routing/strategies.ts';
import type { BrokerCounters } from './session/context.ts';
import { Session } from './session/session.ts';

export interface OrchestratorOptions {
  routing: RoutingStrategyName;
  brokers: readonly DesiredBroker[];
  limits?: Partial<OrchestratorLimits>;
  log: Logger;
}

export interface BrokerStatus {
  id: string;
  url: string;
  state: BrokerState;
  /** Every connected session has this broker's subscriptions in place. */
  synced: boolean;
  /** Sessions connected to it now. */
  sessions: number;
  /** Client publishes routed to it and not yet acknowledged by it. */
  inflight: number;
  published: number;
  delivered: number;
}

export interface OrchestratorStatus {
  draining: boolean;
  sessions: number;
  routing: RoutingStrategyName;
  brokers: BrokerStatus[];
  /** CPU this process used over the last second, as a fraction of one core. */
  cpu: number;
  /** The eviction under way, or the last one (POST /evict); absent when there was none. */
  eviction?: EvictionStatus;
  /** Occupancy of the bounded per-session buffers (limits in README, "Orchestrator limits"). */
  buffers: {
    inflightFromClients: number;
    deliveriesInflight: number;
    deliveriesBuffered: number;
    maxSessionBuffered: number;
  };
}

/**
 * One orchestrator replica: MQTT listeners for clients, a session per client, the broker pool, and
 * the control surface the admin API exposes (status, pool changes, drain).
 */
export class Orchestrator {
  readonly pool: BrokerPool;
  readonly metrics = orchestratorMetrics();
  readonly limits: OrchestratorLimits;
  private readonly router: Router;
  private readonly sessions = new Set<Session>();
  private readonly byClientId = new Map<string, Session>();
  /** Per broker, the connected sessions whose subscriptions are not (yet, or no longer) in place there. */
  private readonly lacking = new Map<string, Set<Session>>();
  /**
   * Per broker, its pool entry and its metric children, bound once: the per-message counters are on
   * the hot path, and prom-client's label lookup on every increment showed up in the profile.
   */
  private readonly perBroker = new Map<
    string,
    {
      broker: PoolBroker;
      published: ReturnType<Orchestrator['metrics']['published']['labels']>;
      delivered: ReturnType<Orchestrator['metrics']['delivered']['labels']>;
    }
  >();
  private readonly counters: BrokerCounters = {
    published: (id) => {
      const c = this.perBroker.get(id);
      if (!c) return;
      c.broker.published += 1;
      c.published.inc();
    },
    delivered: (id) => {
      const c = this.perBroker.get(id);
      if (!c) return;
      c.broker.delivered += 1;
      c.delivered.inc();
    },
  };
  private readonly servers: Server[] = [];
  private readonly evictor = new Evictor<Session>(() => this.sessions);
  private readonly log: Logger;
  private draining = false;
  /** CPU of this process over the last full sampling period (fraction of one core). */
  private cpuFraction = 0;
  private readonly cpuTimer: NodeJS.Timeout | undefined;

  constructor(options: OrchestratorOptions) {
    this.log = options.log;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.router = new Router(options.routing);
    this.pool = new BrokerPool(this.log.child({ component: 'pool' }));
    this.pool.on('added', (b: PoolBroker) => this.onBrokerAdded(b));
    this.pool.on('removed', (b: PoolBroker) => {
      this.lacking.delete(b.id);
      // The broker label set stays bounded by the pool: a removed broker's series go.
      this.perBroker.delete(b.id);
      this.metrics.published.remove({ broker: b.id });
      this.metrics.delivered.remove({ broker: b.id });
      for (const s of this.sessions) s.leave(b.id);
    });
    this.pool.on('state', (b: PoolBroker) => {
      if (b.state !== 'draining') for (const s of this.sessions) void s.join(b).catch(() => undefined);
    });
    this.pool.apply(options.brokers);
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
      ? createTlsServer({ cert: tls.cert, key: tls.key }, (socket) => this.handle(socket))
      : createNetServer((socket) => this.handle(socket));
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error({ err }, 'listener error'));
        resolve((server.address() as { port: number }).port);
      });
    });
  }

  /** Runs one client session over any stream (a socket, a TLS socket, an in-memory pair). */
  handle(stream: Duplex): Session {
    if ('setNoDelay' in stream) (stream as Socket).setNoDelay(true);
    stream.on('error', (err) => this.log.debug({ err: err.message }, 'client stream error'));
    const session = new Session(stream, {
      pool: this.pool,
      router: this.router,
      limits: this.limits,
      log: this.log.child({ component: 'session' }),
      counters: this.counters,
      claim: (clientId, s) => {
        const previous = this.byClientId.get(clientId);
        this.byClientId.set(clientId, s);
        return previous === s ? undefined : previous;
      },
      release: (clientId, s) => {
        if (this.byClientId.get(clientId) === s) this.byClientId.delete(clientId);
      },
      routable: (brokerId) => (this.lacking.get(brokerId)?.size ?? 0) === 0,
    });
    this.sessions.add(session);
    this.metrics.connections.inc();
    session.on('connected', () => {
      this.evictor.connected(session);
      this.metrics.sessions.set(this.connectedCount());
      for (const b of this.pool.list()) this.setLacking(b.id, session, !session.isSynced(b.id));
    });
    session.on('synced', (brokerId: string) => this.setLacking(brokerId, session, false));
    session.on('linkDown', (brokerId: string) => this.setLacking(brokerId, session, true));
    session.on('closed', (reason: string) => {
      this.sessions.delete(session);
      this.evictor.closed(session);
      for (const [brokerId, set] of this.lacking) this.unlack(brokerId, set, session);
      this.metrics.sessions.set(this.connectedCount());
      if (/malformed|too large|Invalid|invalid|before CONNECT|second CONNECT/.test(reason))
        this.metrics.badInput.inc();
    });
    if (this.draining) session.redirect(undefined);
    return session;
  }

  private connectedCount(): number {
    let n = 0;
    for (const s of this.sessions) if (s.state === 'connected') n += 1;
    return n;
  }

  private setLacking(brokerId: string, session: Session, lacking: boolean): void {
    if (!this.pool.get(brokerId)) return;
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
    if (!set.delete(session) || set.size > 0 || !this.pool.get(brokerId)) return;
    for (const s of this.sessions) s.resendHeld();
  }

  private onBrokerAdded(broker: PoolBroker): void {
    const published = this.metrics.published.labels({ broker: broker.id });
    const delivered = this.metrics.delivered.labels({ broker: broker.id });
    published.inc(0); // series exist, at zero, from the broker's first moment in the pool
    delivered.inc(0);
    this.perBroker.set(broker.id, { broker, published, delivered });
    for (const s of this.sessions) if (s.state === 'connected') this.setLacking(broker.id, s, true);
    if (broker.state === 'draining') return;
    for (const s of this.sessions) {
      void s
        .join(broker)
        .catch((err) =>
          this.log.warn({ broker: broker.id, clientId: s.clientId, err: String(err) }, 'join failed'),
        );
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
        synced: connected.every((s) => s.isSynced(b.id)),
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
    if (this.cpuTimer) clearInterval(this.cpuTimer);
    const closing = this.servers.map((s) => new Promise((resolve) => s.close(resolve)));
    for (const s of [...this.sessions]) s.shutdown();
    await Promise.all(closing);
  }
}
