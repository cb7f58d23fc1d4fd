import { EventEmitter } from 'node:events';
import { type BrokerState, type DesiredBroker, parseBrokerUrl } from '../../common/admin/contract.ts';
import { ConfigError, TimeoutError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { probeMqtt } from '../../common/mqtt-probe.ts';
import type { BrokerTls } from '../../common/net/broker-socket.ts';
import { RetainedFence } from './retained-fence.ts';

export type { BrokerState, DesiredBroker };
export { parseBrokerUrl };

export interface PoolBroker {
  /** `host:port`. */
  id: string;
  url: string;
  host: string;
  port: number;
  /** An `mqtts://` broker: every connection to it is TLS, verified against the pool's CA. */
  tls: BrokerTls | undefined;
  state: BrokerState;
  /** The manager is moving retained messages to or from it: see RetainedFence. */
  retainedFence: boolean;
  /** It lists retained messages to a wildcard subscription (the session registry can be read from it). */
  retainedWildcardRead: boolean;
  /** Publishes routed to it and deliveries relayed from it, since it joined this replica's pool. */
  published: number;
  delivered: number;
  /** Deliveries from it that expired while they waited for their client (message-expiry.ts). */
  expired: number;
}

/**
 * This orchestrator replica's view of the broker pool: each broker's state (set by the manager
 * through the admin API) and the MQTT level it speaks (found by asking it). Emits 'added',
 * 'removed' and 'state' so sessions follow.
 */
export class BrokerPool extends EventEmitter {
  private readonly brokers = new Map<string, PoolBroker>();
  private readonly versions = new Map<string, 4 | 5>();
  /** A probe under way per broker, shared by every caller until it ends. */
  private readonly probing = new Map<string, Promise<4 | 5 | undefined>>();
  private fence = new RetainedFence([], []);

  constructor(
    private readonly log: Logger,
    /** The CA `mqtts://` brokers' certificates are verified against (`--broker-ca`). */
    private readonly brokerCa?: Buffer,
  ) {
    super();
  }

  list(): PoolBroker[] {
    return [...this.brokers.values()];
  }

  get(id: string): PoolBroker | undefined {
    return this.brokers.get(id);
  }

  /** The retained write fence for the pool as it is now (rebuilt only when the pool changes). */
  get retainedFence(): RetainedFence {
    return this.fence;
  }

  /** Replaces the pool with the desired one (validated first: all or nothing); returns what changed. */
  apply(desired: readonly DesiredBroker[]): { added: string[]; removed: string[]; changed: string[] } {
    const parsed = desired.map((d, i) => ({
      ...this.checkTls(parseBrokerUrl(d.url, `brokers[${i}].url`), `brokers[${i}].url`),
      state: d.state,
      retainedFence: d.retainedFence === true,
      retainedWildcardRead: d.retainedWildcardRead !== false,
    }));
    const next = new Set(parsed.map((p) => p.id));
    if (next.size !== parsed.length) {
      const dup = parsed.find((p, i) => parsed.findIndex((q) => q.id === p.id) !== i);
      throw new ConfigError([{ path: 'brokers', message: `${dup?.url} is listed twice` }]);
    }
    const added: string[] = [];
    const removed: string[] = [];
    const changed: string[] = [];
    for (const [id, broker] of this.brokers) {
      if (next.has(id)) continue;
      this.brokers.delete(id);
      this.versions.delete(id);
      removed.push(id);
      this.log.info({ broker: id }, 'broker removed from the pool');
      this.emit('removed', broker);
    }
    for (const p of parsed) {
      const existing = this.brokers.get(p.id);
      if (!existing) {
        const broker: PoolBroker = {
          id: p.id,
          url: p.url,
          host: p.host,
          port: p.port,
          tls: p.tls ? { ca: this.brokerCa ?? Buffer.alloc(0) } : undefined,
          state: p.state,
          retainedFence: p.retainedFence,
          retainedWildcardRead: p.retainedWildcardRead,
          published: 0,
          delivered: 0,
          expired: 0,
        };
        this.brokers.set(p.id, broker);
        added.push(p.id);
        this.log.info({ broker: p.id, state: p.state }, 'broker added to the pool');
        this.emit('added', broker);
      } else if (existing.state !== p.state) {
        const from = existing.state;
        existing.state = p.state;
        changed.push(p.id);
        this.log.info({ broker: p.id, from, to: p.state }, 'broker state changed');
        this.emit('state', existing, from);
      }
      if (existing) existing.retainedWildcardRead = p.retainedWildcardRead; // a property, not a state change
      if (existing && existing.retainedFence !== p.retainedFence) {
        existing.retainedFence = p.retainedFence;
        if (!changed.includes(p.id)) changed.push(p.id);
        this.log.info({ broker: p.id, retainedFence: p.retainedFence }, 'retained fence changed');
      }
    }
    this.rebuildFence(added.length + removed.length + changed.length > 0);
    return { added, removed, changed };
  }

  /** After a change: a new fence, and 'retainedFence' so sessions re-check what they hold. */
  private rebuildFence(changed: boolean): void {
    const list = this.list();
    const fenced = list.filter((b) => b.retainedFence).map((b) => b.id);
    if (!changed || (this.fence.open && fenced.length === 0)) return;
    this.fence = new RetainedFence(
      list.filter((b) => b.state === 'active').map((b) => b.id),
      fenced,
    );
    this.emit('retainedFence', this.fence);
  }

  /** An `mqtts://` broker needs the CA to verify it: without one the pool refuses it (no unverified TLS). */
  private checkTls<T extends { tls: boolean; url: string }>(p: T, path: string): T {
    if (p.tls && !this.brokerCa)
      throw new ConfigError([
        { path, message: `${p.url}: a TLS broker needs the brokers' CA (--broker-ca)` },
      ]);
    return p;
  }

  /**
   * The MQTT level to speak to a broker: 5 when it accepts a v5 CONNECT, else 4 (RabbitMQ 3.10
   * refuses a v5 CONNECT). Remembered once the broker answered a v5 CONNECT, or closed on two of them
   * around a 3.1.1 one it took; 4 for no answer, not remembered: the broker is asked again (pinned to
   * 3.1.1 by one slow answer, a v5 client's session expiry would be lost on it for good: clean start 1
   * + expiry > 0 becomes 3.1.1's clean session 1, no session present afterwards).
   */
  async protocolVersion(id: string): Promise<4 | 5> {
    return (await this.versionProbe(id)) ?? 4;
  }

  /**
   * The level for a session's upstream link: as protocolVersion, but a broker that did not answer the
   * probe (too slow or unreachable) is an error, so the link fails and is retried (UpstreamLinks'
   * reconnect) like one whose CONNACK is late. Opened as 3.1.1 to an MQTT 5 broker, a link would lose
   * its grace (a clean session's queued messages across a reset) and the move marker for good.
   */
  async linkVersion(id: string): Promise<4 | 5> {
    const version = await this.versionProbe(id);
    if (version === undefined)
      throw new Error(`broker ${id} did not answer the MQTT version probe: too slow or unreachable`);
    return version;
  }

  /** The remembered level, else the probe under way or a new one; undefined: no answer this time. */
  private versionProbe(id: string): Promise<4 | 5 | undefined> {
    const known = this.versions.get(id);
    if (known) return Promise.resolve(known);
    // One probe at a time per broker, shared: every session opening a link before the first answer (and
    // again after a timeout, which is not remembered) used to start its own, adding load where a probe
    // is already slow.
    let probe = this.probing.get(id);
    if (!probe) {
      probe = this.probe(id).finally(() => this.probing.delete(id));
      this.probing.set(id, probe);
    }
    return probe;
  }

  private async probe(id: string): Promise<4 | 5 | undefined> {
    const broker = this.brokers.get(id);
    if (!broker) return undefined;
    const first = await this.askV5(broker);
    if (first !== 'closed') return this.remember(id, first);
    // It closed on a v5 CONNECT: a 3.1.1-only broker (RabbitMQ 3.10), or a reset that hit the probe.
    try {
      await this.ask(broker, 4);
    } catch {
      return undefined; // unreachable: decide next time
    }
    // Asked once more before it is pinned to 3.1.1 for good (no link grace, no move marker there): a
    // 3.1.1-only broker closes again; a reset seldom hits twice in a row.
    const second = await this.askV5(broker);
    return this.remember(id, second === 'closed' ? 4 : second);
  }

  /** A v5 CONNECT's outcome: the level its CONNACK says, 'closed' without one, undefined on a timeout. */
  private async askV5(broker: PoolBroker): Promise<4 | 5 | 'closed' | undefined> {
    try {
      const result = await this.ask(broker, 5);
      return result.returnCode === 1 || result.returnCode === 0x84 ? 4 : 5;
    } catch (err) {
      return err instanceof TimeoutError ? undefined : 'closed'; // a timeout is not remembered
    }
  }

  /** One probe CONNECT at this level (common/mqtt-probe.ts). */
  private ask(broker: PoolBroker, protocolVersion: 4 | 5): ReturnType<typeof probeMqtt> {
    return probeMqtt({
      host: broker.host,
      port: broker.port,
      tls: broker.tls,
      protocolVersion,
      timeoutMs: 2000,
    });
  }

  private remember(id: string, version: 4 | 5 | undefined): 4 | 5 | undefined {
    if (version !== undefined) this.versions.set(id, version);
    return version;
  }
}
