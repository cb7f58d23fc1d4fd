import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { BrokerPool, PoolBroker } from '../pool/broker-pool.ts';
import { JoinWaits } from './join-waits.ts';
import type { RegistryEntry } from './reserved.ts';
import type { SessionRegistry } from './session-registry.ts';

/** Attempts of a join replay (a source broker may be restarting) before the broker is let in anyway. */
const ATTEMPTS = 3;
const RETRY_DELAY_MS = 500;

/** A client id's session on this replica: none, connecting (its id claimed at CONNECT), or connected. */
export type LocalState = 'connecting' | 'connected' | undefined;

/**
 * Per joining broker, the replay of the sessions that are connected to no orchestrator (the live
 * sessions of this replica replay their own). Until it is done the broker is not synced on this
 * replica, so the manager does not make it active and no publish is routed to it.
 */
export class JoinReplays {
  private readonly pending = new Set<string>();
  /** Per broker, sessions that left this replica before their link reached it, being recreated there. */
  private readonly left = new Map<string, number>();
  /**
   * Per broker id, the join it is in: a broker that left the pool (cancel) and a new one at the same
   * address (the local provider reuses aliases) are two joins, and the old join's replays ending must
   * not settle the new one's (it would count as synced before its own replay is done).
   */
  private readonly generation = new Map<string, symbol>();
  /** Per broker, the client ids its replay skipped while their session here was connecting. */
  private readonly waits = new JoinWaits();

  constructor(
    private readonly registry: SessionRegistry,
    private readonly pool: BrokerPool,
    private readonly localState: (clientId: string) => LocalState,
    private readonly log: Logger,
    /** Called when a broker's replay is over (it may be routable now). */
    private readonly onDone: (brokerId: string) => void,
  ) {}

  /** Whether this broker still waits for the sessions that are away. */
  isPending(brokerId: string): boolean {
    return this.pending.has(brokerId) || this.left.has(brokerId) || this.waits.has(brokerId);
  }

  start(broker: PoolBroker): void {
    if (this.pending.has(broker.id)) return;
    const generation = this.generationOf(broker.id);
    this.pending.add(broker.id);
    void this.run(broker, generation).finally(() => {
      if (this.generation.get(broker.id) !== generation || !this.pending.delete(broker.id)) return;
      if (!this.isPending(broker.id)) this.onDone(broker.id);
    });
  }

  /** The broker left the pool: nothing to wait for. */
  cancel(brokerId: string): void {
    this.pending.delete(brokerId);
    this.left.delete(brokerId);
    this.waits.cancel(brokerId);
    this.generation.delete(brokerId);
  }

  private generationOf(brokerId: string): symbol {
    let generation = this.generation.get(brokerId);
    if (!generation) {
      generation = Symbol(brokerId);
      this.generation.set(brokerId, generation);
    }
    return generation;
  }

  /**
   * A persistent session left this replica (moved, disconnected) before its link to a joining broker
   * was up: its join was cut short, and this broker's replay skipped it (it was live then), so nobody
   * would give the broker its subscriptions. Worse, the cut-short link may have left a session of the
   * client there without them. It is recreated there from its record like an away session, and the
   * broker is not synced on this replica until that is done (issue #13). A client that is live here
   * again is left to its live session.
   */
  replayLeft(broker: PoolBroker, entry: RegistryEntry): void {
    this.track(broker, (generation) => this.runLeft(broker, entry, generation));
  }

  /**
   * A session that was connecting here when a broker's replay skipped its client id connected: it
   * joins the broker itself, and counts as lacking it until then (the orchestrator's lacking set).
   */
  sessionConnected(clientId: string): void {
    for (const brokerId of this.waits.settle(clientId)) if (!this.isPending(brokerId)) this.onDone(brokerId);
  }

  /**
   * The session holding `clientId` here closed, and no other session here holds the id. If a broker's
   * replay skipped it while it was connecting, nobody has given that broker the client's session: a
   * persistent one is recreated there from its record (as replayLeft does), before the broker counts
   * as synced on this replica. A session that was not persistent leaves nothing to recreate.
   */
  sessionClosed(clientId: string, persistent: boolean): void {
    for (const brokerId of this.waits.settle(clientId)) {
      const broker = this.pool.get(brokerId);
      if (persistent && broker) this.track(broker, (g) => this.runClosed(broker, clientId, g));
      else if (!this.isPending(brokerId)) this.onDone(brokerId);
    }
  }

