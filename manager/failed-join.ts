import type { BrokerState } from '../common/admin/contract.ts';
import type { Logger } from '../common/logger.ts';
import type { BoundedMover } from './bounded-move.ts';
import type { CloudProvider, Replica } from './providers/cloud-provider.ts';

/** What undoing a join needs of the topology. */
export interface FailedJoinPorts {
  provider: CloudProvider;
  log: Logger;
  mover: BoundedMover;
  /** The topology's pool states and retained fences (Topology.brokerStates, retainedFences). */
  brokerStates: Map<string, BrokerState>;
  retainedFences: Set<string>;
  /** Active brokers (manager state), in provider order: the retained owners. */
  activeBrokers(): Promise<Replica[]>;
  /** Tells every ready orchestrator the desired pool. */
  pushPool(): Promise<void>;
}

/**
 * Brokers whose join failed (Topology.join) and whose undo is still to be done or retried: the undo, and
 * the manager's retry of it as the broker level's action (issue 17).
 */
export class FailedJoins {
  private readonly pending = new Map<string, Replica>();

  constructor(private readonly p: FailedJoinPorts) {}

  has(id: string): boolean {
    return this.pending.has(id);
  }

  /**
   * Takes a broker whose join failed out of the pool and destroys it (the level refills through the
   * next decision). Behind its still-held fence, the retained values the failed move had copied to it
   * (and cleared on their source) first go to their owners among the active brokers, so nothing is
   * lost; then the fence lifts and the held publishes go to those owners. Until this succeeds the
   * broker stays pending and the manager retries it as the level's action (retry).
   */
  async undo(broker: Replica, signal?: AbortSignal): Promise<void> {
    const p = this.p;
    this.pending.set(broker.id, broker);
    const now = (await p.provider.list()).find((r) => r.id === broker.id);
    let movedBack = 0;
    // Only a fenced join can have moved anything; a retry after the fence lifted must not copy again.
    if (p.retainedFences.has(broker.id) && p.brokerStates.has(broker.id) && now && now.state !== 'failed') {
      // A clear the given-up move sent may still sit in a stalled source's socket: it goes first.
      await p.mover.settled(signal);
      movedBack = await p.mover.move([broker], await p.activeBrokers(), false, signal);
    }
    p.brokerStates.delete(broker.id);
    p.retainedFences.delete(broker.id);
    await p.pushPool();
    await p.provider.destroy(broker.id);
    p.mover.forget(broker);
    this.pending.delete(broker.id);
    p.log.warn({ broker: broker.id, retainedMovedBack: movedBack }, 'failed join undone: broker removed');
  }

  /**
   * The manager's side: a broker whose join failed and could not be undone at once (a broker the
   * retained values must go back to did not answer) is undone again through `run`, the broker level's
   * action, when the level has none in flight (`busy`: it has one, or the manager stops).
   */
  retry(busy: boolean, run: (what: string, action: () => Promise<void>) => void, signal: AbortSignal): void {
    const [broker] = this.pending.values();
    if (!broker || busy) return;
    run(`undo join ${broker.id}`, () => this.undo(broker, signal));
  }
}
