// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { IClientOptions, MqttClient } from 'mqtt';
import { OrchestratorClient } from '../../manager/orchestrator-client.ts';
import type { Replica } from '../../manager/providers/cloud-provider.ts';
import { retainedOwner } from '../../orchestrator/routing/strategies.ts';
import { startManager } from '../helpers/manager.ts';
import { startManagerOn } from '../helpers/remote-provider.ts';
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

const idOf = (b: Replica) => b.url.slice('mqtt://'.length);

describe('retained messages across pool changes (issue #10 defects 1 and 2)', () => {
  // One deployment for the three rules: a manager over real Mosquitto brokers and a real orchestrator,
  // driven as the manager drives it (no tick: the test calls the topology actions).
  it('retained messages follow their owner through a join, a removal, a manager restart mid-join, and a RabbitMQ join', async (t) => {
    const config = {
      monitor: { intervalSeconds: 3600 },
      levels: { brokers: { min: 1, max: 3 }, orchestrators: { min: 1, max: 1 } },
      manager: {
        drainQuietSeconds: 0.3,
        actionTimeoutSeconds: 60,
        adminToken: 'manager-test-token-0123456789',
      },
    };
    const { provider, topology } = await startManager(t, config);
    const orchestrator = (await provider.list()).find((r) => r.level === 'orchestrator');
    const [first] = (await provider.list()).filter((r) => r.level === 'broker');
    if (!orchestrator || !first) throw new Error('setup');
    const pub = await connectClient(t, orchestrator.url, { protocolVersion: 5 });
    let live = topology; // the manager in charge: a restarted one replaces it below
    const brokers = async () => (await provider.list()).filter((r) => r.level === 'broker');

    await t.test(
      'a joining broker becomes active only with the retained topics it owns, one current value each, none after clears',
      async () => {
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
        const all = await brokers();
        const held = await heldDirectly(t, all, 'ret/#');
        const holders = topics.map((topic) => all.filter((b) => held.get(b.id)?.has(topic)).length);
        assert.deepEqual(new Set(holders), new Set([1]), 'every topic on exactly one broker');
        assert.ok((held.get(joined.id)?.size ?? 0) > 0, 'the joined broker owns some topics');
        await publishMany(
          pub,
          topics.map((topic) => ({ topic, payload: '', qos: 1 })),
        );
        const after = await retainedSeen(t, orchestrator.url, 'ret/#', 0);
        assert.equal(after.size, 0, `stale values served: ${[...after.keys()].join(' ')}`);
      },
    );

    await t.test(
      'a removed broker hands over every retained message at its QoS; a publish and a clear made during the drain win',
      async () => {
        const victim = first;
        const [keeper] = (await brokers()).filter((b) => b.id !== victim.id);
        if (!keeper) throw new Error('no second broker');
        const victimOwns = (topic: string) =>
          retainedOwner(topic, [idOf(keeper), idOf(victim)]) === idOf(victim);
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
        const removalStarted = Date.now();
        const removal = topology.removeBroker(victim.id);
        const admin = topology.client(orchestrator);
        await waitFor(
          async () =>
            (await admin.status()).brokers.some((b) => b.url === victim.url && b.state === 'draining'),
          10_000,
          'the victim draining',
        );
        // During the drain: a QoS 2 update and a clear of two topics the victim holds.
        const racing = Promise.all([
          pub.publishAsync(updated, 'after', { qos: 2, retain: true }),
          pub.publishAsync(cleared, '', { qos: 1, retain: true }),
        ]);
        await removal;
        t.diagnostic(`removal with the retained move of 2,000 topics: ${Date.now() - removalStarted} ms`);
        await racing;
        assert.deepEqual(
          (await brokers()).map((r) => r.id),
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
      },
    );

    await t.test('a manager restarted in the middle of a join finishes the move it left', async () => {
      const [kept] = await brokers();
      if (!kept) throw new Error('no broker');
      const topics = Array.from({ length: 60 }, (_, i) => `resume/${i}`);
      await publishMany(
        pub,
        topics.map((topic, i) => ({ topic, payload: `r${i}`, qos: 2 })),
      );
      // What a manager that died mid-join leaves: the newcomer joining behind the fence everywhere,
      // and part of the copy made but not cleared from the old owner.
      const fresh = await provider.waitReady((await provider.create('broker', 'mosquitto')).id, 30_000);
      const admin = new OrchestratorClient(
        `http://${orchestrator.host}:${orchestrator.ports.admin}`,
        config.manager.adminToken,
      );
      await admin.setBrokers([
        { url: kept.url, state: 'active' },
        { url: fresh.url, state: 'joining', retainedFence: true },
      ]);
      const owners = [idOf(kept), idOf(fresh)];
      const moving = topics.filter((x) => retainedOwner(x, owners) === idOf(fresh));
      const [racedTopic] = moving;
      if (!racedTopic) throw new Error('no topic moves');
      const halfCopy = await connectClient(t, fresh.url, { protocolVersion: 5 });
      for (const x of moving.slice(0, 5))
        await halfCopy.publishAsync(x, `r${topics.indexOf(x)}`, { qos: 2, retain: true });
      halfCopy.end(true);
      // A client's publish on a moving topic while nobody runs the move: held, not lost.
      const racing = pub.publishAsync(racedTopic, 'during', { qos: 1, retain: true });
      const restarted = await startManagerOn(t, provider, config);
      live = restarted.topology;
      await racing;
      assert.equal(
        (await restarted.topology.desiredPool()).find((b) => b.url === fresh.url)?.state,
        'active',
      );
      const status = await admin.status();
      assert.ok(status.brokers.every((b) => b.state === 'active' && !b.retainedFence));
      const held = await heldDirectly(t, [kept, fresh], 'resume/#');
      for (const x of topics) {
        const holders: string[] = [kept, fresh].filter((b) => held.get(b.id)?.has(x)).map(idOf);
        assert.deepEqual(holders, [retainedOwner(x, owners)], `${x} only on its owner`);
      }
      const got = await retainedSeen(t, orchestrator.url, 'resume/#', topics.length);
      assert.deepEqual(
        got.get(racedTopic)?.map((m) => m.payload),
        ['during'],
        'the publish held during the restart wins',
      );
    });

    await t.test(
      'a RabbitMQ broker that joins takes the retained topics it now owns, at QoS 1 (its maximum)',
      async () => {
        const before = await brokers();
        const topics = Array.from({ length: 30 }, (_, i) => `rab/${i}`);
        await publishMany(
          pub,
          topics.map((topic, i) => ({ topic, payload: `v${i}`, qos: 2 })),
        );
        const rabbit = await provider.waitReady((await provider.create('broker', 'rabbitmq')).id, 90_000);
        const joinStarted = Date.now();
        await live.join(rabbit);
        t.diagnostic(`RabbitMQ join with the retained move: ${Date.now() - joinStarted} ms`);
        const owners = [...before, rabbit].map(idOf);
        const moved = topics.filter((x) => retainedOwner(x, owners) === idOf(rabbit));
        assert.ok(moved.length > 0, 'some topics move to RabbitMQ');
        const onMosquitto = await heldDirectly(t, before, 'rab/#');
        assert.deepEqual(
          moved.filter((x) => before.some((b) => onMosquitto.get(b.id)?.has(x))),
          [],
          'gone from the old owners',
        );
        // RabbitMQ sends retained messages to exact topic filters only (docs/retained-moves.md).
        const direct = await connectClient(t, rabbit.url);
        const values = new Map<string, { payload: string; qos: number }>();
        direct.on('message', (topic, payload, packet) => {
          if (packet.retain) values.set(topic, { payload: payload.toString(), qos: packet.qos });
        });
        for (const x of moved) await direct.subscribeAsync(x, { qos: 1 });
        await waitFor(() => values.size === moved.length, 5000, 'the moved topics on RabbitMQ');
        for (const x of moved)
          assert.deepEqual(values.get(x), { payload: `v${topics.indexOf(x)}`, qos: 1 }, x);
      },
    );
  });
});
