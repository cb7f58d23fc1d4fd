// test-lanes: shared
// Broker and client sockets read into one buffer shared by the process (framed-stream.ts `sharedReads`,
// common/net/accept-into.ts): every packet handed on, and every byte left for the next read, must
// outlive the reads of other sockets that overwrite that buffer. Real TCP sockets on loopback; the
// "broker" is a server writing chosen bytes, the "clients" are sockets writing chosen bytes.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer as createTlsServer } from 'node:tls';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { acceptInto } from '../../common/net/accept-into.ts';
import { connectBroker } from '../../common/net/broker-socket.ts';
import { FramedStream, sharedReads } from '../../orchestrator/protocol/framed-stream.ts';
import { framedHandler } from '../helpers/framed-handler.ts';
import { within } from '../helpers/resources.ts';

const V5 = { protocolVersion: 5 } as const;
const MAX = 1 << 20;

/** What a broker might send: fast-path and slow-path packets, binary properties (views when parsed). */
function brokerFrames(round: number): Buffer[] {
  const payload = Buffer.from(`delivery ${round} `.repeat(1 + (round % 7)));
  return [
    mqttPacket.generate(
      { cmd: 'publish', topic: `t/${round % 3}`, payload, qos: 0, retain: false, dup: false },
      V5,
    ),
    mqttPacket.generate(
      { cmd: 'publish', topic: 'q', payload, qos: 1, messageId: 1 + round, retain: false, dup: false },
      V5,
    ),
    mqttPacket.generate({ cmd: 'puback', messageId: 1000 + round }, V5),
    // Slow path: a property block (a subscription identifier and correlation data: a Buffer).
    mqttPacket.generate(
      {
        cmd: 'publish',
        topic: 's',
        payload,
        qos: 1,
        messageId: 2000 + round,
        retain: false,
        dup: false,
        properties: { subscriptionIdentifier: 5, correlationData: Buffer.from(`corr ${round}`) },
      },
      V5,
    ),
    // Slow path, not a PUBLISH: AUTH with its authentication data (a Buffer property).
    mqttPacket.generate(
      {
        cmd: 'auth',
        reasonCode: 0x18,
        properties: { authenticationMethod: 'm', authenticationData: Buffer.from(`auth ${round}`) },
      },
      V5,
    ),
    mqttPacket.generate({ cmd: 'suback', messageId: 3000 + round, granted: [0, 1], properties: {} }, V5),
  ];
}

/** What a client might send: CONNECT, SUBSCRIBE, AUTH (slow path), publishes and acknowledgements. */
function clientFrames(round: number): Buffer[] {
  const payload = Buffer.from(`fix ${round} `.repeat(1 + (round % 5)));
  const frames = [
    mqttPacket.generate(
      {
        cmd: 'publish',
        topic: `taxi/${round % 4}`,
        payload,
        qos: 1,
        messageId: 1 + round,
        retain: false,
        dup: false,
      },
      V5,
    ),
    mqttPacket.generate({ cmd: 'puback', messageId: 500 + round }, V5),
    mqttPacket.generate({ cmd: 'pingreq' }, V5),
    mqttPacket.generate(
      { cmd: 'subscribe', messageId: 900 + round, subscriptions: [{ topic: `s/${round}/#`, qos: 1 }] },
      V5,
    ),
    mqttPacket.generate(
      {
        cmd: 'publish',
        topic: 'r',
        payload,
        qos: 2,
        messageId: 1500 + round,
        retain: true,
        dup: false,
        properties: { correlationData: Buffer.from(`c ${round}`), userProperties: { k: `${round}` } },
      },
      V5,
    ),
    ...brokerFrames(round).slice(-2, -1), // AUTH
  ];
  if (round > 0) return frames;
  const connect = {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 5,
    clientId: 'shared-reads',
    clean: true,
    keepalive: 30,
    properties: { authenticationMethod: 'm', authenticationData: Buffer.from('hello') },
  } as const;
  return [mqttPacket.generate(connect, V5), ...frames];
}

/** The packets as mqtt-packet reads them from the whole stream, without the fast path's extra field. */
function expected(bytes: Buffer): unknown[] {
  const parser = mqttPacket.parser(V5);
  const out: unknown[] = [];
  parser.on('packet', (p: Packet) => out.push(plain(p)));
  parser.parse(bytes);
  return out;
}
const plain = (p: Packet): unknown => {
  const { raw: _raw, ...rest } = p as Packet & { raw?: unknown };
  return JSON.parse(JSON.stringify(rest));
};

