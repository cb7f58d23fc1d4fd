// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LocalProvider } from '../../manager/providers/local/local-provider.ts';
import { encodeClaim } from '../../orchestrator/registry/claims.ts';
import { claimUntil } from '../helpers/claims.ts';
import { publishSeq, settle, startOrchestrator, subscriber } from '../helpers/orchestrator.ts';
import { connectClient, startProvider, waitFor } from '../helpers/resources.ts';

async function brokersOn(provider: LocalProvider, templates: string[]) {
  const created = [];
  for (const template of templates) created.push(await provider.create('broker', template));
  return Promise.all(created.map((r) => provider.waitReady(r.id, 90_000)));
}

describe('orchestrator: pool changes and failures under QoS 1 load', () => {
  it('a broker added (joining, then active) and another drained and removed, while 2 publishers and 2 subscribers run: zero loss', async (t) => {
    const provider = await startProvider(t);
    const [a, b, c] = await brokersOn(provider, ['mosquitto', 'mosquitto', 'mosquitto']);
    if (!a || !b || !c) throw new Error('brokers');
    const { url, orchestrator } = await startOrchestrator(t, [a.url, b.url]);
    const subs = [
      await subscriber(t, url, 'load/#', 1),
      await subscriber(t, url, 'load/+', 1, { protocolVersion: 5 }),
    ];
    const pubs = [await connectClient(t, url), await connectClient(t, url, { protocolVersion: 5 })];
    const perPublisher = 4000;
    const publishing = Promise.all(
      pubs.map((p, i) => publishSeq(p, `p${i}`, ['load/1', 'load/2', 'load/3'], perPublisher, 1, 20)),
    );
    const brokerStatus = (id: string) => orchestrator.status().brokers.find((x) => x.url === id);
    // Scale out: C joins (subscriptions replayed), then becomes active once synced.
    await waitFor(() => subs.every((s) => s.counts.distinct > 500), 20_000, 'load under way');
    orchestrator.setBrokers([
      { url: a.url, state: 'active' },
      { url: b.url, state: 'active' },
      { url: c.url, state: 'joining' },
    ]);
    await waitFor(() => brokerStatus(c.url)?.synced === true, 10_000, 'C synced');
    assert.equal(brokerStatus(c.url)?.published, 0, 'no publish routed to a joining broker');
    orchestrator.setBrokers([
      { url: a.url, state: 'active' },
      { url: b.url, state: 'active' },
      { url: c.url, state: 'active' },
    ]);
    await waitFor(() => (brokerStatus(c.url)?.published ?? 0) > 100, 20_000, 'C takes publishes');
    // Scale in: B drains (no new publishes), goes idle, leaves the pool, and is destroyed.
    orchestrator.setBrokers([
      { url: a.url, state: 'active' },
      { url: b.url, state: 'draining' },
      { url: c.url, state: 'active' },
    ]);
    let lastDelivered = -1;
    let quietSince = Date.now();
    await waitFor(
      () => {
        const s = brokerStatus(b.url);
        if (!s || s.inflight > 0) return false;
        if (s.delivered !== lastDelivered) {
          lastDelivered = s.delivered;
          quietSince = Date.now();
        }
        return Date.now() - quietSince > 500;
      },
      20_000,
      'B idle',
    );
    const publishedToB = brokerStatus(b.url)?.published ?? 0;
    orchestrator.setBrokers([
      { url: a.url, state: 'active' },
      { url: c.url, state: 'active' },
    ]);
    await provider.destroy(b.id);
    await publishing;
    await settle(
      subs.map((s) => s.counts),
      2 * perPublisher,
      5000,
    );
    t.diagnostic(
      `B took ${publishedToB} publishes before draining; duplicates ${subs.map((s) => s.counts.duplicates).join(', ')}`,
    );
    for (const s of subs) assert.equal(s.counts.distinct, 2 * perPublisher);
  });

  it('a broker killed with SIGKILL under load: zero QoS 1 loss, sessions continue, and it rejoins with subscriptions replayed', async (t) => {
    const provider = await startProvider(t);
    const brokers = await brokersOn(provider, ['mosquitto', 'mosquitto', 'mosquitto']);
    const { url, orchestrator } = await startOrchestrator(
      t,
      brokers.map((b) => b.url),
    );
    const subs = [
      await subscriber(t, url, 'fail/#', 1),
      await subscriber(t, url, 'fail/+', 1, { protocolVersion: 5 }),
    ];
    const pubs = [await connectClient(t, url), await connectClient(t, url, { protocolVersion: 5 })];
    const perPublisher = 4000;
    const publishing = Promise.all(
      pubs.map((p, i) => publishSeq(p, `p${i}`, ['fail/1', 'fail/2'], perPublisher, 1, 20)),
    );
    await waitFor(() => subs.every((s) => s.counts.distinct > 1000), 20_000, 'load under way');
    const victim = brokers[1];
    if (!victim) throw new Error('no victim');
    process.kill(provider.details(victim.id)?.pid ?? -1, 'SIGKILL');
    await publishing;
    await settle(
      subs.map((s) => s.counts),
      2 * perPublisher,
      5000,
    );
    t.diagnostic(`duplicates after the failure: ${subs.map((s) => s.counts.duplicates).join(', ')}`);
    for (const s of subs) assert.equal(s.counts.distinct, 2 * perPublisher);
    assert.ok(pubs.every((p) => p.connected) && subs.every((s) => s.client.connected), 'sessions continue');
    // The same broker comes back on its address: sessions reconnect and replay their subscriptions.
    const victimStatus = () => orchestrator.status().brokers.find((b) => b.url === victim.url);
    await waitFor(() => victimStatus()?.sessions === 0, 5000, 'sessions see the broker gone');
    await provider.destroy(victim.id, { keepAddress: true });
    const back = await provider.waitReady(
      (await provider.create('broker', 'mosquitto', { host: victim.host, port: victim.port })).id,
      10_000,
    );
    assert.equal(back.url, victim.url);
    await waitFor(
      () => victimStatus()?.sessions === 4 && victimStatus()?.synced === true,
      15_000,
      'sessions back on the broker',
    );
    const before = victimStatus()?.delivered ?? 0;
    await publishSeq(pubs[0] ?? pubs[1] ?? (await connectClient(t, url)), 'after', ['fail/9'], 300, 1);
    await settle(
      subs.map((s) => s.counts),
      2 * perPublisher + 300,
      3000,
    );
    for (const s of subs) assert.equal(s.counts.distinct, 2 * perPublisher + 300);
    assert.ok(
      (victimStatus()?.delivered ?? 0) > before,
      'the returning broker delivers again (its subscriptions were replayed)',
    );
  });
});

