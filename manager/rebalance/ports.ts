import type { BrokelConfig } from '../../common/config/schema.ts';
import type { Replica } from '../providers/cloud-provider.ts';
import type { Topology } from '../topology.ts';
import type { RebalancePorts } from './rebalancer.ts';

export type RebalanceConfig = BrokelConfig['rebalance'];

/** The rebalancer's ports over the topology: ready orchestrators, their admin API, geo-dns holds. */
export function rebalancePorts(
  topology: Pick<Topology, 'orchestrators' | 'client' | 'geoDns'>,
): RebalancePorts<Replica> {
  return {
    orchestrators: () => topology.orchestrators(),
    client: (o) => topology.client(o),
    holdDns: (o, role) => topology.geoDns.hold(o, role),
    releaseDns: (o) => topology.geoDns.release(o),
  };
}

/** Connected sessions of each ready orchestrator among `replicas` (those that answer within 2 s). */
export async function sessionsPerOrchestrator(
  topology: Pick<Topology, 'client'>,
  replicas: readonly Replica[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  await Promise.all(
    replicas
      .filter((r) => r.level === 'orchestrator' && (r.state === 'ready' || r.state === 'draining'))
      .map(async (r) => {
        const status = await Promise.race([
          topology.client(r).status(),
          new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 2000).unref()),
        ]).catch(() => undefined);
        if (status) out.set(r.id, status.sessions);
      }),
  );
  return out;
}
