// test-lanes: shared
// Issue #10 (a): a retained move re-publishes each value on its new owner (and clears it on the old one on
// a join); live subscribers had the value already and must not get it again (nor the clear), while a new
// subscription still gets every value once as retained, without the mover's marker. Real Mosquittos, a
// real orchestrator, MQTT.js subscribers of both protocol levels.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { IClientOptions, IPublishPacket } from 'mqtt';
import { silentLogger } from '../../common/logger.ts';
import { MOVE_MARKER } from '../../common/move-marker.ts';
import { retainedOwner } from '../../common/retained-owner.ts';
import { moveRetained } from '../../manager/retained-move.ts';
import { Orchestrator } from '../../orchestrator/orchestrator.ts';
import type { BrokerState } from '../../orchestrator/pool/broker-pool.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { connectClient, waitFor } from '../helpers/resources.ts';

const TOPICS = 16;
const idOf = (b: TestMosquitto) => b.url.slice('mqtt://'.length);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A subscriber through the orchestrator that counts every payload it is sent (empty ones too). */
async function liveSubscriber(t: TestContext, url: string, options: IClientOptions) {
  const got = new Map<string, number>();
  const c = await connectClient(t, url, options, (client) =>
    client.on('message', (_topic, payload) =>
      got.set(payload.toString(), (got.get(payload.toString()) ?? 0) + 1),
    ),
  );
  await c.subscribeAsync('mv/#', { qos: 2 });
  return got;
}

/** What a new subscription is sent as retained: topic → payloads, and whether any carried the marker. */
async function newSubscription(t: TestContext, url: string, options: IClientOptions) {
  const got = new Map<string, string[]>();
  let marked = 0;
  const c = await connectClient(t, url, options, (client) =>
    client.on('message', (topic, payload, packet: IPublishPacket) => {
      if (!packet.retain) return;
      got.set(topic, [...(got.get(topic) ?? []), payload.toString()]);
      if (packet.properties?.userProperties?.[MOVE_MARKER] !== undefined) marked += 1;
    }),
  );
  await c.subscribeAsync('mv/#', { qos: 2 });
  await waitFor(() => got.size >= TOPICS, 5000, `${TOPICS} retained`).catch(() => undefined);
  await sleep(200);
  await c.endAsync(true);
  return { got, marked };
}

describe('retained moves are invisible to live subscribers (issue #10)', () => {
  it('a join and a drain move retained values: live v4/v5 subscribers get each value once [MQTT-3.3.1-9], new ones get it as retained [MQTT-3.3.1-8], no marker', async (t) => {
    const a = await TestMosquitto.start(t);
    const b = await TestMosquitto.start(t);
    const pool = new Map<TestMosquitto, BrokerState>([[a, 'active']]);
    const fences = new Set<TestMosquitto>();
    const orchestrator = new Orchestrator({
      routing: 'round-robin',
      brokers: [{ url: a.url, state: 'active' }],
      log: silentLogger(),
    });
    t.after(() => orchestrator.close());
    const url = `mqtt://127.0.0.1:${await orchestrator.listen('127.0.0.1', 0)}`;
    const apply = () =>
      orchestrator.setBrokers(
        [...pool].map(([m, state]) => ({
          url: m.url,
          state,
          ...(fences.has(m) ? { retainedFence: true } : {}),
        })),
      );
    const status = (m: TestMosquitto) => orchestrator.status().brokers.find((s) => s.url === m.url);
    const fence = async (m: TestMosquitto) => {
      fences.add(m);
      apply();
      await waitFor(
        () => status(m)?.retainedFence === true && status(m)?.retainedUnsettled === 0,
        5000,
        'fence',
      );
    };

    const subscribers = [
      await liveSubscriber(t, url, { protocolVersion: 4, clientId: 'mv-v4' }),
      await liveSubscriber(t, url, { protocolVersion: 5, clientId: 'mv-v5' }),
      await liveSubscriber(t, url, { protocolVersion: 4, clientId: 'mv-v4p', clean: false }),
    ];
    const publisher = await connectClient(t, url, { protocolVersion: 5 });
    const topics = Array.from({ length: TOPICS }, (_, i) => `mv/${i}`);
    assert.ok(
      topics.some((topic) => retainedOwner(topic, [idOf(a), idOf(b)]) === idOf(b)),
      'some topics move to b',
    );
    for (const [i, topic] of topics.entries())
      await publisher.publishAsync(topic, `v${i}`, { qos: i % 2 ? 1 : 2, retain: true });
    await waitFor(() => subscribers.every((s) => s.size >= TOPICS), 5000, 'live deliveries');

    // Join of b (Algorithm 1 with the move): joining, synced, fenced, moved (cleared on a), active.
    pool.set(b, 'joining');
    apply();
    await waitFor(() => status(b)?.synced === true, 5000, 'b synced');
    await fence(b);
    const joined = await moveRetained({
      sources: [a.url],
      owners: [idOf(a), idOf(b)],
      auth: {},
      timeoutMs: 5000,
    });
    assert.ok(joined.moved > 0, 'the join moved retained values');
    pool.set(b, 'active');
    fences.delete(b);
    apply();
    // Drain of b: its values move back to a (not cleared on b, which goes away).
    pool.set(b, 'draining');
    await fence(b);
    const drained = await moveRetained({
      sources: [b.url],
      owners: [idOf(a)],
      auth: {},
      timeoutMs: 5000,
      clearSource: false,
    });
    assert.equal(drained.moved, joined.moved, 'the drain moved them back');
    pool.delete(b);
    fences.delete(b);
    apply();
    await sleep(300); // a redelivery, if any, has arrived by now

    for (const [n, got] of subscribers.entries()) {
      const again = [...got].filter(([payload, count]) => payload === '' || count > 1);
      assert.deepEqual(again, [], `live subscriber ${n}: nothing delivered twice, no empty clear`);
    }
    for (const options of [{ protocolVersion: 4 as const }, { protocolVersion: 5 as const }]) {
      const { got, marked } = await newSubscription(t, url, options);
      assert.deepEqual(
        topics.map((topic) => got.get(topic)),
        topics.map((_, i) => [`v${i}`]),
        `v${options.protocolVersion}: every value once, as retained`,
      );
      assert.equal(marked, 0, 'no client sees the marker');
    }
  });

  it('a client cannot publish with the move marker (v5: 0x87), so its message is never hidden', async (t) => {
    const a = await TestMosquitto.start(t);
    const orchestrator = new Orchestrator({
      routing: 'round-robin',
      brokers: [{ url: a.url, state: 'active' }],
      log: silentLogger(),
    });
    t.after(() => orchestrator.close());
    const url = `mqtt://127.0.0.1:${await orchestrator.listen('127.0.0.1', 0)}`;
    const client = await connectClient(t, url, { protocolVersion: 5 });
    await assert.rejects(
      client.publishAsync('mv/forged', 'x', {
        qos: 1,
        properties: { userProperties: { [MOVE_MARKER]: '1' } },
      }),
      (err: Error & { code?: number }) => err.code === 0x87,
    );
    await client.publishAsync('mv/fine', 'y', { qos: 1, properties: { userProperties: { other: '1' } } });
  });
});