/** A server whose accepted sockets the test writes to. */
async function brokerStandIn(): Promise<{ port: number; accepted: Socket[]; close(): Promise<void> }> {
  const accepted: Socket[] = [];
  const server = createServer((s) => {
    s.setNoDelay(true);
    accepted.push(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    accepted,
    async close() {
      for (const s of accepted) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A broker socket reading into the shared buffer, with the packets it handed on. */
function reader(port: number, onPacket?: (p: Packet, framed: FramedStream) => void) {
  return framedReader(connectBroker('127.0.0.1', port, undefined, sharedReads).socket, onPacket);
}

/** A socket's FramedStream, with the packets it handed on and the 'data' chunks the socket emitted. */
function framedReader(socket: Socket, onPacket?: (p: Packet, framed: FramedStream) => void) {
  const seen: Packet[] = [];
  const errors: string[] = [];
  const framed: FramedStream = new FramedStream(
    socket,
    { protocolVersion: 5, maxPacketBytes: MAX },
    framedHandler({
      packet: (p) => {
        seen.push(p);
        onPacket?.(p, framed);
      },
      error: (err) => errors.push(err.message),
    }),
  );
  // Reads into the shared buffer emit no 'data' (else this test would prove nothing about them).
  const ownChunks = { count: 0 };
  socket.on('data', () => {
    ownChunks.count += 1;
  });
  return { socket, framed, seen, errors, ownChunks };
}

/**
 * A server whose accepted sockets read into the shared buffer (acceptInto), each framed at MQTT 5, as
 * the orchestrator's listener; `onPacket` sees each accepted socket's packets.
 */
async function clientSide(onPacket?: (p: Packet, framed: FramedStream) => void) {
  const accepted: ReturnType<typeof framedReader>[] = [];
  const server = createServer((s) => accepted.push(framedReader(s, onPacket)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  assert.equal(acceptInto(server, sharedReads), true, 'a plain TCP server on this Node can be hooked');
  return { server, port: (server.address() as AddressInfo).port, accepted };
}

/** A client socket, connected. */
async function client(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port, noDelay: true });
  await once(socket, 'connect');
  return socket;
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('reads into the shared buffer', () => {
  it('packets and partial packets outlive the reads of another socket into the same buffer', async () => {
    const broker = await brokerStandIn();
    const a = reader(broker.port);
    const b = reader(broker.port);
    try {
      await until('both connected', () => broker.accepted.length === 2);
      const [toA, toB] = broker.accepted as [Socket, Socket];
      const stream = Buffer.concat(Array.from({ length: 40 }, (_, r) => Buffer.concat(brokerFrames(r))));
      // B's bytes: another stream of the same kinds, so that each of its reads overwrites A's.
      const other = Buffer.concat(Array.from({ length: 40 }, (_, r) => Buffer.concat(brokerFrames(500 + r))));
      // A's stream in pieces cut at every kind of place (inside headers, topics, properties, payloads),
      // each read by itself, and B's reads in between.
      let at = 0;
      let bAt = 0;
      for (let i = 0; at < stream.length; i++) {
        const step = 1 + ((i * 37) % 61);
        toA.write(stream.subarray(at, at + step));
        at += step;
        const bStep = 1 + ((i * 53) % 97);
        if (bAt < other.length) toB.write(other.subarray(bAt, bAt + bStep));
        bAt += bStep;
        if (i % 4 === 0) await sleep(1);
      }
      if (bAt < other.length) toB.write(other.subarray(bAt));
      const want = expected(stream);
      const wantB = expected(other);
      await until('every packet', () => a.seen.length === want.length && b.seen.length === wantB.length);
      // More reads into the buffer after the last packet was handed on: nothing kept may change.
      toB.write(Buffer.concat(brokerFrames(999)));
      await until('the last reads', () => b.seen.length === wantB.length + brokerFrames(999).length);
      assert.deepEqual(a.errors, []);
      assert.equal(a.ownChunks.count + b.ownChunks.count, 0, "no read came as a 'data' chunk");
      assert.deepEqual(a.seen.map(plain), want);
      assert.deepEqual(b.seen.slice(0, wantB.length).map(plain), wantB);
    } finally {
      a.socket.destroy();
      b.socket.destroy();
      await broker.close();
    }
  });

  it('what arrives while paused is kept through other reads, and parsed on resume', async () => {
    const broker = await brokerStandIn();
    // A pauses at its first SUBACK: the rest of that read waits, copied, while B reads.
    const a = reader(broker.port, (p, framed) => {
      if (p.cmd === 'suback' && p.messageId === 3000) framed.pause();
    });
    const b = reader(broker.port);
    try {
      await until('both connected', () => broker.accepted.length === 2);
      const [toA, toB] = broker.accepted as [Socket, Socket];
      const stream = Buffer.concat(Array.from({ length: 10 }, (_, r) => Buffer.concat(brokerFrames(r))));
      toA.write(stream);
      const perRound = brokerFrames(0).length;
      await until('A paused after its first round', () => a.seen.length >= perRound);
      await sleep(50);
      for (let r = 0; r < 30; r++) toB.write(Buffer.concat(brokerFrames(700 + r)));
      await until('B read its packets', () => b.seen.length === 30 * perRound);
      assert.equal(a.seen.length, perRound, 'nothing more while paused');
      a.framed.resume();
      const want = expected(stream);
      await until('A resumed', () => a.seen.length === want.length);
      assert.deepEqual(a.seen.map(plain), want);
    } finally {
      a.socket.destroy();
      b.socket.destroy();
      await broker.close();
    }
  });

  it('clients: sockets accepted into the shared buffer read interleaved streams, with a broker link between', async () => {
    const side = await clientSide();
    const broker = await brokerStandIn();
    const link = reader(broker.port);
    const a = await client(side.port);
    const b = await client(side.port);
    try {
      await until(
        'both accepted, the link connected',
        () => side.accepted.length === 2 && broker.accepted.length === 1,
      );
      assert.equal(
        await new Promise<number>((r, j) => side.server.getConnections((e, n) => (e ? j(e) : r(n)))),
        2,
      );
      const toLink = broker.accepted[0] as Socket;
      const streamA = Buffer.concat(Array.from({ length: 40 }, (_, r) => Buffer.concat(clientFrames(r))));
      const streamB = Buffer.concat(
        Array.from({ length: 40 }, (_, r) => Buffer.concat(clientFrames(300 + r))),
      );
      const streamL = Buffer.concat(
        Array.from({ length: 40 }, (_, r) => Buffer.concat(brokerFrames(800 + r))),
      );
      const cursors = [0, 0, 0];
      const sinks: [Socket, Buffer][] = [
        [a, streamA],
        [b, streamB],
        [toLink, streamL],
      ];
      for (let i = 0; cursors.some((c, k) => c < (sinks[k]?.[1].length ?? 0)); i++) {
        sinks.forEach(([socket, bytes], k) => {
          const at = cursors[k] ?? 0;
          const step = 1 + ((i * (31 + 12 * k)) % (53 + 20 * k));
          if (at < bytes.length) socket.write(bytes.subarray(at, at + step));
          cursors[k] = at + step;
        });
        if (i % 4 === 0) await sleep(1);
      }
      const [wantA, wantB, wantL] = [expected(streamA), expected(streamB), expected(streamL)];
      const [sa, sb] = side.accepted as [ReturnType<typeof framedReader>, ReturnType<typeof framedReader>];
      await until(
        'every packet',
        () =>
          sa.seen.length === wantA.length &&
          sb.seen.length === wantB.length &&
          link.seen.length === wantL.length,
      );
      // More reads into the buffer after the last packet was handed on: nothing kept may change.
      toLink.write(Buffer.concat(brokerFrames(999)));
      await until('the last reads', () => link.seen.length === wantL.length + brokerFrames(999).length);
      assert.deepEqual([...sa.errors, ...sb.errors], []);
      assert.equal(sa.ownChunks.count + sb.ownChunks.count, 0, "no client read came as a 'data' chunk");
      assert.deepEqual(sa.seen.map(plain), wantA);
      assert.deepEqual(sb.seen.map(plain), wantB);
      // Closing counts as Node's own accepted sockets do: the server closes once both are gone.
      a.end();
      b.destroy();
      side.server.close();
      await once(side.server, 'close');
    } finally {
      a.destroy();
      b.destroy();
      link.socket.destroy();
      side.server.close();
      await broker.close();
    }
  });

  it("clients: a stream ended while paused still reads the peer's FIN, and hands on nothing more", async () => {
    let firstPublish: FramedStream | undefined;
    const side = await clientSide((p, framed) => {
      if (p.cmd === 'publish' && firstPublish === undefined) {
        firstPublish = framed;
        framed.pause(); // as a session does between a CONNECT and its CONNACK
      }
    });
    const a = await client(side.port);
    try {
      await until('accepted', () => side.accepted.length === 1);
      const sa = side.accepted[0] as ReturnType<typeof framedReader>;
      const ended = once(sa.socket, 'end');
      a.write(Buffer.concat(clientFrames(0)));
      await until('paused at the first publish', () => firstPublish !== undefined);
      await sleep(50);
      const seen = sa.seen.length;
      firstPublish?.end();
      await sleep(20);
      a.write(Buffer.concat(clientFrames(1))); // after end(): dropped
      await sleep(20);
      firstPublish?.resume(); // as a session closed while paused may still resume: nothing is parsed
      a.end();
      // 'end' is emitted only for a FIN read from the socket (the fallback timer destroys without it).
      await within(ended, 5000, "the server side's 'end'");
      assert.equal(sa.seen.length, seen, 'nothing handed on after end()');
      await once(side.server.close(), 'close');
    } finally {
      a.destroy();
      side.server.close();
    }
  });

  it('clients: a TLS server, or one not listening, is left as it is', async () => {
    const tls = createTlsServer();
    tls.listen(0, '127.0.0.1');
    await once(tls, 'listening');
    try {
      assert.equal(acceptInto(tls, sharedReads), false, 'its raw sockets feed the TLS layer');
    } finally {
      tls.close();
    }
    assert.equal(acceptInto(createServer(), sharedReads), false, 'no listen handle yet');
  });
});
