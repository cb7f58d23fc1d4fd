import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OrchestratorStatus } from '../../common/admin/contract.ts';
import type { EvictionStatus, EvictRequest } from '../../common/eviction-contract.ts';
import { silentLogger } from '../../common/logger.ts';
import { type OrchestratorEndpoint, Rebalancer } from '../../manager/rebalance/rebalancer.ts';

// The rebalancer's rounds over in-memory orchestrators (its ports): where the clients a source sends
// away land is up to `land`, as DNS answers and slow replicas decide it in a real run (issue #13).

const SETTINGS = {
  absThreshold: 4,
  relThreshold: 1.1,
  evictPerSecond: 1000,
  cooldownSeconds: 0,
  settleSeconds: 0.3,
  timeoutSeconds: 4,
};

function cluster(
  sessions: Record<string, number>,
  land: (from: string, to: string, heldTargets: readonly string[]) => string,
  joinsLater: readonly string[] = [],
) {
  const heldTargets = new Set<string>();
  let listed = 0;
  const evictions = new Map<string, EvictionStatus>();
  let evictedInAll = 0;
  const endpoints: OrchestratorEndpoint[] = [...Object.keys(sessions), ...joinsLater].map((id, i) => ({
    id,
    host: `127.0.0.${i + 1}`,
    port: 1883,
  }));
  const idOf = (ref: string | undefined) => endpoints.find((e) => `${e.host}:${e.port}` === ref)?.id ?? '';
  const status = (id: string): OrchestratorStatus =>
    ({ sessions: sessions[id] ?? 0, eviction: evictions.get(id) }) as unknown as OrchestratorStatus;
  const ports = {
    // Orchestrators in joinsLater appear from the second count on (they join during the run).
    orchestrators: async () => {
      listed += 1;
      return endpoints.filter((e) => listed > 1 || !joinsLater.includes(e.id));
    },
    client: (o: OrchestratorEndpoint) => ({
      status: async () => status(o.id),
      evict: async (request: EvictRequest): Promise<EvictionStatus> => {
        const moves = request.moves.map((m) => {
          const n = Math.min(m.count, sessions[o.id] ?? 0);
          sessions[o.id] = (sessions[o.id] ?? 0) - n;
          evictedInAll += n;
          const to = land(o.id, idOf(m.serverReference), [...heldTargets].sort());
          // The clients reconnect a moment later, wherever they land.
          setTimeout(() => {
            sessions[to] = (sessions[to] ?? 0) + n;
          }, 30);
          return { ...m, evicted: n };
        });
        const done: EvictionStatus = {
          active: false,
          requested: moves.reduce((a, m) => a + m.count, 0),
          evicted: moves.reduce((a, m) => a + m.evicted, 0),
          perSecond: request.perSecond,
          minAgeSeconds: request.minAgeSeconds,
          startedAt: new Date().toISOString(),
          outcome: 'done',
          moves,
        };
        evictions.set(o.id, done);
        return done;
      },
    }),
    holdDns: async (o: OrchestratorEndpoint, role: 'source' | 'target') => {
      if (role === 'target') heldTargets.add(o.id);
    },
    releaseDns: async (o: OrchestratorEndpoint) => {
      heldTargets.delete(o.id);
    },
  };
  const rebalancer = new Rebalancer(ports, () => SETTINGS, silentLogger());
  return { rebalancer, sessions, evicted: () => evictedInAll };
}

describe('rebalancer rounds (in-memory orchestrators)', () => {
  it('a target that does not take its clients (they come back): one round, then "stalled", no churn', async () => {
    const c = cluster({ o1: 40, o2: 0 }, (from) => from);
    const run = await c.rebalancer.rebalance('test');
    // Before: a round every settle period until the 4 s budget ran out, 18 clients bounced each time.
    assert.match(run.outcome ?? '', /^stalled: o2 did not take its clients/);
    assert.equal(run.rounds, 1);
    assert.equal(c.evicted(), 18);
  });

  it('clients sent to one target that land on another: the one that took them never gives them back', async () => {
    const c = cluster({ o1: 60, o2: 0, o3: 0 }, (_from, to) => (to === 'o3' ? 'o2' : to));
    const run = await c.rebalancer.rebalance('test');
    assert.ok(run.rounds >= 1);
    // o2 took o3's share too: it is the busiest now, but a run's targets only take.
    assert.ok(c.evicted() <= 60, `sessions sent away in all: ${c.evicted()}`);
    assert.equal(
      Object.values(c.sessions).reduce((a, b) => a + b, 0),
      60,
    );
    assert.ok(!/^failed/.test(run.outcome ?? ''), run.outcome);
  });

  it('an orchestrator joining mid-run gets the next round: the earlier target is no longer advertised idle', async () => {
    // 3.1.1 clients go where geo-dns answers: the first orchestrator advertised idle (lowest id).
    const c = cluster({ o1: 40, o2: 0 }, (_from, to, held) => held[0] ?? to, ['o3']);
    const run = await c.rebalancer.rebalance('test');
    // Before: o2 stayed held idle, took o3's clients too, and the run ended stalled with o3 empty.
    assert.equal(run.outcome, 'balanced');
    assert.ok((c.sessions.o3 ?? 0) > 0, JSON.stringify(c.sessions));
  });

  it('a target that takes its clients: balanced after one round', async () => {
    const c = cluster({ o1: 40, o2: 0 }, (_from, to) => to);
    const run = await c.rebalancer.rebalance('test');
    assert.equal(run.outcome, 'balanced');
    assert.equal(run.rounds, 1);
    assert.deepEqual(c.sessions, { o1: 22, o2: 18 });
  });
});
