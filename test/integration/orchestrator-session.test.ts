// test-lanes: shared
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { describe, it } from 'node:test';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { deliveryFrames, keptFrames } from '../../orchestrator/protocol/kept-frames.ts';
import { publishSeq, settle, startOrchestrator, subscriber } from '../helpers/orchestrator.ts';
import { connectClient, startProvider, waitFor } from '../helpers/resources.ts';

async function threeBrokers(t: Parameters<typeof startProvider>[0]) {
  const provider = await startProvider(t);
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await provider.create('broker', 'mosquitto')).id);
  return (await Promise.all(ids.map((id) => provider.waitReady(id, 10_000)))).map((r) => r.url);
}

describe('orchestrator: sessions', () => {
  it('a second connection with the same client id takes over the first, as a broker would', async (t) => {
    const { url } = await startOrchestrator(t, await threeBrokers(t));
    const first = await connectClient(t, url, { clientId: 'taxi-156', protocolVersion: 5 });
    const kicked = new Promise<number | undefined>((resolve) =>
      first.once('disconnect', (p) => resolve(p.reasonCode)),
    );
    const second = await connectClient(t, url, { clientId: 'taxi-156', protocolVersion: 5 });
    assert.equal(await kicked, 0x8e); // session taken over
    await waitFor(() => !first.connected, 2000, 'first closed');
    const sub = await subscriber(t, url, 'takeover/#', 1);
    await publishSeq(second, 'p', ['takeover/1'], 20, 1);
    await settle([sub.counts], 20);
    assert.equal(sub.counts.distinct, 20, 'the new connection works on every broker');
  });

  it('an empty client id works, with one generated id (returned to MQTT 5 clients) used on every broker', async (t) => {
    const { url, port, orchestrator } = await startOrchestrator(t, await threeBrokers(t));
    let assigned: string | undefined;
    const anon = await connectClient(t, url, { clientId: '', protocolVersion: 5 }, (c) =>
      c.once('connect', (p) => {
        assigned = p.properties?.assignedClientIdentifier;
      }),
    );
    assert.match(assigned ?? '', /^brokel-[0-9a-f]{16}$/);
    const sub = await subscriber(t, url, 'anon/#', 1, { clientId: '' });
    await publishSeq(anon, 'p', ['anon/1'], 30, 1);
    await settle([sub.counts], 30);
    assert.equal(sub.counts.distinct, 30);
    // Both sessions use every broker (a subscriber and a round-robin publisher need them all; the
    // publisher's links open behind its first publish).
    await waitFor(
      () => orchestrator.status().brokers.every((b) => b.sessions === 2),
      5000,
      'links on every broker',
    );
    // 3.1.1 with an empty id and clean session off: refused with 0x02 [MQTT-3.1.3-8]. (MQTT.js will
    // not even send that, so raw bytes.)
    const socket = netConnect({ host: '127.0.0.1', port });
    t.after(() => socket.destroy());
    const connack = new Promise<mqttPacket.IConnackPacket>((resolve) => {
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      parser.on('packet', (p) => p.cmd === 'connack' && resolve(p));
      socket.on('data', (d) => parser.parse(d));
    });
    // CONNECT, MQTT 3.1.1, flags 0 (clean session off), keepalive 10, empty client id.
    socket.write(
      Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x0a, 0x00, 0x00]),
    );
    assert.equal((await connack).returnCode, 2);
  });

  it('answers keepalive itself, and a client that goes silent past 1.5 × keepalive is dropped with its will fired', async (t) => {
    const { port, url } = await startOrchestrator(t, await threeBrokers(t));
    const watcher = await subscriber(t, url, 'silent/#', 1);
    const socket = netConnect({ host: '127.0.0.1', port });
    t.after(() => socket.destroy());
    await new Promise((r) => socket.once('connect', r));
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const packets: string[] = [];
    parser.on('packet', (p) => packets.push(p.cmd));
    socket.on('data', (d) => parser.parse(d));
    socket.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: 'silent-taxi',
        clean: true,
        keepalive: 1,
        will: { topic: 'silent/will', payload: Buffer.from('w:1'), qos: 1, retain: false },
      }),
    );
    await waitFor(() => packets.includes('connack'), 3000, 'CONNACK');
    socket.write(mqttPacket.generate({ cmd: 'pingreq' }));
    await waitFor(() => packets.includes('pingresp'), 1000, 'PINGRESP');
    const closed = new Promise((r) => socket.once('close', r));
    await closed; // nothing more sent: closed after 1.5 s of silence
    await settle([watcher.counts], 1, 3000);
    assert.equal(watcher.counts.distinct, 1, 'the will fired once');
  });

  it('a client with keepalive 0 is never timed out, though its session ticks each second (kept frames)', async (t) => {
    const { url, orchestrator } = await startOrchestrator(t, await threeBrokers(t));
    const sub = await subscriber(t, url, 'nokeepalive/#', 1, { keepalive: 0 });
    const pub = await connectClient(t, url, { keepalive: 0 });
    await publishSeq(pub, 'p', ['nokeepalive/1'], 20, 1);
    // Silent for 3.5 s: three ticks of the process's 1-second clock.
    await new Promise((r) => setTimeout(r, 3500));
    assert.ok(pub.connected && sub.client.connected, 'both still connected');
    await publishSeq(pub, 'q', ['nokeepalive/1'], 20, 1);
    await settle([sub.counts], 40);
    assert.equal(sub.counts.distinct, 40);
    assert.equal(orchestrator.status().sessions, 2);
  });

  it("clients' QoS 1 publishes and brokers' deliveries are read into separate slab stores", async (t) => {
    // A replay window keeps publishes in the slabs they were read into (kept-frames.ts); deliveries
    // there too would make a slab it keeps alive hold N subscribers' copies besides.
    const { url } = await startOrchestrator(t, await threeBrokers(t));
    const sub = await subscriber(t, url, 'stores/#', 1);
    const pub = await connectClient(t, url);
    const before = { kept: keptFrames.copied, delivered: deliveryFrames.copied };
    const payload = Buffer.alloc(1000, 7);
    for (let i = 0; i < 50; i++) await pub.publishAsync('stores/1', payload, { qos: 1 });
    await settle([sub.counts], 50);
    const kept = keptFrames.copied - before.kept;
    const delivered = deliveryFrames.copied - before.delivered;
    t.diagnostic(`bytes copied: publishes ${kept}, deliveries ${delivered}`);
    // Each frame: the 1,000-byte payload, the topic, the packet id and a header (≤ 1,020 bytes).
    assert.ok(kept >= 50_000 && kept <= 51_000, `publishes: ${kept} bytes`);
    assert.ok(delivered >= 50_000 && delivered <= 51_000, `deliveries: ${delivered} bytes`);
  });

  it('shared subscriptions ($share/...) pass through: each message reaches one member of the group', async (t) => {
    const { url } = await startOrchestrator(t, await threeBrokers(t));
    const members = [
      await subscriber(t, url, '$share/fleet/share/#', 1, { protocolVersion: 5 }),
      await subscriber(t, url, '$share/fleet/share/#', 1, { protocolVersion: 5 }),
    ];
    const pub = await connectClient(t, url);
    await publishSeq(pub, 'p', ['share/1', 'share/2'], 300, 1);
    await new Promise((r) => setTimeout(r, 500));
    const total = members.reduce((n, m) => n + m.counts.distinct, 0);
    const dup = members.reduce((n, m) => n + m.counts.duplicates, 0);
    t.diagnostic(`members got ${members.map((m) => m.counts.distinct).join(' + ')}`);
    assert.equal(total, 300);
    assert.equal(dup, 0);
    assert.ok(
      members.every((m) => m.counts.distinct > 0),
      'both members get a share',
    );
  });

  it('MQTT 5 subscription options hold across brokers: No Local, Retain As Published, Retain Handling', async (t) => {
    const { url } = await startOrchestrator(t, await threeBrokers(t));
    // A chat client: its own publishes (round-robin over three brokers) never come back to it
    // [MQTT-3.8.3-3]; another subscriber gets every one.
    const own: string[] = [];
    const chat = await connectClient(t, url, { protocolVersion: 5 }, (c) =>
      c.on('message', (topic) => own.push(topic)),
    );
    await chat.subscribeAsync('room/#', { qos: 1, nl: true });
    const other: string[] = [];
    const listener = await connectClient(t, url, { protocolVersion: 5 }, (c) =>
      c.on('message', (topic) => other.push(topic)),
    );
    await listener.subscribeAsync('room/#', { qos: 1 });
    for (let i = 0; i < 12; i++) await chat.publishAsync(`room/${i}`, `m${i}`, { qos: 1 });
    await waitFor(() => other.length >= 12, 5000, 'the other subscriber’s copies');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(own.length, 0, 'no copy of its own publishes');

    // A retained value, on its owner broker: Retain As Published keeps the flag on a live delivery;
    // Retain Handling 1 sends it only for a new subscription, 2 never [MQTT-3.3.1-9, -10, -11, -12].
    const pub = await connectClient(t, url, { protocolVersion: 5 });
    const seen: Array<{ topic: string; retain: boolean }> = [];
    const reader = await connectClient(t, url, { protocolVersion: 5 }, (c) =>
      c.on('message', (topic, _payload, packet) => seen.push({ topic, retain: packet.retain })),
    );
    await pub.publishAsync('state/a', 'on', { qos: 1, retain: true });
    await reader.subscribeAsync('state/#', { qos: 1, rh: 2 });
    await reader.subscribeAsync('gauge/#', { qos: 1, rap: true, rh: 1 });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seen.length, 0, 'Retain Handling 2: no retained message at subscribe');
    await reader.subscribeAsync('state/#', { qos: 1, rh: 1 });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seen.length, 0, 'Retain Handling 1: the subscription existed, nothing sent');
    await reader.unsubscribeAsync('state/#');
    await reader.subscribeAsync('state/#', { qos: 1, rh: 1 });
    await waitFor(() => seen.length === 1, 3000, 'the retained value for the new subscription');
    assert.deepEqual(seen[0], { topic: 'state/a', retain: true });
    await pub.publishAsync('gauge/1', '7', { qos: 1, retain: true });
    await pub.publishAsync('state/a', 'off', { qos: 1, retain: true });
    await waitFor(() => seen.length === 3, 3000, 'the two live deliveries');
    assert.deepEqual(
      seen.slice(1).sort((x, y) => x.topic.localeCompare(y.topic)),
      [
        { topic: 'gauge/1', retain: true },
        { topic: 'state/a', retain: false },
      ],
      'Retain As Published keeps the flag; without it a live delivery has it cleared',
    );
  });

  it('a QoS 2 flow stays on one broker from PUBLISH to PUBCOMP, whatever round-robin does meanwhile', async (t) => {
    const { url, orchestrator } = await startOrchestrator(t, await threeBrokers(t));
    const sub = await subscriber(t, url, 'q2/#', 2);
    const pub = mqtt.connect(url, { reconnectPeriod: 0 });
    t.after(() => pub.end(true));
    await new Promise((r) => pub.once('connect', r));
    await publishSeq(pub, 'p', ['q2/a'], 300, 2, 30);
    await settle([sub.counts], 300);
    assert.equal(sub.counts.distinct, 300);
    assert.equal(sub.counts.duplicates, 0);
    assert.equal(
      orchestrator.status().brokers.reduce((n, b) => n + b.inflight, 0),
      0,
      'no flow left open',
    );
  });
});
