// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RebalanceSettings } from '../../manager/rebalance/rebalancer.ts';
import { generateTrace } from '../../workload/taxi-rome/generator.ts';
import { runPublishers } from '../../workload/taxi-rome/publisher.ts';
import { splitShares } from '../../workload/taxi-rome/shares.ts';
import { Subscribers } from '../../workload/taxi-rome/subscriber.ts';
import { settle } from '../helpers/orchestrator.ts';
import { qos1Stream, rebalanceStand, type StandClient } from '../helpers/rebalance-stand.ts';
import { waitFor } from '../helpers/resources.ts';

const SETTINGS: RebalanceSettings = {
  absThreshold: 4,
  relThreshold: 1.1,
  evictPerSecond: 20,
  cooldownSeconds: 2,
  settleSeconds: 5,
  timeoutSeconds: 30,
};

/** Every persistent client got every acknowledged message of the stream (duplicates allowed at QoS 1). */
async function assertNothingLost(clients: readonly StandClient[], acked: number): Promise<void> {
  const tallies = clients.flatMap((c) => (c.counts ? [c.counts] : []));
  await settle(tallies, acked, 5000);
  for (const c of clients) {
    if (!c.counts) continue;
    assert.equal(c.counts.distinct, acked, `client ${c.index} (v${c.version} persistent) lost messages`);
  }
}

