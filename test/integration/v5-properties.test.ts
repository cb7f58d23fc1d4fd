// test-lanes: shared
// MQTT 5 PUBLISH properties through the orchestrator and real Mosquittos, between two client
// implementations: python3-paho-mqtt publishes QoS 0, 1 and 2 with every application-message property
// and User Properties interleaved (a=1, b=2, a=3); paho, MQTT.js v5 (with a Subscription Identifier)
// and MQTT.js 3.1.1 subscribe. The
// fast path forwards the property block as the sender wrote it, so paho's subscriber sees the sender's
// order; mqtt-packet's generate() (the full path, before) regrouped it as a=1, a=3, b=2.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IPublishPacket } from 'mqtt-packet';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { connectTcp, expectPacket, handshake, writePacket } from '../helpers/mqtt-wire.ts';
import { startOrchestrator } from '../helpers/orchestrator.ts';
import { type PahoProperties, runPaho } from '../helpers/paho.ts';
import { connectClient, startProvider, waitFor } from '../helpers/resources.ts';

const PROPERTIES: PahoProperties = {
  userProperties: [
    ['a', '1'],
    ['b', '2'],
    ['a', '3'],
  ],
  contentType: 'application/json',
  responseTopic: 'reply/é',
  correlationData: 'corr-1',
  messageExpiry: 300,
  payloadFormat: 1,
};

