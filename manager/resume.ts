import type { BrokerState } from '../common/admin/contract.ts';
import type { Replica } from './providers/cloud-provider.ts';

export interface ResumePlan {
  /** Pool states to start from (a broker to join again is absent until its join sets it). */
  states: Map<string, BrokerState>;
  /** Brokers whose join a previous run left unfinished (or never began): joined before they take publishes. */
  join: Replica[];
  /** Brokers a previous run was draining: their removal is finished. */
  remove: Replica[];
}

/**
 * What a starting manager finishes of what a previous run left (pure; ARCHITECTURE.md: after a restart
 * no orphaned replica, no duplicate action). `reported` is the pool the orchestrators report, by broker
 * URL (a non-active state wins), or undefined when no orchestrator answered.
 * - draining at the provider or on an orchestrator → its removal is finished;
 * - joining on an orchestrator → joined again (the join is idempotent);
 * - listed by the provider but on no orchestrator that answered, or still booting → it never joined
 *   (the manager died between create and join): it is joined, never set active unsynced;
 * - otherwise active.
 */
export function planResume(
  brokers: readonly Replica[],
  reported: ReadonlyMap<string, BrokerState> | undefined,
): ResumePlan {
  const plan: ResumePlan = { states: new Map(), join: [], remove: [] };
  for (const b of brokers) {
    if (b.state === 'failed') continue;
    const seen = reported?.get(b.url);
    if (b.state === 'draining' || seen === 'draining') {
      plan.states.set(b.id, 'draining');
      plan.remove.push(b);
    } else if (seen === 'joining') {
      plan.states.set(b.id, 'joining');
      plan.join.push(b);
    } else if (b.state === 'booting' || (reported !== undefined && seen === undefined)) {
      plan.join.push(b);
    } else {
      plan.states.set(b.id, 'active');
    }
  }
  return plan;
}
