import type { BrokerState, DesiredBroker } from '../common/admin/contract.ts';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { BoundedMover } from './bounded-move.ts';
import type { BrokerTlsFiles } from './broker-tls.ts';
import { ActionCancelled, cancellable, throwIfCancelled, until } from './cancel.ts';
import { desiredBroker } from './desired-broker.ts';
import { DnsPublisher } from './dns-publisher.ts';
import type { DnsRegistry, OrchestratorRecord } from './dns-registry.ts';
import { FailedJoins } from './failed-join.ts';
import { OrchestratorClient } from './orchestrator-client.ts';
import type { CloudProvider, Replica } from './providers/cloud-provider.ts';
import { type RebalanceConfig, rebalancePorts } from './rebalance/ports.ts';
import { Rebalancer, serverReference } from './rebalance/rebalancer.ts';

export interface TopologyOptions {
  provider: CloudProvider;
  dns: DnsRegistry;
  log: Logger;
  adminToken: string;
  actionTimeoutMs: number;
  drainQuietMs: number;
  routing: string;
  /** limits.qos2OnBrokerLoss, given to every orchestrator created. */
  qos2OnBrokerLoss?: 'resend' | 'drop';
  /** limits.connectsPerSecond, maxQueuedConnects and maxPendingConnections, given to every orchestrator created. */
  connects?: { connectsPerSecond: number; maxQueuedConnects: number; maxPendingConnections?: number };
  /** limits.upstreamLinkGraceSeconds, given to every orchestrator created. */
  upstreamLinkGraceSeconds?: number;
  /** limits.ackHoldMs, given to every orchestrator created. */
  ackHoldMs?: number;
  users: ReadonlyArray<{ username: string; password: string }>;
  /** brokers.tls: the deployment's CA (manager/broker-tls.ts); brokers get a TLS listener, orchestrators the CA. */
  brokerTls?: BrokerTlsFiles;
  /** Where this deployment's orchestrators are (config dns.site), for geo-dns's distance. */
  site?: OrchestratorRecord['location'];
  /** The config's `rebalance` section, read at each use (hot reload). */
  rebalance: () => RebalanceConfig;
}

/**
 * The topology changes (the paper's Algorithms 1 and 2), driving orchestrators only through their
 * admin API. The broker pool's states (joining, active, draining) are the manager's; every
 * orchestrator is told the whole desired pool each time, so a missed update heals on the next.
 */
export class Topology {
  /** Manager-level state of each broker replica that is in the pool. */
  readonly brokerStates = new Map<string, BrokerState>();
  /**
   * Brokers whose pool entries carry the retained fence: a retained move to or from them runs (or a
   * previous manager left one half done; the orchestrators report it, so it is resumed).
   */
  readonly retainedFences = new Set<string>();
  /** Brokers whose join failed and whose undo is still to be done or retried (manager/failed-join.ts). */
  readonly failedJoins: FailedJoins;
  /** The orchestrators' records in geo-dns. */
  readonly geoDns: DnsPublisher;
  /** Moves sessions between orchestrators (issue #13): after a join, on request, on removal. */
  readonly rebalancer: Rebalancer<Replica>;
  private readonly mover: BoundedMover;

  constructor(private readonly o: TopologyOptions) {
    this.mover = new BoundedMover(o);
    this.geoDns = new DnsPublisher(o);
    this.failedJoins = new FailedJoins({
      provider: o.provider,
      log: o.log,
      mover: this.mover,
      brokerStates: this.brokerStates,
      retainedFences: this.retainedFences,
      activeBrokers: () => this.activeBrokers(),
      pushPool: () => this.pushPool(),
    });
    this.rebalancer = new Rebalancer(
      rebalancePorts(this),
      o.rebalance,
      o.log.child({ component: 'rebalance' }),
    );
  }

  client(orchestrator: Replica): OrchestratorClient {
    return new OrchestratorClient(
      `http://${orchestrator.host}:${orchestrator.ports.admin}`,
      this.o.adminToken,
    );
  }

  async orchestrators(): Promise<Replica[]> {
    return (await this.o.provider.list()).filter((r) => r.level === 'orchestrator' && r.state === 'ready');
  }