describe('MQTT 5 PUBLISH properties through the orchestrator', () => {
  it('reach paho and MQTT.js v5 subscribers as sent (User Properties in order), a 3.1.1 one without them', async (t) => {
    const provider = await startProvider(t);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) ids.push((await provider.create('broker', 'mosquitto')).id);
    const urls = (await Promise.all(ids.map((id) => provider.waitReady(id, 10_000)))).map((r) => r.url);
    const { port, url } = await startOrchestrator(t, urls);

    const mqttjs: IPublishPacket[] = [];
    const v5 = await connectClient(t, url, { protocolVersion: 5 }, (c) =>
      c.on('message', (_topic, _payload, packet) => mqttjs.push(packet)),
    );
    await v5.subscribeAsync('props/#', { qos: 2, properties: { subscriptionIdentifier: 300 } });
    const v4payloads: string[] = [];
    const v4 = await connectClient(t, url, {}, (c) =>
      c.on('message', (_topic, payload, packet) => {
        assert.equal(packet.properties, undefined, 'a 3.1.1 subscriber gets no properties');
        v4payloads.push(payload.toString());
      }),
    );
    await v4.subscribeAsync('props/#', { qos: 2 });
    const sub = runPaho(t, port, [
      { op: 'connect', clientId: 'paho-props-sub', version: 5 },
      { op: 'subscribe', topic: 'props/#', qos: 2 },
      { op: 'expect', count: 3, timeoutMs: 8000 },
      { op: 'disconnect' },
    ]);
    await sub.step(1);
    const pub = runPaho(t, port, [
      { op: 'connect', clientId: 'paho-props-pub', version: 5 },
      ...[0, 1, 2].map((qos) => ({
        op: 'publish',
        topic: `props/q${qos}`,
        payload: `{"qos":${qos}}`,
        qos,
        properties: PROPERTIES,
      })),
      { op: 'disconnect' },
    ]);
    await pub.done;
    const messages = (await sub.done)[2]?.messages ?? [];
    assert.deepEqual(messages.map((m) => m.topic).sort(), ['props/q0', 'props/q1', 'props/q2']);
    for (const m of messages) {
      const { messageExpiry, ...rest } = m.properties ?? {};
      // The broker counts down the expiry by the time the message waited [MQTT-3.3.2-6].
      assert.ok(
        messageExpiry !== undefined && messageExpiry > 290 && messageExpiry <= 300,
        `${messageExpiry}`,
      );
      const { messageExpiry: _sent, ...sent } = PROPERTIES;
      assert.deepEqual(rest, sent, `${m.topic}: the properties, User Properties in the sender's order`);
    }

    await waitFor(() => mqttjs.length >= 3 && v4payloads.length >= 3, 5000, 'MQTT.js deliveries');
    for (const packet of mqttjs) {
      const p = packet.properties ?? {};
      assert.deepEqual({ ...p.userProperties }, { a: ['1', '3'], b: '2' });
      assert.equal(p.contentType, 'application/json');
      assert.equal(p.responseTopic, 'reply/é');
      assert.equal(p.correlationData?.toString(), 'corr-1');
      assert.equal(p.payloadFormatIndicator, true);
      assert.equal(p.subscriptionIdentifier, 300, 'the broker’s Subscription Identifier, relayed');
    }
    assert.deepEqual(v4payloads.sort(), ['{"qos":0}', '{"qos":1}', '{"qos":2}']);
  });

  for (const qos of [1, 2] as const)
    it(`QoS ${qos}: counts a delivery’s Message Expiry Interval down while it waits for its client, and drops it once expired`, async (t) => {
      const provider = await startProvider(t);
      const created = await provider.create('broker', 'mosquitto');
      const broker = await provider.waitReady(created.id, 10_000);
      const { url, orchestrator } = await startOrchestrator(t, [broker.url]);
      // Receive Maximum 1, and the first delivery acknowledged only 2.5 s later: the others wait in the
      // orchestrator (its link to the broker has a window of its own).
      const received: IPublishPacket[] = [];
      let release: (() => void) | undefined;
      const sub = await connectClient(
        t,
        url,
        {
          protocolVersion: 5,
          properties: { receiveMaximum: 1 },
          customHandleAcks: (_topic, _message, packet, done) => {
            received.push(packet as IPublishPacket);
            if (received.length === 1) release = () => done(0);
            else done(0);
          },
        },
        () => undefined,
      );
      await sub.subscribeAsync('exp/#', { qos });
      const pub = await connectClient(t, url, { protocolVersion: 5 });
      await pub.publishAsync('exp/first', 'held', { qos });
      await waitFor(() => received.length === 1, 5000, 'the first delivery');
      await pub.publishAsync('exp/short', 'gone', { qos, properties: { messageExpiryInterval: 1 } });
      await pub.publishAsync('exp/long', 'kept', { qos, properties: { messageExpiryInterval: 60 } });
      await pub.publishAsync('exp/none', 'plain', { qos });
      await new Promise((r) => setTimeout(r, 2_500));
      release?.();
      await waitFor(() => received.length >= 3, 5000, 'the deliveries that had not expired');
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(
        received.map((p) => p.topic),
        ['exp/first', 'exp/long', 'exp/none'],
        'the one with 1 s to live is not delivered',
      );
      const left = received[1]?.properties?.messageExpiryInterval ?? 0;
      assert.ok(left >= 57 && left <= 58, `60 s less the 2 s it waited here: ${left}`);
      assert.equal(received[2]?.properties?.messageExpiryInterval, undefined);
      const metrics = await orchestrator.metrics.registry.metrics();
      assert.match(metrics, /brokel_orchestrator_deliveries_expired_total\{broker="[^"]+"\} 1/);
    });

  it('relays a subscriber’s acknowledgements that carry a Reason String and User Properties (QoS 1 and 2)', async (t) => {
    // One delivery in flight at a time: the next comes only once the broker has the acknowledgement.
    const broker = await TestMosquitto.start(t, ['max_inflight_messages 1']);
    const { port, url } = await startOrchestrator(t, [broker.url]);
    const sub = await connectTcp(t, port, { version: 5 });
    await handshake(sub, 'ack-props-sub', 5);
    await writePacket(sub, {
      cmd: 'subscribe',
      messageId: 1,
      subscriptions: [{ topic: 'ackp/#', qos: 2 }],
    });
    await expectPacket(sub, 'suback', 5000);
    const pub = await connectClient(t, url, { protocolVersion: 5 });
    const properties = { reasonString: 'seen by the app', userProperties: { trace: 'x-1', hop: ['a', 'b'] } };
    const got: string[] = [];
    for (const [i, qos] of ([1, 1, 2, 2] as const).entries())
      await pub.publishAsync(`ackp/q${qos}`, `${i}`, { qos });
    for (let i = 0; i < 4; i++) {
      const d = await expectPacket(sub, 'publish', 5000);
      got.push(`${d.topic}:${d.payload.toString()}`);
      if (d.qos === 1) {
        await writePacket(sub, { cmd: 'puback', messageId: d.messageId ?? 0, reasonCode: 0, properties });
        continue;
      }
      await writePacket(sub, { cmd: 'pubrec', messageId: d.messageId ?? 0, reasonCode: 0, properties });
      const rel = await expectPacket(sub, 'pubrel', 5000);
      await writePacket(sub, { cmd: 'pubcomp', messageId: rel.messageId, reasonCode: 0, properties });
    }
    assert.deepEqual(
      got,
      ['ackp/q1:0', 'ackp/q1:1', 'ackp/q2:2', 'ackp/q2:3'],
      'every delivery, each after the previous one’s acknowledgement reached the broker',
    );
    assert.equal(sub.parseError, undefined);
    assert.equal(sub.closed, false, 'the session stays up');
  });
});
