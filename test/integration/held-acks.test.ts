// test-lanes: shared
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { HeldAcks } from '../../orchestrator/session/held-acks.ts';
import { Upstream } from '../../orchestrator/session/upstream.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { startOrchestrator } from '../helpers/orchestrator.ts';
import { connectClient, waitFor } from '../helpers/resources.ts';

// PUBACKs relayed from subscribers to brokers wait up to limits.ackHoldMs for others on the same link
// (orchestrator/session/held-acks.ts): at most 4, released before anything else the link writes and
// before its goodbye, so what a client acknowledged always reaches the broker.

/** What a broker peer read, one entry per `data` chunk: the packets in it and when it came. */
interface Chunk {
  at: number;
  packets: Packet[];
}

/** A broker peer on loopback: CONNACKs the link, then records what it reads (parsed) and its close. */
async function brokerPeer(t: TestContext): Promise<{ port: number; chunks: Chunk[]; closed: Promise<void> }> {
  const chunks: Chunk[] = [];
  let closedResolve: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => {
    closedResolve = resolve;
  });
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    let current: Packet[] = [];
    parser.on('packet', (p: Packet) => {
      if (p.cmd === 'connect') {
        socket.write(
          mqttPacket.generate(
            { cmd: 'connack', sessionPresent: false, reasonCode: 0 },
            { protocolVersion: 5 },
          ),
        );
        return;
      }
      current.push(p);
    });
    socket.on('data', (data: Buffer) => {
      current = [];
      parser.parse(data);
      if (current.length > 0) chunks.push({ at: performance.now(), packets: current });
    });
    socket.on('error', () => undefined);
    socket.on('close', () => closedResolve());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { port: address.port, chunks, closed };
}

