import { setTimeout as sleep } from 'node:timers/promises';
import mqtt from 'mqtt';
import { errorMessage, TimeoutError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { BrokerState, DesiredBroker } from '../orchestrator/pool/broker-pool.ts';
import { retainedOwner } from '../orchestrator/routing/strategies.ts';
import type { DnsRegistry, OrchestratorRecord } from './dns-registry.ts';
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
  users: ReadonlyArray<{ username: string; password: string }>;
  /** Where this deployment's orchestrators are (config dns.site), for geo-dns's distance. */
  site?: OrchestratorRecord['location'];
  /** The config's `rebalance` section, read at each use (hot reload). */
  rebalance: () => RebalanceConfig;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new TimeoutError(what, timeoutMs);
    await sleep(200);
  }
}

/**
 * The topology changes (the paper's Algorithms 1 and 2), driving orchestrators only through their
 * admin API. The broker pool's states (joining, active, draining) are the manager's; every
 * orchestrator is told the whole desired pool each time, so a missed update heals on the next.
 */
export class Topology {
  /** Manager-level state of each broker replica that is in the pool. */
  readonly brokerStates = new Map<string, BrokerState>();
  /** Orchestrators taken out of geo-dns (being removed, or failed): never published again. */
  private readonly leaving = new Set<string>();
  /** Orchestrators a rebalance holds in geo-dns: a source out of answers, a target advertised idle. */
  private readonly dnsHolds = new Map<string, 'source' | 'target'>();
  /** The load each orchestrator was last published with (to restore it when a hold ends). */
  private readonly dnsLoads = new Map<string, number>();
  /** Moves sessions between orchestrators (issue #13): after a join, on request, on removal. */
  readonly rebalancer: Rebalancer<Replica>;

  constructor(private readonly o: TopologyOptions) {
    this.rebalancer = new Rebalancer(
      rebalancePorts(this),
      o.rebalance,
      o.log.child({ component: 'rebalance' }),
    );
  }

  /** A rebalance holds this orchestrator in geo-dns (see dnsHolds); resolves once published. */
  async holdDns(replica: Replica, role: 'source' | 'target'): Promise<void> {
    this.dnsHolds.set(replica.id, role);
    await this.publishDns(replica, this.dnsLoads.get(replica.id) ?? 0);
  }

  async releaseDns(replica: Replica): Promise<void> {
    if (!this.dnsHolds.delete(replica.id)) return;
    await this.publishDns(replica, this.dnsLoads.get(replica.id) ?? 0);
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
      .map((b) => ({ url: b.url, state: this.brokerStates.get(b.id) ?? 'active' }));
  }

  /**
   * After a restart: the pool states the orchestrators report win over "active" for the brokers the
   * provider lists. A broker a previous run left joining or draining stays so, and decide() waits
   * for it; an unreachable orchestrator is skipped (the next pushPool heals it).
   */
  async adoptReportedPools(): Promise<void> {
    const brokers = (await this.o.provider.list()).filter(
      (r) => r.level === 'broker' && this.brokerStates.has(r.id),
    );
    for (const orchestrator of await this.orchestrators()) {
      const reported = await this.client(orchestrator)
        .status()
        .catch(() => undefined);
      for (const b of reported?.brokers ?? []) {
        const replica = brokers.find((r) => r.url === b.url);
        if (replica && b.state !== 'active') this.brokerStates.set(replica.id, b.state);
      }
    }
  }

  /** Tells every ready orchestrator the desired pool. */
  async pushPool(): Promise<void> {
    const pool = await this.desiredPool();
    await Promise.all((await this.orchestrators()).map((o) => this.client(o).setBrokers(pool)));
  }

  /** Algorithm 1: create, wait until ready, joining everywhere, wait until synced everywhere, active. */
  async addBroker(template: string, cpuQuota: number | undefined): Promise<Replica> {
    const created = await this.o.provider.create(
      'broker',
      template,
      cpuQuota === undefined ? {} : { cpuQuota },
    );
    const ready = await this.o.provider.waitReady(created.id, this.o.actionTimeoutMs);
    await this.join(ready);
    return ready;
  }

  /** Joining everywhere (subscriptions replayed), wait until synced everywhere, then active. */
  async join(ready: Replica): Promise<void> {
    this.brokerStates.set(ready.id, 'joining');
    await this.pushPool();
    await until(`broker ${ready.id} synced on every orchestrator`, this.o.actionTimeoutMs, async () => {
      const statuses = await Promise.all((await this.orchestrators()).map((o) => this.client(o).status()));
      return statuses.every((s) => s.brokers.some((b) => b.url === ready.url && b.synced)) ? true : undefined;
    });
    this.brokerStates.set(ready.id, 'active');
    await this.pushPool();
    this.o.log.info({ broker: ready.id, url: ready.url }, 'broker active');
  }

