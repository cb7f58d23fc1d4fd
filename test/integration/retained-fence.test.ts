// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { Replica } from '../../manager/providers/cloud-provider.ts';
import { retainedOwner } from '../../orchestrator/routing/strategies.ts';
import { startOrchestrator } from '../helpers/orchestrator.ts';
import { connectClient, startProvider, waitFor, within } from '../helpers/resources.ts';

/** Topic → payload of the retained messages one broker holds under `filter`, read directly. */
async function onBroker(t: TestContext, broker: Replica, filter: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const c = await connectClient(t, broker.url, {}, (client) =>
    client.on('message', (topic, payload, packet) => packet.retain && out.set(topic, payload.toString())),
  );
  await c.subscribeAsync(filter, { qos: 1 });
  await new Promise((r) => setTimeout(r, 300));
  c.end(true);
  return out;
}

describe('orchestrator: the retained fence', () => {
  it('holds a retained publish whose owner moves (its PUBACK waits), lets the rest pass, and releases in order to the new owner', async (t) => {
    const provider = await startProvider(t);
    const [a, n] = await Promise.all(
      [await provider.create('broker', 'mosquitto'), await provider.create('broker', 'mosquitto')].map((r) =>
        provider.waitReady(r.id, 30_000),
      ),
    );
    if (!a || !n) throw new Error('brokers');
    const ids = [a, n].map((b) => b.url.slice('mqtt://'.length));
    const { url, orchestrator } = await startOrchestrator(t, [a.url]);
    const topics = Array.from({ length: 40 }, (_, i) => `fence/${i}`);
    const moving = topics.find((x) => retainedOwner(x, ids) === ids[1]) ?? '';
    const staying = topics.find((x) => retainedOwner(x, ids) === ids[0]) ?? '';
    orchestrator.setBrokers([
      { url: a.url, state: 'active' },
      { url: n.url, state: 'joining', retainedFence: true },
    ]);
    const pub = await connectClient(t, url, { protocolVersion: 5 });
    let acked = false;
    pub.publish(moving, 'q0', { qos: 0, retain: true });
    const held = pub.publishAsync(moving, 'q1', { qos: 1, retain: true }).then(() => {
      acked = true;
    });
    // Not held, so they reach their brokers now; their PUBACKs wait behind the held one's, since
    // acknowledgements go out in PUBLISH order [MQTT-4.6.0-2].
    let laterAcked = 0;
    const later = [
      pub.publishAsync(staying, 's', { qos: 1, retain: true }),
      pub.publishAsync(moving, 'live', { qos: 1 }), // not retained: never held
    ].map((p) => p.then(() => (laterAcked += 1)));
    const deadline = Date.now() + 5000;
    while ((await onBroker(t, a, 'fence/#')).get(staying) !== 's') {
      assert.ok(
        Date.now() < deadline,
        'the retained publish whose owner stays reaches it while the other is held',
      );
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(acked, false, 'the held retained publish is not acknowledged yet');
    assert.equal(laterAcked, 0, 'later PUBACKs wait behind the held one (PUBLISH order)');
    const entry = orchestrator.status().brokers.find((b) => b.url === n.url);
    assert.equal(entry?.retainedFence, true);
    assert.equal(entry?.retainedUnsettled, 0);
    assert.equal((await onBroker(t, a, 'fence/#')).has(moving), false, 'not written to the old owner');
    orchestrator.setBrokers([
      { url: a.url, state: 'active' },
      { url: n.url, state: 'active' },
    ]);
    await waitFor(() => acked, 5000, 'the held publish acknowledged once the fence is lifted');
    await held;
    await Promise.all(later);
    assert.equal(
      (await onBroker(t, n, 'fence/#')).get(moving),
      'q1',
      'QoS 0 then QoS 1, in order, on the new owner',
    );
    assert.equal((await onBroker(t, a, 'fence/#')).get(staying), 's');
  });

  it('refuses a retained publish to a $ topic (v5: DISCONNECT 0x90; 3.1.1: closed); a non-retained one passes', async (t) => {
    const provider = await startProvider(t);
    const broker = await provider.waitReady((await provider.create('broker', 'mosquitto')).id, 30_000);
    const { url } = await startOrchestrator(t, [broker.url]);
    const v5 = await connectClient(t, url, { protocolVersion: 5 });
    await v5.publishAsync('$app/x', 'live', { qos: 1 });
    const reason = new Promise<number | undefined>((resolve) =>
      v5.once('disconnect', (packet) => resolve(packet.reasonCode)),
    );
    v5.publish('$app/x', 'kept', { qos: 1, retain: true });
    assert.equal(await within(reason, 5000, 'DISCONNECT'), 0x90);
    const v4 = await connectClient(t, url);
    const closed = new Promise<void>((resolve) => v4.once('close', () => resolve()));
    v4.publish('$app/y', 'kept', { qos: 0, retain: true });
    await within(closed, 5000, 'close');
    assert.equal((await onBroker(t, broker, '$app/#')).size, 0, 'nothing retained under $app');
  });
});
