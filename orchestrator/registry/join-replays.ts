import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { BrokerPool, PoolBroker } from '../pool/broker-pool.ts';
import type { SessionRegistry } from './session-registry.ts';

/** Attempts of a join replay (a source broker may be restarting) before the broker is let in anyway. */
const ATTEMPTS = 3;
const RETRY_DELAY_MS = 500;

/**
 * Per joining broker, the replay of the sessions that are connected to no orchestrator (the live
 * sessions of this replica replay their own). Until it is done the broker is not synced on this
 * replica, so the manager does not make it active and no publish is routed to it.
 */
export class JoinReplays {
  private readonly pending = new Set<string>();

  constructor(
    private readonly registry: SessionRegistry,
    private readonly pool: BrokerPool,
    private readonly isLocal: (clientId: string) => boolean,
    private readonly log: Logger,
    /** Called when a broker's replay is over (it may be routable now). */
    private readonly onDone: (brokerId: string) => void,
  ) {}

  /** Whether this broker still waits for the sessions that are away. */
  isPending(brokerId: string): boolean {
    return this.pending.has(brokerId);
  }

  start(broker: PoolBroker): void {
    if (this.pending.has(broker.id)) return;
    this.pending.add(broker.id);
    void this.run(broker).finally(() => {
      if (!this.pending.delete(broker.id)) return;
      this.onDone(broker.id);
    });
  }

  /** The broker left the pool: nothing to wait for. */
  cancel(brokerId: string): void {
    this.pending.delete(brokerId);
  }

  private async run(broker: PoolBroker): Promise<void> {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      if (!this.pending.has(broker.id)) return;
      // Sources: brokers that hold records already, full members first.
      const rank = { active: 0, draining: 1, joining: 2 } as const;
      const sources = this.pool
        .list()
        .filter((b) => b.id !== broker.id)
        .sort((a, b) => rank[a.state] - rank[b.state]);
      try {
        const replayed = await this.registry.replayAway(broker, sources, this.isLocal);
        if (replayed > 0)
          this.log.info({ broker: broker.id, replayed }, 'away sessions recreated on a joining broker');
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