describe('orchestrator: mixed pool, auth passthrough, MQTT 5 details, backpressure', () => {
  it('works over 2 Mosquitto and 1 RabbitMQ (3.1.1 only, no QoS 2) with MQTT.js 3.1.1 and 5.0 and mosquitto_pub/sub', async (t) => {
    const provider = await startProvider(t);
    const brokers = await brokersOn(provider, ['rabbitmq', 'mosquitto', 'mosquitto']);
    const { url, orchestrator } = await startOrchestrator(
      t,
      brokers.map((b) => b.url),
    );
    for (const [protocolVersion, qos] of [
      [4, 1],
      [5, 1],
      [5, 2],
      [4, 2],
    ] as const) {
      const topic = `mix/v${protocolVersion}q${qos}`;
      const sub = await subscriber(t, url, `${topic}/#`, qos, { protocolVersion });
      const pub = await connectClient(t, url, { protocolVersion });
      await publishSeq(pub, 'p', [`${topic}/a`, `${topic}/b`, `${topic}/c`], 90, qos, 10);
      await settle([sub.counts], 90, 3000);
      assert.equal(sub.counts.distinct, 90, `v${protocolVersion} QoS ${qos}`);
    }
    const rabbit = orchestrator.status().brokers.find((b) => b.url === brokers[0]?.url);
    assert.ok((rabbit?.published ?? 0) > 50, `RabbitMQ took ${rabbit?.published} publishes`);
    // Claims through RabbitMQ (orchestrator/registry/claims.ts): one published there, as another replica
    // whose first pool broker it is would, reaches this replica's presence subscription.
    const claimed = await connectClient(t, url, { clientId: 'mix-claimed', protocolVersion: 5 });
    let reason: number | undefined;
    claimed.on('disconnect', (p) => {
      reason = p.reasonCode;
    });
    const other = await connectClient(t, brokers[0]?.url ?? '', { clientId: 'mix-other-replica' });
    const claim = encodeClaim({ clientId: 'mix-claimed', instanceId: 'ffffffffffff', at: Date.now() + 1 });
    await claimUntil(other, claim, () => reason !== undefined);
    assert.equal(reason, 0x8e, 'a claim through RabbitMQ ends the older session (DISCONNECT 0x8E)');
  });

  it("passes the brokers' authentication through: a wrong password is refused with the broker's code", async (t) => {
    const provider = await startProvider(t, {}, { users: [{ username: 'taxi', password: 'roma-2014' }] });
    const brokers = await brokersOn(provider, ['mosquitto', 'mosquitto']);
    const { url } = await startOrchestrator(
      t,
      brokers.map((b) => b.url),
    );
    await assert.rejects(
      connectClient(t, url, { username: 'taxi', password: 'wrong' }),
      (err: Error & { code?: number }) => err.code === 5,
    );
    await assert.rejects(
      connectClient(t, url, { username: 'taxi', password: 'wrong', protocolVersion: 5 }),
      (err: Error & { code?: number }) => err.code === 0x86 || err.code === 0x87,
    );
    await assert.rejects(connectClient(t, url), (err: Error & { code?: number }) => err.code === 5);
    const ok = await connectClient(t, url, { username: 'taxi', password: 'roma-2014' });
    const sub = await subscriber(t, url, 'auth/#', 1, { username: 'taxi', password: 'roma-2014' });
    await publishSeq(ok, 'p', ['auth/1'], 10, 1);
    await settle([sub.counts], 10);
    assert.equal(sub.counts.distinct, 10);
  });

  it('MQTT 5: topic aliases, user properties and reason codes relayed, the client’s receive maximum respected', async (t) => {
    const provider = await startProvider(t);
    const brokers = await brokersOn(provider, ['mosquitto', 'mosquitto']);
    const { url, orchestrator } = await startOrchestrator(
      t,
      brokers.map((b) => b.url),
    );
    const received: Array<{ topic: string; user?: unknown }> = [];
    const sub = await connectClient(t, url, { protocolVersion: 5, properties: { receiveMaximum: 5 } }, (c) =>
      c.on('message', (topic, _p, packet) =>
        received.push({ topic, user: packet.properties?.userProperties }),
      ),
    );
    await sub.subscribeAsync('v5/#', { qos: 1 });
    const pub = await connectClient(t, url, {
      protocolVersion: 5,
      autoAssignTopicAlias: true,
      properties: { topicAliasMaximum: 0 },
    });
    // While the subscriber reads nothing, the orchestrator keeps at most 5 deliveries unacknowledged.
    sub.stream.pause();
    let peakInflight = 0;
    for (let i = 0; i < 40; i++) {
      await pub.publishAsync('v5/aliased/topic', `m${i}`, {
        qos: 1,
        properties: { userProperties: { fleet: 'roma' } },
      });
      peakInflight = Math.max(peakInflight, orchestrator.status().buffers.deliveriesInflight);
    }
    assert.ok(peakInflight <= 5 && peakInflight > 0, `in flight to the client: ${peakInflight}`);
    sub.stream.resume();
    await waitFor(() => received.length >= 40, 5000, '40 deliveries');
    assert.ok(received.every((r) => r.topic === 'v5/aliased/topic'));
    assert.deepEqual({ ...(received[0]?.user as object) }, { fleet: 'roma' });
  });

  it('a subscriber that stops reading is bounded by the delivery buffer, and gets everything when it resumes', async (t) => {
    const provider = await startProvider(t);
    const brokers = await brokersOn(provider, ['mosquitto']);
    const maxBufferedDeliveries = 200;
    const { url, orchestrator } = await startOrchestrator(
      t,
      brokers.map((b) => b.url),
      {
        limits: { maxBufferedDeliveries, deliveryWindow: 20 },
      },
    );
    const slow = await subscriber(t, url, 'slow/#', 1);
    const pub = await connectClient(t, url);
    slow.client.stream.pause();
    const count = 20_000;
    const publishing = publishSeq(pub, 'p', ['slow/1'], count, 1, 100);
    let peak = 0;
    const watch = setInterval(() => {
      peak = Math.max(peak, orchestrator.status().buffers.maxSessionBuffered);
    }, 10);
    t.after(() => clearInterval(watch));
    await publishing; // the broker queues what the orchestrator does not take
    await new Promise((r) => setTimeout(r, 300));
    slow.client.stream.resume();
    await settle([slow.counts], count, 5000);
    clearInterval(watch);
    t.diagnostic(`peak buffered deliveries for the paused session: ${peak} (limit ${maxBufferedDeliveries})`);
    assert.ok(peak <= maxBufferedDeliveries + 64, `buffer grew to ${peak}`);
    assert.equal(slow.counts.distinct, count);
  });
});