  /** Runs a recreate for one session on a joining broker; the broker is pending until it ends. */
  private track(broker: PoolBroker, job: (generation: symbol) => Promise<void>): void {
    const generation = this.generationOf(broker.id);
    this.left.set(broker.id, (this.left.get(broker.id) ?? 0) + 1);
    void job(generation).finally(() => {
      const n = this.left.get(broker.id);
      // Cancelled: the broker left the pool (and maybe a new one took its id since).
      if (n === undefined || this.generation.get(broker.id) !== generation) return;
      if (n > 1) this.left.set(broker.id, n - 1);
      else this.left.delete(broker.id);
      if (!this.isPending(broker.id)) this.onDone(broker.id);
    });
  }

  private async runLeft(broker: PoolBroker, entry: RegistryEntry, generation: symbol): Promise<void> {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      if (this.generation.get(broker.id) !== generation) return;
      // The first attempt starts within the session's close, before it gives up its client id here.
      if (!this.left.has(broker.id) || (attempt > 1 && this.localState(entry.clientId))) return;
      try {
        // Later attempts: the client may be live on another orchestrator by now (moved there), and
        // recreating would take its session on this broker over; that orchestrator's session joins
        // the broker itself. The record is read again first.
        if (attempt > 1) {
          const sources = this.pool.list().filter((b) => b.id !== broker.id);
          if (await this.registry.heldElsewhere(entry.clientId, sources)) {
            this.log.info(
              { broker: broker.id, clientId: entry.clientId },
              'a session that left is live on another orchestrator now: left to it',
            );
            return;
          }
        }
        await this.registry.replayOne(broker, entry);
        this.log.info(
          { broker: broker.id, clientId: entry.clientId },
          'a session that left recreated on a joining broker',
        );
        return;
      } catch (err) {
        this.log.warn(
          { broker: broker.id, clientId: entry.clientId, attempt, err: errorMessage(err) },
          'a session that left not recreated yet',
        );
        await new Promise((r) => setTimeout(r, RETRY_DELAY_MS).unref());
      }
    }
    this.log.error(
      { broker: broker.id, clientId: entry.clientId },
      'a session that left could not be recreated on a joining broker: it gets its subscriptions when it resumes',
    );
  }

  /**
   * Whether the replay skips a client: it has a session here, which replays it itself. One still
   * connecting may close before its CONNACK: the broker waits for it (see JoinWaits).
   */
  private skip(brokerId: string, clientId: string): boolean {
    const state = this.localState(clientId);
    if (state === 'connecting') this.waits.add(brokerId, clientId);
    return state !== undefined;
  }

  /** The record of a session that closed while connecting, recreated from its record (sessionClosed). */
  private async runClosed(broker: PoolBroker, clientId: string, generation: symbol): Promise<void> {
    const sources = this.pool.list().filter((b) => b.id !== broker.id);
    // Read failures are logged by the registry and read as "no record".
    const entry = await this.registry.load(clientId, sources);
    // No record: no subscriptions anywhere to recreate. A client back here by now joins it itself.
    if (!entry || entry.subscriptions.length === 0 || this.localState(clientId)) return;
    // Live on another orchestrator (or no presence could be read): that one joins the broker.
    if (await this.registry.heldByOther(entry, sources)) return;
    await this.runLeft(broker, entry, generation);
  }

  private async run(broker: PoolBroker, generation: symbol): Promise<void> {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      if (!this.pending.has(broker.id) || this.generation.get(broker.id) !== generation) return;
      // Sources: brokers that hold records already, full members first.
      const rank = { active: 0, draining: 1, joining: 2 } as const;
      const sources = this.pool
        .list()
        .filter((b) => b.id !== broker.id)
        .sort((a, b) => rank[a.state] - rank[b.state]);
      const started = performance.now();
      try {
        const replayed = await this.registry.replayAway(broker, sources, (id) => this.skip(broker.id, id));
        // Once per join and replica: how long the joining broker waited for the registry read and replay.
        const ms = Math.round(performance.now() - started);
        this.log.info({ broker: broker.id, replayed, ms, attempt }, 'join replay of away sessions done');
        return;
      } catch (err) {
        this.log.warn(
          { broker: broker.id, attempt, err: errorMessage(err) },
          'away sessions not recreated yet',
        );
        await new Promise((r) => setTimeout(r, RETRY_DELAY_MS).unref());
      }
    }
    this.log.error(
      { broker: broker.id },
      'away sessions could not be recreated on a joining broker: they get their subscriptions when they reconnect',
    );
  }
}