  async desiredPool(): Promise<DesiredBroker[]> {
    const brokers = (await this.o.provider.list()).filter((r) => r.level === 'broker');
    return brokers
      .filter((b) => this.brokerStates.has(b.id) && b.state !== 'failed')
      .map((b) => desiredBroker(b, this.brokerStates.get(b.id) ?? 'active', this.retainedFences.has(b.id)));
  }

  /**
   * The pool the ready orchestrators report, by broker URL (a non-active state wins over active), or
   * undefined when none answered. A restarted manager resumes from it (manager/resume.ts). A retained
   * fence an orchestrator reports is adopted too, so the first pushPool keeps it (the resumed join or
   * removal finishes the move behind it; lifting it early would release held publishes mid-move).
   */
  async reportedPool(): Promise<Map<string, BrokerState> | undefined> {
    let answered = false;
    const pool = new Map<string, BrokerState>();
    const fencedUrls = new Set<string>();
    // In parallel: each call is bounded (the admin client's timeout), so all of them are too (issue 17).
    const answers = await Promise.all(
      (await this.orchestrators()).map((o) =>
        this.client(o)
          .status()
          .catch(() => undefined),
      ),
    );
    for (const reported of answers) {
      if (!reported) continue;
      answered = true;
      for (const b of reported.brokers) {
        if (b.state !== 'active' || !pool.has(b.url)) pool.set(b.url, b.state);
        if (b.retainedFence) fencedUrls.add(b.url);
      }
    }
    if (fencedUrls.size > 0)
      for (const r of await this.o.provider.list())
        if (r.level === 'broker' && fencedUrls.has(r.url)) this.retainedFences.add(r.id);
    return answered ? pool : undefined;
  }

  /** Tells every ready orchestrator the desired pool. */
  async pushPool(): Promise<void> {
    const pool = await this.desiredPool();
    await Promise.all((await this.orchestrators()).map((o) => this.client(o).setBrokers(pool)));
  }

  /**
   * Algorithm 1: create, wait until ready, joining everywhere, wait until synced everywhere, active.
   * `signal` (the manager stops) ends every wait at once with ActionCancelled; so do the others below.
   */
  async addBroker(
    template: string,
    cpuQuota: number | undefined,
    params: Record<string, unknown> = {},
    signal?: AbortSignal,
  ): Promise<Replica> {
    const tls = this.o.brokerTls;
    // brokers.tls: the template issues the replica a certificate signed by the CA (issue 17).
    const all = tls ? { ...params, tls: { caCertFile: tls.caCertFile, caKeyFile: tls.caKeyFile } } : params;
    const created = await this.o.provider.create('broker', template, {
      ...(cpuQuota === undefined ? {} : { cpuQuota }),
      ...(Object.keys(all).length > 0 ? { params: all } : {}),
    });
    const ready = await cancellable(
      this.o.provider.waitReady(created.id, this.o.actionTimeoutMs),
      signal,
      `broker ${created.id} ready`,
    );
    await this.join(ready, signal);
    return ready;
  }

  /**
   * Joining everywhere (subscriptions replayed), wait until synced everywhere, then active. A join that
   * fails (a source broker that never answers the retained read, a timeout) is undone (FailedJoins); one
   * the manager's stop cancels is left for the next manager to resume (docs/control-plane.md).
   */
  async join(ready: Replica, signal?: AbortSignal): Promise<void> {
    let moved: number;
    try {
      this.brokerStates.set(ready.id, 'joining');
      await this.pushPool();
      await until(
        `broker ${ready.id} synced on every orchestrator`,
        this.o.actionTimeoutMs,
        async () => {
          const statuses = await Promise.all(
            (await this.orchestrators()).map((o) => this.client(o).status()),
          );
          return statuses.every((s) => s.brokers.some((b) => b.url === ready.url && b.synced))
            ? true
            : undefined;
        },
        signal,
      );
      // Defect 1 of issue #10: the retained messages it now owns move to it before it is active.
      await this.fence(ready, signal);
      const active = await this.activeBrokers();
      moved = await this.mover.move(active, [...active, ready], true, signal);
    } catch (err) {
      if (!(err instanceof ActionCancelled)) {
        this.o.log.warn({ broker: ready.id, err: errorMessage(err) }, 'broker join failed: undoing it');
        await this.failedJoins
          .undo(ready, signal)
          .catch((undo: unknown) =>
            this.o.log.error({ broker: ready.id, err: errorMessage(undo) }, 'undoing a failed join failed'),
          );
      }
      throw err;
    }
    this.brokerStates.set(ready.id, 'active');
    this.retainedFences.delete(ready.id);
    this.mover.forget(ready);
    await this.pushPool();
    this.o.log.info({ broker: ready.id, url: ready.url, retainedMoved: moved }, 'broker active');
  }

