import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Replica } from '../../manager/providers/cloud-provider.ts';
import { retainedOwner } from '../../orchestrator/routing/strategies.ts';
import { startManager } from '../helpers/manager.ts';
import { connectClient, waitFor } from '../helpers/resources.ts';

/** What one new subscriber to `filter` is sent as retained: topic → [payload, qos] in arrival order. */
async function retainedSeen(
  t: TestContext,
  url: string,
  filter: string,
  expected: number,
  options: IClientOptions = {},
  qos: 0 | 1 | 2 = 2,
): Promise<Map<string, Array<{ payload: string; qos: number }>>> {
  const got = new Map<string, Array<{ payload: string; qos: number }>>();
  let count = 0;
  const client = await connectClient(t, url, options, (c) =>
    c.on('message', (topic, payload, packet) => {
      if (!packet.retain) return;
      count += 1;
      got.set(topic, [...(got.get(topic) ?? []), { payload: payload.toString(), qos: packet.qos }]);
    }),
  );
  await client.subscribeAsync(filter, { qos });
  // Retained messages follow each broker's SUBACK; a bounded wait for the expected count, then a
  // short quiet period so a surplus (a stale copy on a second broker) is seen too.
  await waitFor(() => count >= expected, 10_000, `${expected} retained messages`).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 300));
  client.end(true);
  return got;
}

/** The retained topics each broker holds, read directly (not through an orchestrator). */
async function heldDirectly(t: TestContext, brokers: readonly Replica[], filter: string) {
  const out = new Map<string, Set<string>>();
  for (const b of brokers) {
    const set = new Set<string>();
    const c = await connectClient(t, b.url, {}, (client) =>
      client.on('message', (topic, _p, packet) => packet.retain && set.add(topic)),
    );
    await c.subscribeAsync(filter, { qos: 0 });
    await new Promise((r) => setTimeout(r, 300));
    c.end(true);
    out.set(b.id, set);
  }
  return out;
}

async function publishMany(
  client: MqttClient,
  items: ReadonlyArray<{ topic: string; payload: string; qos: 0 | 1 | 2 }>,
  window = 50,
): Promise<void> {
  for (let i = 0; i < items.length; i += window) {
    await Promise.all(
      items
        .slice(i, i + window)
        .map((m) => client.publishAsync(m.topic, m.payload, { qos: m.qos, retain: true })),
    );
  }
}