describe('rebalancing and evacuation: clients move with the orchestrator pool (issue #13)', () => {
  it('40 clients (3.1.1 and 5.0, clean and persistent) on one orchestrator, a second joins: split within the thresholds, QoS 1 stream loses nothing, no client moved twice, no will fired', async (t) => {
    const stand = await rebalanceStand(t, SETTINGS);
    const a = await stand.addOrchestrator(1);
    const fired = await stand.willWatcher();
    const clients = await stand.connectClients(a, 40);
    const publisher = clients[39] as StandClient; // v5, persistent: it receives its own stream too
    const stream = qos1Stream(publisher.client, 10);
    // Older than the cooldown, so they may move; then the second orchestrator joins.
    await new Promise((r) => setTimeout(r, SETTINGS.cooldownSeconds * 1000 + 300));
    const b = await stand.addOrchestrator(2);
    const started = Date.now();
    const result = await stand.rebalancer.rebalance('orchestrator joined');
    const seconds = (Date.now() - started) / 1000;
    assert.equal(result.outcome, 'balanced', JSON.stringify(result));
    await waitFor(
      () => a.orchestrator.status().sessions + b.orchestrator.status().sessions === 40,
      10_000,
      'every client back',
    );
    const onA = a.orchestrator.status().sessions;
    const onB = b.orchestrator.status().sessions;
    t.diagnostic(
      `rebalanced in ${seconds.toFixed(1)} s: ${onA} / ${onB}, ${result.moved} moved in ${result.rounds} rounds`,
    );
    assert.ok(seconds < 30, 'split within 30 s');
    assert.ok(Math.abs(onA - onB) <= SETTINGS.absThreshold, `${onA} vs ${onB} is outside the thresholds`);
    const moved = clients.filter((c) => c.closes > 0);
    assert.equal(moved.length, result.moved);
    assert.deepEqual(
      clients.filter((c) => c.closes > 1).map((c) => c.index),
      [],
      'a client was moved twice',
    );
    assert.ok(
      moved.some((c) => c.version === 5 && c.follow.redirects === 1),
      'v5 clients followed a Server Reference',
    );
    assert.ok(
      moved.some((c) => c.version === 4 && c.follow.reresolved >= 1),
      '3.1.1 clients re-resolved the name',
    );
    assert.ok(moved.some((c) => c.persistent) && moved.some((c) => !c.persistent));
    // geo-dns answered with the target before the 3.1.1 clients were closed: none went back to A.
    assert.deepEqual(
      moved
        .filter((c) => c.client.options.host !== b.host)
        .map((c) => `${c.index}: ${c.client.options.host}`),
      [],
      'a moved client is not on the target',
    );
    assert.equal(result.rounds, 1, 'one round: every client went where the plan sent it');
    const { sent, acked } = await stream.stop();
    assert.equal(acked, sent, 'every publish acknowledged');
    await assertNothingLost(clients, acked);
    assert.deepEqual(fired, [], 'a will fired: a move must be graceful');
  });

  it('evacuation of an orchestrator with 40 clients: all end on the other, nothing lost, at most evictPerSecond', async (t) => {
    const stand = await rebalanceStand(t, SETTINGS);
    const a = await stand.addOrchestrator(1);
    const b = await stand.addOrchestrator(2);
    await stand.geo.directory.remove(b.id); // every client starts on A
    const fired = await stand.willWatcher();
    const clients = await stand.connectClients(a, 40);
    await stand.geo.directory.upsert({ id: b.id, host: b.host, port: b.port, state: 'ready', load: 0 });
    const stream = qos1Stream(clients[39]?.client as StandClient['client'], 10);
    // As Topology.removeOrchestrator does: out of geo-dns first, then the evacuation.
    await stand.geo.directory.remove(a.id);
    const started = Date.now();
    const result = await stand.rebalancer.evacuate(a, 20_000);
    const seconds = (Date.now() - started) / 1000;
    assert.equal(result.outcome, 'evacuated', JSON.stringify(result));
    assert.equal(a.orchestrator.status().sessions, 0);
    assert.equal(a.orchestrator.isDraining, true, 'the leaving orchestrator stopped accepting');
    await waitFor(() => b.orchestrator.status().sessions === 40, 10_000, 'every client on B');
    const eviction = a.orchestrator.status().eviction;
    t.diagnostic(
      `evacuated 40 in ${seconds.toFixed(1)} s at ${SETTINGS.evictPerSecond}/s: ${JSON.stringify(eviction)}`,
    );
    // 40 at 20/s: the first batch goes at once, the rest over ≥ 1.9 s. Closing everyone at once would take ms.
    const evictSeconds =
      (Date.parse(eviction?.finishedAt ?? '') - Date.parse(eviction?.startedAt ?? '')) / 1000;
    assert.ok(evictSeconds >= 1.8, `40 evicted in ${evictSeconds} s: faster than 20/s`);
    assert.deepEqual(
      clients.filter((c) => c.closes !== 1).map((c) => c.index),
      [],
      'every client moved exactly once',
    );
    const { sent, acked } = await stream.stop();
    assert.equal(acked, sent, 'every publish acknowledged');
    await assertNothingLost(clients, acked);
    assert.deepEqual(fired, [], 'a will fired: an evacuation must be graceful');
  });

  it('brokel taxi clients follow an evacuation: v5 ones to the Server Reference, 3.1.1 ones through geo-dns; persistent subscribers lose nothing', {
    timeout: 60_000,
  }, async (t) => {
    const stand = await rebalanceStand(t, { ...SETTINGS, evictPerSecond: 50 });
    const a = await stand.addOrchestrator(1);
    const b = await stand.addOrchestrator(2);
    const follow = { dns: `127.0.0.1:${stand.geo.server.port}`, name: 'mqtt.brokel.test' };
    const records = [...generateTrace({ records: 1500, taxis: 20, seed: 7 })];
    const urls = [`mqtt://${a.host}:${a.port}`];
    const subs = await Promise.all(
      ([4, 5] as const).map((protocolVersion) =>
        Subscribers.start(splitShares(records, 2), {
          urls,
          qos: 1,
          follow,
          persistent: true,
          protocolVersion,
          clientIdPrefix: `taxi-rb${protocolVersion}-${process.pid}`,
        }),
      ),
    );
    t.after(() => Promise.all(subs.map((s) => s.close())));
    const publishing = runPublishers(splitShares(records, 4), {
      urls,
      qos: 1,
      pacing: { kind: 'rate', perSecond: 600 },
      follow,
      protocolVersion: 5,
      clientIdPrefix: `taxi-rbp-${process.pid}`,
    });
    await waitFor(() => subs.every((s) => s.received > 200), 10_000, 'the replay under way');
    await stand.geo.directory.remove(a.id);
    const result = await stand.rebalancer.evacuate(a, 20_000);
    assert.equal(result.outcome, 'evacuated', JSON.stringify(result));
    const published = await publishing;
    assert.equal(published.acked, records.length, 'every fix acknowledged');
    for (const s of subs) {
      const complete = await s.waitComplete({ timeoutMs: 10_000, idleMs: 3000 });
      assert.ok(complete, `a subscriber lost ${s.expected - s.received} of ${s.expected}`);
    }
    assert.equal(b.orchestrator.status().sessions, 4, 'the 4 subscribers are on B (the publishers are done)');
  });
});