  /** Algorithm 2: draining everywhere, wait until idle, move retained messages, destroy, drop. */
  async removeBroker(id: string): Promise<void> {
    const broker = (await this.o.provider.list()).find((r) => r.id === id);
    if (!broker) return;
    this.brokerStates.set(id, 'draining');
    await this.o.provider.markDraining(id);
    await this.pushPool();
    let last = '';
    let quietSince = Date.now();
    await until(`broker ${id} idle`, this.o.actionTimeoutMs, async () => {
      const statuses = await Promise.all((await this.orchestrators()).map((o) => this.client(o).status()));
      const entries = statuses.flatMap((s) => s.brokers.filter((b) => b.url === broker.url));
      const inflight = entries.reduce((n, b) => n + b.inflight, 0);
      const signature = entries.map((b) => b.delivered).join(',');
      if (inflight > 0 || signature !== last) {
        last = signature;
        quietSince = Date.now();
        return undefined;
      }
      return Date.now() - quietSince >= this.o.drainQuietMs ? true : undefined;
    });
    const moved = await this.moveRetained(broker);
    this.brokerStates.delete(id);
    await this.pushPool();
    await this.o.provider.destroy(id);
    this.o.log.info({ broker: id, retainedMoved: moved }, 'broker removed');
  }

  /** Copies the draining broker's retained messages to each topic's new owner among the active brokers. */
  private async moveRetained(broker: Replica): Promise<number> {
    const active = (await this.o.provider.list()).filter(
      (r) => r.level === 'broker' && this.brokerStates.get(r.id) === 'active',
    );
    if (active.length === 0) return 0;
    const auth = this.o.users[0]
      ? { username: this.o.users[0].username, password: this.o.users[0].password }
      : {};
    const source = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0, clean: true, ...auth });
    const retained = new Map<string, { payload: Buffer; qos: 0 | 1 | 2 }>();
    source.on('message', (topic, payload, packet) => {
      if (packet.retain) retained.set(topic, { payload, qos: packet.qos });
    });
    await source.subscribeAsync('#', { qos: 1 });
    await sleep(500); // retained messages arrive right after the SUBACK
    await source.endAsync();
    const targets = new Map<string, mqtt.MqttClient>();
    try {
      for (const [topic, message] of retained) {
        const owner = retainedOwner(
          topic,
          active.map((b) => b.url.slice('mqtt://'.length)),
        );
        const target = active.find((b) => b.url === `mqtt://${owner}`);
        if (!target) continue;
        let client = targets.get(target.id);
        if (!client) {
          client = await mqtt.connectAsync(target.url, { reconnectPeriod: 0, ...auth });
          targets.set(target.id, client);
        }
        await client.publishAsync(topic, message.payload, { qos: message.qos === 0 ? 0 : 1, retain: true });
      }
    } finally {
      await Promise.all([...targets.values()].map((c) => c.endAsync()));
    }
    return retained.size;
  }

  /** Tells geo-dns where an orchestrator is and how busy; on failure, logs (the next tick retries). */
  async publishDns(replica: Replica, load: number): Promise<void> {
    if (replica.level !== 'orchestrator' || replica.state !== 'ready' || this.leaving.has(replica.id)) return;
    this.dnsLoads.set(replica.id, load);
    const hold = this.dnsHolds.get(replica.id);
    const record: OrchestratorRecord = {
      id: replica.id,
      host: replica.host,
      port: replica.port,
      state: hold === 'source' ? 'draining' : 'ready',
      load: hold === 'target' ? 0 : load,
      ...(this.o.site ? { location: this.o.site } : {}),
    };
    await this.o.dns.upsert(record).catch((err: unknown) => {
      this.o.log.warn({ orchestrator: replica.id, err: errorMessage(err) }, 'geo-dns registration failed');
    });
  }

  /** Takes an orchestrator out of geo-dns; on failure, logs (its state there will be stale). */
  async unpublishDns(id: string): Promise<void> {
    this.leaving.add(id); // a tick that read the list before now must not publish it again
    await this.o.dns.remove(id).catch((err: unknown) => {
      this.o.log.error({ orchestrator: id, err: errorMessage(err) }, 'geo-dns removal failed');
    });
  }

  /** Creates an orchestrator with the current pool, waits until ready, registers it with DNS. */
  async addOrchestrator(cpuQuota: number | undefined): Promise<Replica> {
    const brokers = (await this.desiredPool()).filter((b) => b.state === 'active').map((b) => b.url);
    const created = await this.o.provider.create('orchestrator', 'orchestrator', {
      ...(cpuQuota === undefined ? {} : { cpuQuota }),
      params: { brokers, adminToken: this.o.adminToken, routing: this.o.routing },
    });
    const ready = await this.o.provider.waitReady(created.id, this.o.actionTimeoutMs);
    await this.client(ready).setBrokers(await this.desiredPool());
    await this.publishDns(ready, 0);
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
  async removeOrchestrator(id: string): Promise<void> {
    const all = await this.orchestrators();
    const victim = all.find((o) => o.id === id);
    if (!victim) return;
    const other = all.find((o) => o.id !== id);
    await this.unpublishDns(id);
    await this.o.provider.markDraining(id);
    const client = this.client(victim);
    const evacuation = await this.rebalancer.evacuate(victim, this.o.rebalance().drainTimeoutSeconds * 1000);
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
    await until(`orchestrator ${id} without clients`, this.o.actionTimeoutMs, async () =>
      (await client.status()).sessions === 0 ? true : undefined,
    );
    await this.o.provider.destroy(id);
    this.o.log.info({ orchestrator: id }, 'orchestrator removed');
  }
}