describe('retained messages across pool changes (issue #10 defects 1 and 2)', () => {
  it('a broker that joins takes over the retained topics it now owns: one current value each, none after clears', async (t) => {
    const { provider, topology } = await startManager(t, {
      monitor: { intervalSeconds: 3600 }, // no tick: the test drives the join as the manager does
      levels: { brokers: { min: 1, max: 2 }, orchestrators: { min: 1, max: 1 } },
    });
    const orchestrator = (await provider.list()).find((r) => r.level === 'orchestrator');
    if (!orchestrator) throw new Error('setup');
    const pub = await connectClient(t, orchestrator.url, { protocolVersion: 5 });
    const topics = Array.from({ length: 50 }, (_, i) => `ret/${i}`);
    await publishMany(
      pub,
      topics.map((topic, i) => ({ topic, payload: `old${i}`, qos: 1 })),
    );
    const started = Date.now();
    const joined = await topology.addBroker('mosquitto', undefined);
    t.diagnostic(`join with the retained move: ${Date.now() - started} ms`);
    await publishMany(
      pub,
      topics.map((topic, i) => ({ topic, payload: `new${i}`, qos: 1 })),
    );
    const got = await retainedSeen(t, orchestrator.url, 'ret/#', 50);
    assert.equal(got.size, 50, 'one entry per topic');
    for (const [i, topic] of topics.entries())
      assert.deepEqual(
        got.get(topic)?.map((m) => m.payload),
        [`new${i}`],
        `${topic}: exactly its current value`,
      );
    // Each topic is held by exactly one broker, and the joined one holds some.
    const brokers = (await provider.list()).filter((r) => r.level === 'broker');
    const held = await heldDirectly(t, brokers, 'ret/#');
    const holders = topics.map((topic) => brokers.filter((b) => held.get(b.id)?.has(topic)).length);
    assert.deepEqual(new Set(holders), new Set([1]), 'every topic on exactly one broker');
    assert.ok((held.get(joined.id)?.size ?? 0) > 0, 'the joined broker owns some topics');
    // Clearing all 50: no stale value anywhere.
    await publishMany(
      pub,
      topics.map((topic) => ({ topic, payload: '', qos: 1 })),
    );
    const after = await retainedSeen(t, orchestrator.url, 'ret/#', 0);
    assert.equal(after.size, 0, `stale values served: ${[...after.keys()].join(' ')}`);
  });

  it('a broker that is removed hands over every retained message at its QoS; a publish and a clear made during the drain win', async (t) => {
    const { provider, topology } = await startManager(t, {
      monitor: { intervalSeconds: 3600 },
      levels: { brokers: { min: 2, max: 2 }, orchestrators: { min: 1, max: 1 } },
      manager: { drainQuietSeconds: 0.3 },
    });
    const brokers = (await provider.list()).filter((r) => r.level === 'broker');
    const orchestrator = (await provider.list()).find((r) => r.level === 'orchestrator');
    const [keeper, victim] = brokers;
    if (!orchestrator || !keeper || !victim) throw new Error('setup');
    const ids = brokers.map((b) => b.url.slice('mqtt://'.length));
    const victimOwns = (topic: string) => retainedOwner(topic, ids) === ids[1];
    const pub = await connectClient(t, orchestrator.url, { protocolVersion: 5 });
    // 2,000 retained topics at QoS 0, 1 and 2 in turn.
    const big = Array.from({ length: 2000 }, (_, i) => ({
      topic: `big/${i}`,
      payload: `v${i}`,
      qos: (i % 3) as 0 | 1 | 2,
    }));
    await publishMany(pub, big);
    const race = Array.from({ length: 40 }, (_, i) => `race/${i}`);
    await publishMany(
      pub,
      race.map((topic) => ({ topic, payload: 'before', qos: 1 })),
    );
    const [updated, cleared] = race.filter(victimOwns);
    if (!updated || !cleared) throw new Error('no race topic on the victim');
    const removal = topology.removeBroker(victim.id);
    const admin = topology.client(orchestrator);
    await waitFor(
      async () => (await admin.status()).brokers.some((b) => b.url === victim.url && b.state === 'draining'),
      10_000,
      'the victim draining',
    );
    // During the drain: a QoS 2 update and a clear of two topics the victim holds.
    const racing = Promise.all([
      pub.publishAsync(updated, 'after', { qos: 2, retain: true }),
      pub.publishAsync(cleared, '', { qos: 1, retain: true }),
    ]);
    await removal;
    await racing;
    assert.deepEqual(
      (await provider.list()).filter((r) => r.level === 'broker').map((r) => r.id),
      [keeper.id],
    );
    const raced = await retainedSeen(t, orchestrator.url, 'race/#', race.length - 1);
    assert.deepEqual(
      raced.get(updated)?.map((m) => m.payload),
      ['after'],
      'the update made during the drain wins',
    );
    assert.equal(raced.get(cleared), undefined, 'the clear made during the drain wins');
    assert.equal(raced.size, race.length - 1);
    const got = await retainedSeen(t, orchestrator.url, 'big/#', big.length);
    assert.equal(got.size, big.length, 'every retained topic is still there');
    const wrong = big.filter((m) => {
      const seen = got.get(m.topic);
      return seen?.length !== 1 || seen[0]?.payload !== m.payload || seen[0]?.qos !== m.qos;
    });
    assert.deepEqual(
      wrong.slice(0, 5).map((m) => [m.topic, m.qos, got.get(m.topic)]),
      [],
      `${wrong.length} topics without their value at their QoS`,
    );
  });
});
