// A client's MQTT 5 publish that waits in the orchestrator for a broker: its Message Expiry Interval
// counts down the time it waited here [MQTT-3.3.2-6], and one that ran out goes to no broker
// [MQTT-3.3.2-5] while its publisher still gets its acknowledgements, in order. Real Mosquittos,
// stopped (SIGSTOP: its window full) and killed (no broker at all) while the publishes wait.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { IPublishPacket } from 'mqtt-packet';
import { homeBrokerRanking, retainedOwner } from '../../orchestrator/routing/strategies.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { startOrchestrator } from '../helpers/orchestrator.ts';
import { connectClient, waitFor, within } from '../helpers/resources.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An MQTT.js v5 subscriber to `filter` through the orchestrator; what it receives, in order. */
async function deliveries(
  t: TestContext,
  url: string,
  filter: string,
  qos: 1 | 2,
): Promise<IPublishPacket[]> {
  const received: IPublishPacket[] = [];
  const sub = await connectClient(t, url, { protocolVersion: 5 }, (c) =>
    c.on('message', (_topic, _payload, packet) => received.push(packet)),
  );
  await sub.subscribeAsync(filter, { qos });
  return received;
}

describe('MQTT 5 message expiry of publishes waiting for a broker', () => {
  it('QoS 1 behind a full broker window: the expired one is acknowledged, not sent; the others go with less time', async (t) => {
    // Receive Maximum 1 towards the orchestrator's link: one publish at the broker, the rest wait here.
    const broker = await TestMosquitto.start(t, ['max_inflight_messages 1']);
    const { url, orchestrator } = await startOrchestrator(t, [broker.url]);
    const received = await deliveries(t, url, 'exp/#', 1);
    const pub = await connectClient(t, url, { protocolVersion: 5 });
    await pub.publishAsync('exp/warm', 'w', { qos: 1 }); // the publisher's link is up
    await waitFor(() => received.length === 1, 5000, 'the warm-up delivery');

    const pid = broker.child?.pid;
    assert.ok(pid);
    process.kill(pid, 'SIGSTOP');
    const acked: string[] = [];
    const sends = (
      [
        ['exp/first', undefined],
        ['exp/short', 1],
        ['exp/long', 60],
        ['exp/none', undefined],
      ] as const
    ).map(([topic, interval]) =>
      pub
        .publishAsync(topic, topic, {
          qos: 1,
          ...(interval === undefined ? {} : { properties: { messageExpiryInterval: interval } }),
        })
        .then(() => acked.push(topic)),
    );
    try {
      await waitFor(
        () => orchestrator.status().brokers[0]?.inflight === 1,
        5000,
        'one publish at the broker',
      );
      await sleep(2_200);
      assert.deepEqual(acked, [], 'nothing acknowledged while the broker is stopped');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await within(Promise.all(sends), 10_000, 'every PUBACK');
    assert.deepEqual(acked, ['exp/first', 'exp/short', 'exp/long', 'exp/none'], 'PUBACKs in PUBLISH order');
    await waitFor(() => received.length >= 4, 5000, 'the deliveries');
    await sleep(300);
    assert.deepEqual(
      received.map((p) => p.topic),
      ['exp/warm', 'exp/first', 'exp/long', 'exp/none'],
      'the one with 1 s to live reached no broker',
    );
    const left = received[2]?.properties?.messageExpiryInterval ?? 0;
    assert.ok(left >= 57 && left <= 58, `60 s less the 2 s it waited here: ${left}`);
    assert.equal(received[3]?.properties?.messageExpiryInterval, undefined);
    const metrics = await orchestrator.metrics.registry.metrics();
    assert.match(metrics, /brokel_orchestrator_publishes_expired_total 1\b/);
  });

  it('QoS 2 held while no broker is up: the expired one still gets PUBREC and PUBCOMP, the other arrives counted down', async (t) => {
    const broker = await TestMosquitto.start(t);
    const { url, orchestrator } = await startOrchestrator(t, [broker.url]);
    const received = await deliveries(t, url, 'exp2/#', 2);
    const pub = await connectClient(t, url, { protocolVersion: 5 });
    await pub.publishAsync('exp2/warm', 'w', { qos: 2 });
    await waitFor(() => received.length === 1, 5000, 'the warm-up delivery');

    await broker.kill();
    const completed: string[] = [];
    const sends = (
      [
        ['exp2/short', 1],
        ['exp2/long', 60],
      ] as const
    ).map(([topic, interval]) =>
      pub
        .publishAsync(topic, topic, { qos: 2, properties: { messageExpiryInterval: interval } })
        .then(() => completed.push(topic)),
    );
    await sleep(2_200);
    assert.deepEqual(completed, [], 'held: no broker to take them');
    await broker.boot();
    await within(Promise.all(sends), 15_000, 'both QoS 2 flows completed');
    assert.deepEqual(completed, ['exp2/short', 'exp2/long']);
    await waitFor(() => received.length >= 2, 10_000, 'the delivery that had not expired');
    await sleep(300);
    assert.deepEqual(
      received.map((p) => p.topic),
      ['exp2/warm', 'exp2/long'],
      'the one with 1 s to live reached no broker',
    );
    const left = received[1]?.properties?.messageExpiryInterval ?? 0;
    assert.ok(left >= 45 && left <= 58, `60 s less the time it waited here: ${left}`);
    const metrics = await orchestrator.metrics.registry.metrics();
    assert.match(metrics, /brokel_orchestrator_publishes_expired_total 1\b/);
  });

  it('a retained publish a lazy session holds while it opens its links counts that wait', async (t) => {
    const brokers = [await TestMosquitto.start(t), await TestMosquitto.start(t)];
    const ids = brokers.map((b) => b.url.slice('mqtt://'.length));
    const [running, stopped] = ids as [string, string];
    const { url } = await startOrchestrator(
      t,
      brokers.map((b) => b.url),
      { routing: 'client-affinity', limits: { upstreamConnectTimeoutMs: 2_000 } },
    );
    const received = await deliveries(t, url, 'held/#', 1);
    // Two publishers at home on the running broker (one link each: lazy), and topics owned by the other.
    const clientIds = Array.from({ length: 40 }, (_, i) => `lazy-${i}`)
      .filter((id) => homeBrokerRanking(id, ids)[0] === running)
      .slice(0, 2);
    const topics = Array.from({ length: 40 }, (_, i) => `held/${i}`)
      .filter((topic) => retainedOwner(topic, ids) === stopped)
      .slice(0, 2);
    assert.equal(clientIds.length + topics.length, 4);
    const pubs: MqttClient[] = [];
    for (const clientId of clientIds)
      pubs.push(await connectClient(t, url, { clientId, protocolVersion: 5 }));
    const pid = brokers[1]?.child?.pid;
    assert.ok(pid);
    process.kill(pid, 'SIGSTOP');
    try {
      // Each retained publish needs its topic's owner: the session opens its other link and holds the
      // publish until that attempt gives up (2 s), then routes around the broker it could not reach.
      await within(
        Promise.all(
          [1, 60].map((interval, i) =>
            pubs[i]?.publishAsync(topics[i] ?? '', `${interval}`, {
              qos: 1,
              retain: true,
              properties: { messageExpiryInterval: interval },
            }),
          ),
        ),
        10_000,
        'both acknowledged',
      );
      await waitFor(() => received.length >= 1, 5000, 'the delivery that had not expired');
      await sleep(300);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    assert.deepEqual(
      received.map((p) => p.payload.toString()),
      ['60'],
      'the one with 1 s to live reached no broker',
    );
    const left = received[0]?.properties?.messageExpiryInterval ?? 0;
    assert.ok(left >= 55 && left <= 58, `60 s less the time it was held: ${left}`);
  });
});