  /** Algorithm 2: draining everywhere, wait until idle, move retained messages, destroy, drop. */
  async removeBroker(id: string, signal?: AbortSignal): Promise<void> {
    const broker = (await this.o.provider.list()).find((r) => r.id === id);
    if (!broker) return;
    // Durable first: a manager killed once the status says draining leaves a drain the next one finishes
    // (planResume), never a broker it finds active and may keep while it removes another.
    await this.o.provider.markDraining(id);
    this.brokerStates.set(id, 'draining');
    // Defect 2 of issue #10: retained publishes on its topics wait from now on, so none is overtaken.
    await this.fence(broker, signal);
    let last = '';
    let quietSince = Date.now();
    await until(
      `broker ${id} idle`,
      this.o.actionTimeoutMs,
      async () => {
        const statuses = await Promise.all((await this.orchestrators()).map((o) => this.client(o).status()));
        const entries = statuses.flatMap((s) => s.brokers.filter((b) => b.url === broker.url));
        const inflight = entries.reduce((n, b) => n + b.inflight, 0);
        const signature = entries.map((b) => b.delivered).join(',');
        // Clients being moved are away: a persistent one gets what the broker queued for it only once
        // it is back (its new session links to the draining broker too), so no quiet while they move.
        if (inflight > 0 || signature !== last || this.rebalancer.busy) {
          last = signature;
          quietSince = Date.now();
          return undefined;
        }
        return Date.now() - quietSince >= this.o.drainQuietMs ? true : undefined;
      },
      signal,
    );
    const moved = await this.mover
      .move([broker], await this.activeBrokers(), false, signal)
      .catch(async (err: unknown) => {
        // A broker that died while draining took its retained messages with it: nothing left to move,
        // and its fence must not hold publishes on its topics any longer.
        throwIfCancelled(signal, `broker ${id} removal`);
        if ((await this.o.provider.list()).find((r) => r.id === id)?.state !== 'failed') throw err;
        this.o.log.warn(
          { broker: id, err: errorMessage(err) },
          'draining broker failed: retained messages not moved',
        );
        return 0;
      });
    this.retainedFences.delete(id);
    this.brokerStates.delete(id);
    this.mover.forget(broker);
    await this.pushPool();
    await this.o.provider.destroy(id);
    this.o.log.info({ broker: id, retainedMoved: moved }, 'broker removed');
  }

  /** Active brokers (manager state), in provider order: the retained owners. */
  private async activeBrokers(): Promise<Replica[]> {
    return (await this.o.provider.list()).filter(
      (r) => r.level === 'broker' && r.state !== 'failed' && this.brokerStates.get(r.id) === 'active',
    );
  }

  /**
   * Puts the retained fence on a broker on every orchestrator, then waits until each reports it and no
   * retained publish it covers that went out before it is still unfinished at a broker.
   */
  private async fence(broker: Replica, signal?: AbortSignal): Promise<void> {
    this.retainedFences.add(broker.id);
    await this.pushPool();
    await until(
      `retained fence on ${broker.id} settled`,
      this.o.actionTimeoutMs,
      async () => {
        const statuses = await Promise.all((await this.orchestrators()).map((o) => this.client(o).status()));
        const entries = statuses.map((s) => s.brokers.find((b) => b.url === broker.url));
        return entries.every((b) => b?.retainedFence === true && b.retainedUnsettled === 0)
          ? true
          : undefined;
      },
      signal,
    );
  }