async function openLink(port: number, heldAcks: HeldAcks): Promise<Upstream> {
  const link = new Upstream({
    brokerId: `peer:${port}`,
    host: '127.0.0.1',
    port,
    protocolVersion: 5,
    connect: { clientId: 'held-acks', clean: true },
    keepaliveSeconds: 0,
    connectTimeoutMs: 2000,
    maxPacketBytes: 1024 * 1024,
    defaultReceiveMaximum: 20,
    heldAcks,
  });
  const connack = await link.open();
  assert.equal(connack.reasonCode, 0);
  link.attach({ packet: () => undefined, down: () => undefined, unencodable: () => undefined });
  return link;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Each chunk's packets as `cmd:id`, e.g. [['puback:1', 'puback:2']]. */
function shape(chunks: Chunk[]): string[][] {
  return chunks.map((c) => c.packets.map((p) => `${p.cmd}:${(p as { messageId?: number }).messageId ?? ''}`));
}

describe('held upstream PUBACKs (limits.ackHoldMs)', () => {
  it('PUBACKs below the bound leave together, in order, once the hold ends', async (t) => {
    const peer = await brokerPeer(t);
    const link = await openLink(peer.port, new HeldAcks(300, 4));
    t.after(() => link.drop());
    const start = performance.now();
    for (const id of [7, 3, 9]) assert.equal(link.sendPuback(id), true);
    await sleep(150);
    assert.deepEqual(shape(peer.chunks), [], 'nothing leaves during the hold');
    await waitFor(() => peer.chunks.length > 0, 2000, 'the held PUBACKs');
    await sleep(50);
    assert.deepEqual(shape(peer.chunks), [['puback:7', 'puback:3', 'puback:9']]);
    const waited = (peer.chunks[0]?.at ?? 0) - start;
    assert.ok(waited >= 280 && waited < 1000, `released after ${waited.toFixed(0)} ms (hold 300 ms)`);
    // v5 success PUBACKs in their short form (2 bytes after the header), as relayed before.
    assert.equal((peer.chunks[0]?.packets[0] as { length?: number } | undefined)?.length, 2);
  });

  it('the fourth PUBACK takes the held ones along at once', async (t) => {
    const peer = await brokerPeer(t);
    const link = await openLink(peer.port, new HeldAcks(5000, 4));
    t.after(() => link.drop());
    for (const id of [1, 2, 3, 4, 5]) link.sendPuback(id);
    await waitFor(() => peer.chunks.length > 0, 1000, 'the first four PUBACKs');
    await sleep(100);
    assert.deepEqual(
      shape(peer.chunks),
      [['puback:1', 'puback:2', 'puback:3', 'puback:4']],
      'the fifth is held',
    );
  });

  it('anything else the link writes goes after the held PUBACKs, in the same write', async (t) => {
    const peer = await brokerPeer(t);
    const link = await openLink(peer.port, new HeldAcks(5000, 4));
    t.after(() => link.drop());
    link.sendPuback(11);
    link.sendPuback(12);
    link.send({ cmd: 'pubrec', messageId: 13, reasonCode: 0 });
    await waitFor(() => peer.chunks.length > 0, 1000, 'the PUBACKs and the PUBREC');
    await sleep(50);
    assert.deepEqual(shape(peer.chunks), [['puback:11', 'puback:12', 'pubrec:13']]);
  });

  it('a goodbye writes the held PUBACKs first: DISCONNECT, a drop, a drop after flush', async (t) => {
    for (const goodbye of ['disconnect', 'drop', 'dropAfterFlush'] as const) {
      const peer = await brokerPeer(t);
      const link = await openLink(peer.port, new HeldAcks(5000, 4));
      link.sendPuback(21);
      link.sendPuback(22);
      if (goodbye === 'disconnect') link.disconnect();
      else if (goodbye === 'drop') link.drop();
      else link.dropAfterFlush();
      await peer.closed;
      const seen = shape(peer.chunks).flat();
      assert.deepEqual(
        seen,
        goodbye === 'disconnect' ? ['puback:21', 'puback:22', 'disconnect:'] : ['puback:21', 'puback:22'],
        goodbye,
      );
    }
  });

  it('a link that went down forgets what it held; a hold of 0 holds nothing', async (t) => {
    const peer = await brokerPeer(t);
    const holds = new HeldAcks(5000, 4);
    const link = await openLink(peer.port, holds);
    link.sendPuback(31);
    link.drop();
    await peer.closed;
    assert.equal(link.sendPuback(32), false, 'down: not taken');
    holds.releaseAll(); // the timer's release finds nothing to write, and does not throw

    const peer2 = await brokerPeer(t);
    const off = await openLink(peer2.port, new HeldAcks(0, 4));
    t.after(() => off.drop());
    off.sendPuback(41);
    await waitFor(() => peer2.chunks.length > 0, 1000, 'the PUBACK at once');
    assert.deepEqual(shape(peer2.chunks), [['puback:41']]);
  });

  it('through a real Mosquitto that lets one delivery be in flight, a subscriber is not held to one per hold', async (t) => {
    // max_inflight_messages 1: the broker sends the next delivery only once the PUBACK of the last one came.
    const broker = await TestMosquitto.start(t, ['max_inflight_messages 1']);
    const { orchestrator, url } = await startOrchestrator(t, [broker.url], { limits: { ackHoldMs: 50 } });
    const sub = await connectClient(t, url, { clientId: 'held-acks-one', protocolVersion: 5 });
    await sub.subscribeAsync('held/one', { qos: 1 });
    let got = 0;
    sub.on('message', () => {
      got += 1;
    });
    const pub = await connectClient(t, url, { clientId: 'held-acks-one-pub' });
    const n = 200;
    const started = performance.now();
    await Promise.all(Array.from({ length: n }, (_, i) => pub.publishAsync('held/one', `m${i}`, { qos: 1 })));
    // Held each time, 200 deliveries would take 200 × 50 ms = 10 s; the guard stops holding after 4.
    await waitFor(() => got === n, 5000, `${n} deliveries`);
    const ms = performance.now() - started;
    assert.ok(ms < 5000, `${n} deliveries in ${ms.toFixed(0)} ms`);
    // What an operator sees: PUBACKs were held, and the link stopped holding.
    const text = await orchestrator.metrics.registry.metrics();
    const value = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? -1);
    assert.ok(value('brokel_orchestrator_acks_held_total') >= 4, text);
    assert.ok(value('brokel_orchestrator_ack_hold_stops_total') >= 1);
  });

  it('through a real Mosquitto: a persistent subscriber that vanishes right after acknowledging gets nothing again', async (t) => {
    const broker = await TestMosquitto.start(t);
    // A hold far longer than the test: what gets the PUBACKs out is a release before the link's next
    // write (the session's record, written as it closes) or at its goodbye; without both it fails.
    const { url } = await startOrchestrator(t, [broker.url], { limits: { ackHoldMs: 30_000 } });
    const clientId = 'held-acks-persistent';
    const sub = await connectClient(t, url, { clientId, clean: false, protocolVersion: 4 });
    await sub.subscribeAsync('held/acks', { qos: 1 });
    const got: string[] = [];
    sub.on('message', (_topic, payload) => got.push(payload.toString()));
    const pub = await connectClient(t, url, { clientId: 'held-acks-pub' });
    for (const n of [1, 2, 3]) await pub.publishAsync('held/acks', `m${n}`, { qos: 1 });
    await waitFor(() => got.length === 3, 5000, 'three deliveries');
    await sleep(100); // MQTT.js has written its PUBACKs; the orchestrator holds them (3 < 4)
    sub.stream.destroy(); // no DISCONNECT: the session ends abruptly
    await sleep(300);
    const again: string[] = [];
    const back = await connectClient(t, url, { clientId, clean: false, protocolVersion: 4 });
    back.on('message', (_topic, payload) => again.push(payload.toString()));
    await pub.publishAsync('held/acks', 'after', { qos: 1 });
    await waitFor(() => again.includes('after'), 5000, 'the publish after the return');
    await sleep(200);
    assert.deepEqual(again, ['after'], 'the three acknowledged ones are not delivered again');
    back.end(true);
  });
});