  /** Creates an orchestrator with the current pool, waits until ready, registers it with DNS. */
  async addOrchestrator(cpuQuota: number | undefined, signal?: AbortSignal): Promise<Replica> {
    const brokers = (await this.desiredPool()).filter((b) => b.state === 'active').map((b) => b.url);
    const created = await this.o.provider.create('orchestrator', 'orchestrator', {
      ...(cpuQuota === undefined ? {} : { cpuQuota }),
      params: {
        brokers,
        adminToken: this.o.adminToken,
        routing: this.o.routing,
        ...(this.o.brokerTls ? { brokerCaFile: this.o.brokerTls.caCertFile } : {}),
        ...(this.o.qos2OnBrokerLoss ? { qos2OnBrokerLoss: this.o.qos2OnBrokerLoss } : {}),
        ...(this.o.connects ?? {}),
        // The registry's own connections log in as the deployment's user, as retained moves do.
        ...(this.o.users[0]
          ? { registryUser: { username: this.o.users[0].username, password: this.o.users[0].password } }
          : {}),
        ...(this.o.upstreamLinkGraceSeconds === undefined
          ? {}
          : { upstreamLinkGraceSeconds: this.o.upstreamLinkGraceSeconds }),
        ...(this.o.ackHoldMs === undefined ? {} : { ackHoldMs: this.o.ackHoldMs }),
      },
    });
    const ready = await cancellable(
      this.o.provider.waitReady(created.id, this.o.actionTimeoutMs),
      signal,
      `orchestrator ${created.id} ready`,
    );
    await this.client(ready).setBrokers(await this.desiredPool());
    await this.geoDns.publish(ready, 0);
    this.o.log.info({ orchestrator: ready.id, url: ready.url }, 'orchestrator ready');
    return ready;
  }

  /**
   * Shutting the deployment down: every orchestrator stops accepting and sends its clients away
   * (v5: DISCONNECT 0x9C; 3.1.1: closed after graceMs), so in-flight acknowledgements finish before
   * the brokers stop. Bounded by graceMs plus one second.
   */
  async drainOrchestrators(graceMs: number): Promise<void> {
    const all = await this.orchestrators();
    await Promise.allSettled(all.map((o) => this.client(o).drain(undefined, graceMs)));
    await until('orchestrators without clients', graceMs + 1000, async () => {
      const statuses = await Promise.all(
        all.map((o) =>
          this.client(o)
            .status()
            .catch(() => undefined),
        ),
      );
      return statuses.every((s) => s === undefined || s.sessions === 0) ? true : undefined;
    }).catch(() => undefined);
  }

  /**
   * Out of DNS, evacuated (its sessions sent to the others at rebalance.evictPerSecond: v5 clients
   * with a Server Reference, 3.1.1 clients closed, all gracefully), then whoever is left after
   * rebalance.drainTimeoutSeconds is sent away at once; destroyed once it has no clients.
   */
  async removeOrchestrator(id: string, signal?: AbortSignal): Promise<void> {
    const all = await this.orchestrators();
    const victim = all.find((o) => o.id === id);
    if (!victim) return;
    const other = all.find((o) => o.id !== id);
    await this.geoDns.unpublish(id);
    await this.o.provider.markDraining(id);
    const client = this.client(victim);
    // The manager's stop stops the evacuation too (Rebalancer.stop): outcome 'stopped'.
    const evacuation = await this.rebalancer.evacuate(victim, this.o.rebalance().drainTimeoutSeconds * 1000);
    throwIfCancelled(signal, `orchestrator ${id} removal`);
    this.o.log.info(
      { orchestrator: id, outcome: evacuation.outcome, moved: evacuation.moved },
      'evacuation over',
    );
    if (evacuation.outcome !== 'evacuated') {
      // Time is up: whoever is left goes now (still gracefully: no will fires).
      await client.evict({
        moves: [{ count: 10_000_000, ...(other ? { serverReference: serverReference(other) } : {}) }],
        perSecond: 1_000_000,
        minAgeSeconds: 0,
        stopAccepting: true,
      });
    }
    await until(
      `orchestrator ${id} without clients`,
      this.o.actionTimeoutMs,
      async () => ((await client.status()).sessions === 0 ? true : undefined),
      signal,
    );
    await this.o.provider.destroy(id);
    this.o.log.info({ orchestrator: id }, 'orchestrator removed');
  }
}
