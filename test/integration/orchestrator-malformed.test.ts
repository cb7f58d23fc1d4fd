// test-lanes: shared
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { Packet } from 'mqtt-packet';
import type { OrchestratorLimits } from '../../orchestrator/limits.ts';
import type { Orchestrator } from '../../orchestrator/orchestrator.ts';
import type { Session } from '../../orchestrator/session/session.ts';
import { fuzzCase, PINGREQ } from '../helpers/fuzz-frames.ts';
import {
  connectInMemory,
  connectPacket,
  connectTcp,
  encode,
  expectPacket,
  handshake,
  mqttString,
  nextPacket,
  Rng,
  rawPacket,
  ShadowParser,
  summary,
  varint,
  type WireConn,
  waitClosed,
  waitUntil,
  writePacket,
  writeRaw,
} from '../helpers/mqtt-wire.ts';
import { startOrchestrator } from '../helpers/orchestrator.ts';
import { connectClient, startProvider, waitFor } from '../helpers/resources.ts';

const LIMITS: Partial<OrchestratorLimits> = { connectTimeoutMs: 500, maxPacketBytes: 64 * 1024 };

/** Records uncaught exceptions and unhandled rejections while a test runs. */
function watchCrashes(t: TestContext): unknown[] {
  const seen: unknown[] = [];
  const record = (err: unknown) => seen.push(err);
  process.on('uncaughtException', record);
  process.on('unhandledRejection', record);
  t.after(() => {
    process.off('uncaughtException', record);
    process.off('unhandledRejection', record);
  });
  return seen;
}

/** A subscriber (3.1.1) and a publisher (5.0), connected through the orchestrator before any attack. */
async function innocentPair(t: TestContext, url: string) {
  const tag = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const sub = await connectClient(t, url, { clientId: `innocent-sub-${tag}`, protocolVersion: 4 });
  const pub = await connectClient(t, url, { clientId: `innocent-pub-${tag}`, protocolVersion: 5 });
  const topic = `innocent/${tag}`;
  await sub.subscribeAsync(topic, { qos: 1 });
  let closes = 0;
  for (const c of [sub, pub]) c.on('close', () => (closes += 1));
  let seq = 0;
  return {
    sub,
    pub,
    /** A QoS 1 message from the publisher reaches the subscriber, both still on their first connection. */
    async roundTrip(label: string): Promise<void> {
      assert.equal(closes, 0, `an innocent client lost its connection (${label})`);
      const payload = `${label} #${seq++}`;
      const received = messageOn(sub, (_topic, p) => p.toString() === payload, 5000, `innocent ${label}`);
      await pub.publishAsync(topic, payload, { qos: 1 });
      await received;
      assert.equal(closes, 0, `an innocent client lost its connection (${label})`);
    },
  };
}

function messageOn(
  client: MqttClient,
  match: (topic: string, payload: Buffer) => boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new Error(`no message for ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (topic: string, payload: Buffer) => {
      if (!match(topic, payload)) return;
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve();
    };
    client.on('message', onMessage);
  });
}

interface Fixture {
  orchestrator: Orchestrator;
  port: number;
  url: string;
  /** Every session the orchestrator created, in order. */
  sessions: Session[];
  /** TCP sessions by the client's port (to find the session behind a test connection). */
  byClientPort: Map<number, Session>;
  /** Upstream links each session lost (a broker closing on it: fine now and then, never in a loop). */
  linkDowns: Map<Session, number>;
  innocent: Awaited<ReturnType<typeof innocentPair>>;
  crashes: unknown[];
}

/** Mosquitto (local provider), an orchestrator in front, every session recorded, an innocent pair. */
async function fixture(t: TestContext, limits = LIMITS): Promise<Fixture> {
  const crashes = watchCrashes(t);
  const provider = await startProvider(t);
  const broker = await provider.waitReady((await provider.create('broker', 'mosquitto')).id, 10_000);
  const { orchestrator, port, url } = await startOrchestrator(t, [broker.url], { limits });
  const handle = orchestrator.handle.bind(orchestrator);
  const sessions: Session[] = [];
  const byClientPort = new Map<number, Session>();
  const linkDowns = new Map<Session, number>();
  orchestrator.handle = (stream: Duplex) => {
    const session = handle(stream);
    sessions.push(session);
    const clientPort = (stream as Duplex & { remotePort?: number }).remotePort;
    if (clientPort !== undefined) byClientPort.set(clientPort, session);
    session.observe('linkDown', () => linkDowns.set(session, (linkDowns.get(session) ?? 0) + 1));
    return session;
  };
  const innocent = await innocentPair(t, url);
  return { orchestrator, port, url, sessions, byClientPort, linkDowns, innocent, crashes };
}

interface Attacker {
  conn: WireConn;
  session: Session;
}

/** A raw connection to the orchestrator (TCP, or an in-memory pair through handle()) and its session. */
async function attacker(
  t: TestContext,
  fx: Fixture,
  options: { transport?: 'tcp' | 'memory'; version?: 3 | 4 | 5 } = {},
): Promise<Attacker> {
  if (options.transport === 'memory') {
    const { conn, server } = connectInMemory(t, (s) => fx.orchestrator.handle(s), {
      version: options.version ?? 4,
    });
    return { conn, session: server };
  }
  const conn = await connectTcp(t, fx.port, { version: options.version ?? 4 });
  const clientPort = (conn.stream as Duplex & { localPort?: number }).localPort ?? -1;
  await waitFor(() => fx.byClientPort.has(clientPort), 2000, 'the orchestrator to take the connection');
  const session = fx.byClientPort.get(clientPort);
  assert.ok(session);
  return { conn, session };
}

/** An attacker already through CONNECT/CONNACK at `version`. */
async function connected(
  t: TestContext,
  fx: Fixture,
  version: 4 | 5,
  options: { transport?: 'tcp' | 'memory'; keepalive?: number } = {},
): Promise<Attacker> {
  const a = await attacker(t, fx, { ...options, version });
  const connack = await handshake(a.conn, `attacker-${fx.sessions.length}`, version, {
    keepalive: options.keepalive ?? 0,
  });
  assert.equal(connack.reasonCode ?? connack.returnCode, 0);
  return a;
}

/**
 * The offending connection is closed, having received `expected` (e.g. a v5 DISCONNECT) and nothing
 * else since the last packet the test took; its session is closed with no upstream left; nobody
 * crashed; the innocent pair still does a QoS 1 round trip.
 */
async function assertThrownOut(
  fx: Fixture,
  a: Attacker,
  label: string,
  expected: Array<Record<string, unknown>> = [],
  timeoutMs = 3000,
): Promise<void> {
  await waitClosed(a.conn, timeoutMs).catch((err: Error) => {
    const got = JSON.stringify(a.conn.received.map(summary));
    const lost = fx.linkDowns.get(a.session) ?? 0;
    throw new Error(
      `${label}: ${err.message}; session ${a.session.state}, ${lost} upstream links lost; the client received ${got}`,
    );
  });
  assert.equal(
    a.conn.parseError?.message,
    undefined,
    `${label}: the orchestrator sent bytes a client cannot parse`,
  );
  assert.deepEqual(a.conn.queue.map(summary), expected, `${label}: packets before the close`);
  await waitFor(() => a.session.state === 'closed', 2000, `${label}: session closed`);
  assert.equal(a.session.links.size, 0, `${label}: upstream connections left open`);
  await fx.innocent.roundTrip(label);
  assert.deepEqual(fx.crashes, [], `${label}: uncaught exceptions`);
}

const disconnect = (reasonCode: number) => [{ cmd: 'disconnect', reasonCode }];

const publish = (topic: string, qos: 0 | 1 = 0, extra: Partial<Extract<Packet, { cmd: 'publish' }>> = {}) =>
  ({
    cmd: 'publish',
    topic,
    payload: Buffer.from('x'),
    qos,
    dup: false,
    retain: false,
    ...(qos > 0 ? { messageId: 7 } : {}),
    ...extra,
  }) as Extract<Packet, { cmd: 'publish' }>;

const subscribe = (topic: string): Packet => ({
  cmd: 'subscribe',
  messageId: 3,
  subscriptions: [{ topic, qos: 1 }],
});

// ---- random input ------------------------------------------------------------------------------

const FUZZ_CASES = 10_000;
const FUZZ_WORKERS = 16;
const FUZZ_BUDGET_MS = 55_000;
/** How long the server has to answer (or close) after each case before it counts as hung. */
const ANSWER_MS = 2000;

/** The answer a server owes a client packet on an open connection, as `cmd:messageId`. */
function owedAnswer(p: Packet): string | undefined {
  switch (p.cmd) {
    case 'connect':
      return 'connack:';
    case 'publish':
      return p.qos === 1 ? `puback:${p.messageId}` : p.qos === 2 ? `pubrec:${p.messageId}` : undefined;
    case 'subscribe':
      return `suback:${p.messageId}`;
    case 'unsubscribe':
      return `unsuback:${p.messageId}`;
    case 'pubrel':
      return `pubcomp:${p.messageId}`;
    default:
      return undefined;
  }
}

const answerKey = (p: Packet) => `${p.cmd}:${p.messageId ?? ''}`;

interface FuzzStats {
  cases: number;
  scripts: number;
  closedByServer: number;
  survived: number;
  failures: Array<{ kind: string; detail: Record<string, unknown> }>;
}

/**
 * One connection's script: a random transport, level and start (a valid CONNECT first, or the
 * random input instead of it), then up to 20 cases until the server closes. After each case the
 * server must either close (it must when its parser failed or a partial packet was left with the
 * stream ended), or answer a PINGREQ and everything it owes (CONNACK, PUBACK, SUBACK, …).
 */
async function fuzzScript(
  t: TestContext,
  fx: Fixture,
  seed: number,
  index: number,
  stats: FuzzStats,
): Promise<void> {
  const rng = new Rng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const version = rng.pick([4, 5] as const);
  const transport = rng.chance(0.7) ? 'tcp' : 'memory';
  const connectFirst = rng.chance(0.6);
  const caseCount = rng.range(1, 20);
  const memory =
    transport === 'memory' ? connectInMemory(t, (s) => fx.orchestrator.handle(s), {}) : undefined;
  const conn = memory?.conn ?? (await connectTcp(t, fx.port));
  const clientPort = (conn.stream as Duplex & { localPort?: number }).localPort ?? -1;
  let session = memory?.server;
  const sessionOf = () => {
    session ??= fx.byClientPort.get(clientPort);
    return session;
  };
  const shadow = new ShadowParser(fx.orchestrator.limits.maxPacketBytes);
  const owed = new Set<string>();
  const answered = new Set<string>();
  let scanned = 0;
  let pingresps = 0;
  const scan = () => {
    for (; scanned < conn.received.length; scanned++) {
      const p = conn.received[scanned];
      if (!p) continue;
      if (p.cmd === 'pingresp') pingresps += 1;
      answered.add(answerKey(p));
    }
  };
  const history: string[] = [];
  const fail = (kind: string, extra: Record<string, unknown> = {}) => {
    scan();
    const server = sessionOf();
    stats.failures.push({
      kind,
      detail: {
        seed,
        script: index,
        transport,
        version,
        connectFirst,
        cases: history,
        owed: [...owed].filter((k) => !answered.has(k)),
        received: conn.received.slice(-10).map(summary),
        clientParseError: conn.parseError?.message,
        session: server?.state,
        upstreamLinksLost: server ? (fx.linkDowns.get(server) ?? 0) : undefined,
        ...extra,
      },
    });
  };
  const send = async (bytes: Buffer, label: string) => {
    history.push(`${label}: ${bytes.toString('hex')}`);
    const fed = shadow.feed(bytes);
    for (const p of fed.packets) {
      const answer = owedAnswer(p);
      if (answer) owed.add(answer);
    }
    if (shadow.clientVersion) conn.version = shadow.clientVersion;
    await writeRaw(conn, bytes);
    sessionOf();
    return fed;
  };
  try {
    if (connectFirst) {
      await send(encode(connectPacket(`fuzz-${index}`, version), version), 'CONNECT');
    }
    let probes = 0;
    for (let i = 0; i < caseCount && !conn.closed; i++) {
      const c = fuzzCase(rng, version, String(index), !connectFirst && i === 0);
      const fed = await send(c.bytes, c.label);
      stats.cases += 1;
      if (fed.error || fed.partial) {
        // The server's parser failed (it must close), or waits for the rest of a packet: end the
        // stream, as a client that gives up would; the server must close either way.
        if (!fed.error) conn.stream.end();
        if (!(await waitUntil(conn, () => conn.closed, ANSWER_MS)))
          fail(
            fed.error
              ? `still open after a parse error (${fed.error.message})`
              : 'still open after a partial packet and end',
          );
        break;
      }
      probes += 1;
      await send(PINGREQ, 'PINGREQ');
      const settled = await waitUntil(
        conn,
        () => {
          scan();
          return conn.closed || (pingresps >= probes && [...owed].every((k) => answered.has(k)));
        },
        ANSWER_MS,
      );
      if (!settled) {
        fail(pingresps < probes ? 'no PINGRESP and no close' : 'owed answers missing, connection open', {
          last: c.label,
        });
        break;
      }
    }
    if (conn.parseError) fail('the server sent bytes the client cannot parse');
    if (conn.closed) stats.closedByServer += 1;
    else stats.survived += 1;
  } finally {
    conn.stream.destroy();
    stats.scripts += 1;
  }
}

describe('orchestrator: malformed and hostile clients lose their own connection, nobody else notices', () => {
  it('closes connections that break the protocol', async (t) => {
    const fx = await fixture(t);

    await t.test('random bytes as the first packet', async (t) => {
      const rng = new Rng(0x5eed);
      for (const [i, transport] of (['tcp', 'memory', 'tcp', 'memory', 'tcp', 'memory'] as const).entries()) {
        const a = await attacker(t, fx, { transport });
        // Never a CONNECT's first byte, so the outcome does not depend on the draw.
        const bytes = rng.bytes(rng.range(1, 300));
        if (((bytes[0] ?? 0) & 0xf0) === 0x10) bytes[0] = 0x00;
        await writeRaw(a.conn, bytes);
        await assertThrownOut(
          fx,
          a,
          `random bytes ${i} over ${transport}`,
          [],
          (LIMITS.connectTimeoutMs ?? 0) + 3000,
        );
      }
    });

    for (const [name, packet] of [
      ['PUBLISH', publish('a/b', 1)],
      ['SUBSCRIBE', subscribe('a/#')],
      ['PINGREQ', { cmd: 'pingreq' }],
    ] as Array<[string, Packet]>) {
      await t.test(`a ${name} before CONNECT closes the connection [MQTT-3.1.0-1]`, async (t) => {
        const a = await attacker(t, fx);
        await writePacket(a.conn, packet);
        await assertThrownOut(fx, a, `${name} before CONNECT`);
      });
    }

    await t.test('a second CONNECT closes the connection [MQTT-3.1.0-2]', async (t) => {
      const v4 = await connected(t, fx, 4);
      await writePacket(v4.conn, connectPacket('second-v4', 4));
      await assertThrownOut(fx, v4, 'second CONNECT (3.1.1)');
      const v5 = await connected(t, fx, 5);
      await writePacket(v5.conn, connectPacket('second-v5', 5));
      await assertThrownOut(fx, v5, 'second CONNECT (5.0)', disconnect(0x82));
      for (const version of [4, 5] as const) {
        // Both in one write: packets are handled in order, so the first gets its CONNACK (the client
        // is not read while it is being connected upstream), then the second closes the connection.
        const a = await attacker(t, fx, { version });
        const first = encode(connectPacket(`merged-${version}`, version), version);
        await writeRaw(a.conn, Buffer.concat([first, encode(connectPacket('again', version), version)]));
        const connack = version === 5 ? { cmd: 'connack', reasonCode: 0 } : { cmd: 'connack', returnCode: 0 };
        const after = version === 5 ? [connack, ...disconnect(0x82)] : [connack];
        await assertThrownOut(fx, a, `second CONNECT merged with the first (v${version})`, after);
      }
    });

    await t.test('a CONNECT cut in the middle, then the socket ended', async (t) => {
      for (const transport of ['tcp', 'memory'] as const) {
        const a = await attacker(t, fx, { transport });
        const bytes = encode(connectPacket('cut-short', 4, { username: 'u', password: Buffer.from('p') }), 4);
        await writeRaw(a.conn, bytes.subarray(0, Math.floor(bytes.length / 2)));
        a.conn.stream.end();
        await assertThrownOut(fx, a, `truncated CONNECT over ${transport}`);
      }
    });

    await t.test('a partial packet then silence: the connect timeout closes it', async (t) => {
      const a = await attacker(t, fx);
      const bytes = encode(connectPacket('silent', 4), 4);
      const started = Date.now();
      await writeRaw(a.conn, bytes.subarray(0, 5));
      await waitClosed(a.conn, 3000);
      const elapsed = (a.conn.closedAtMs ?? Date.now()) - started;
      assert.ok(elapsed >= (LIMITS.connectTimeoutMs ?? 0) - 50, `closed after ${elapsed} ms`);
      await assertThrownOut(fx, a, 'partial CONNECT then silence');
    });

    await t.test(
      'a partial packet after CONNECT then silence: keepalive closes it [MQTT-3.1.2-24]',
      async (t) => {
        const a = await connected(t, fx, 5, { keepalive: 1 });
        await writeRaw(a.conn, encode(publish('half/way', 1), 5).subarray(0, 4));
        await assertThrownOut(fx, a, 'partial PUBLISH then silence', disconnect(0x8d), 4000);
      },
    );

    await t.test(
      'a remaining length above maxPacketBytes closes at the header, not after buffering',
      async (t) => {
        const announced = 1024 * 1024; // 16 × the limit
        for (const version of [4, 5] as const) {
          const a = version === 4 ? await attacker(t, fx) : await connected(t, fx, 5);
          const header = Buffer.concat([Buffer.from([0x30]), varint(announced)]);
          let sent = 0;
          // Stream the body in 4 KiB writes until the orchestrator hangs up; it must not wait for it all.
          for (let chunk = header; sent < announced && !a.conn.closed; chunk = Buffer.alloc(4096, 0x61)) {
            if (!(await writeRaw(a.conn, chunk))) break;
            sent += chunk.length;
            await new Promise((resolve) => setImmediate(resolve));
          }
          await assertThrownOut(fx, a, `oversized (v${version})`, version === 5 ? disconnect(0x95) : []);
          assert.ok(sent < announced / 2, `sent ${sent} of ${announced} bytes before the close`);
        }
      },
    );

    await t.test('a complete packet above maxPacketBytes in one read is refused too', async (t) => {
      // An in-memory stream (like a WebSocket message) hands the whole packet over in one chunk.
      const a = await connected(t, fx, 5, { transport: 'memory' });
      const big = publish('big/one', 1, { payload: Buffer.alloc(100 * 1024, 0x62) });
      await writePacket(a.conn, big);
      await assertThrownOut(fx, a, 'oversized in one chunk', disconnect(0x95));
    });

    await t.test('a remaining length with 5 continuation bytes is malformed', async (t) => {
      const bad = Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x01, 0x61]);
      const v4 = await attacker(t, fx);
      await writeRaw(v4.conn, bad);
      await assertThrownOut(fx, v4, 'bad varint before CONNECT');
      const v5 = await connected(t, fx, 5);
      await writeRaw(v5.conn, bad);
      await assertThrownOut(fx, v5, 'bad varint (v5)', disconnect(0x81));
    });

    await t.test('reserved header flags and QoS 3 are malformed [MQTT-2.2.2-2] [MQTT-3.3.1-4]', async (t) => {
      const subscribeFlags0 = Buffer.from(encode(subscribe('a/b'), 5));
      subscribeFlags0[0] = 0x80;
      const qos3 = Buffer.from(encode(publish('a/b', 1), 5));
      qos3[0] = 0x36;
      for (const [name, bytes] of [
        ['SUBSCRIBE with flags 0000', subscribeFlags0],
        ['PUBLISH with QoS 3', qos3],
      ] as const) {
        const a = await connected(t, fx, 5);
        await writeRaw(a.conn, bytes);
        await assertThrownOut(fx, a, name, disconnect(0x81));
      }
    });

    await t.test('a PUBLISH with a wildcard in its topic name [MQTT-3.3.2-2]', async (t) => {
      for (const topic of ['a/+/b', 'a/#', '#']) {
        for (const version of [4, 5] as const) {
          const a = await connected(t, fx, version);
          await writePacket(a.conn, publish(topic, 1));
          await assertThrownOut(
            fx,
            a,
            `PUBLISH to ${topic} (v${version})`,
            version === 5 ? disconnect(0x90) : [],
          );
        }
      }
    });

    await t.test('a PUBLISH whose topic is ill-formed UTF-8 (0xC3 0x28) [MQTT-1.5.3-1]', async (t) => {
      for (const version of [4, 5] as const) {
        const a = await connected(t, fx, version);
        const topic = mqttString(Buffer.from([0x61, 0x2f, 0xc3, 0x28]));
        const body = Buffer.concat([
          topic,
          version === 5 ? Buffer.from([0]) : Buffer.alloc(0),
          Buffer.from('x'),
        ]);
        await writeRaw(a.conn, rawPacket(0x30, body));
        await assertThrownOut(
          fx,
          a,
          `ill-formed UTF-8 topic (v${version})`,
          version === 5 ? disconnect(0x90) : [],
        );
      }
    });

    await t.test('a SUBSCRIBE with a malformed filter [MQTT-4.7.1-2] [MQTT-4.7.1-3]', async (t) => {
      for (const filter of ['a/#/b', 'a/b#', 'a+/b']) {
        for (const version of [4, 5] as const) {
          const a = await connected(t, fx, version);
          await writePacket(a.conn, subscribe(filter));
          await assertThrownOut(
            fx,
            a,
            `SUBSCRIBE ${filter} (v${version})`,
            version === 5 ? disconnect(0x8f) : [],
          );
        }
      }
    });

    await t.test(
      'a SUBSCRIBE or UNSUBSCRIBE with no topic filter [MQTT-3.8.3-3] [MQTT-3.10.3-2]',
      async (t) => {
        for (const [name, firstByte] of [
          ['SUBSCRIBE', 0x82],
          ['UNSUBSCRIBE', 0xa2],
        ] as const) {
          for (const version of [4, 5] as const) {
            const a = await connected(t, fx, version);
            const body = Buffer.concat([
              Buffer.from([0, 9]),
              version === 5 ? Buffer.from([0]) : Buffer.alloc(0),
            ]);
            await writeRaw(a.conn, rawPacket(firstByte, body));
            await assertThrownOut(
              fx,
              a,
              `${name} without filters (v${version})`,
              version === 5 ? disconnect(0x82) : [],
            );
          }
        }
      },
    );

    await t.test(
      'v5 topic aliases: set and used work; 0 and above the maximum close [MQTT-3.3.2-8]',
      async (t) => {
        const a = await connected(t, fx, 5);
        await writePacket(a.conn, publish('alias/topic', 1, { messageId: 1, properties: { topicAlias: 1 } }));
        assert.equal((await expectPacket(a.conn, 'puback', 3000)).messageId, 1);
        await writePacket(a.conn, publish('', 1, { messageId: 2, properties: { topicAlias: 1 } }));
        assert.equal((await expectPacket(a.conn, 'puback', 3000)).messageId, 2);
        await writePacket(a.conn, publish('alias/zero', 1, { messageId: 3, properties: { topicAlias: 0 } }));
        await assertThrownOut(fx, a, 'topic alias 0', disconnect(0x94));
        const max = fx.orchestrator.limits.topicAliasMaximum;
        const b = await connected(t, fx, 5);
        await writePacket(b.conn, publish('alias/high', 1, { properties: { topicAlias: max + 1 } }));
        await assertThrownOut(fx, b, `topic alias ${max + 1}`, disconnect(0x94));
      },
    );

    await t.test(
      'an AUTH from a v5 client: DISCONNECT with a valid reason code (0x82), then close',
      async (t) => {
        // The client gave no Authentication Method in CONNECT, so AUTH is a Protocol Error (MQTT 5.0 §4.12).
        const a = await connected(t, fx, 5);
        await writePacket(a.conn, {
          cmd: 'auth',
          reasonCode: 0x18,
          properties: { authenticationMethod: 'x' },
        });
        await assertThrownOut(fx, a, 'AUTH', disconnect(0x82));
      },
    );

    await t.test(
      'ill-formed UTF-8 (0xC3 0x28) in a v5 Content Type is malformed [MQTT-1.5.4-1]',
      async (t) => {
        // mqtt-packet decodes it to U+FFFD '(' without a word; a broker would get other bytes.
        const property = Buffer.concat([Buffer.from([0x03]), mqttString(Buffer.from([0xc3, 0x28]))]);
        const properties = Buffer.concat([Buffer.from([property.length]), property]);
        const a = await connected(t, fx, 5);
        await writeRaw(
          a.conn,
          rawPacket(0x32, Buffer.concat([mqttString('ill/formed'), Buffer.from([0, 5]), properties])),
        );
        await assertThrownOut(fx, a, 'ill-formed UTF-8 in a Content Type', disconnect(0x81));
      },
    );

    await t.test('U+0000 in a v5 User Property is malformed [MQTT-1.5.4-2]', async (t) => {
      const a = await connected(t, fx, 5);
      await writePacket(
        a.conn,
        publish('nul/prop', 1, { properties: { userProperties: { 'k\u0000': 'v' } } }),
      );
      await assertThrownOut(fx, a, 'U+0000 in a User Property', disconnect(0x81));
    });

    await t.test('a PUBREL or PUBACK without a packet identifier is malformed [MQTT-2.3.1-1]', async (t) => {
      // mqtt-packet parses `62 00` as PUBREL with messageId -1. The PINGREQ after it shows whether the
      // client's stream is still framed right afterwards.
      for (const [name, firstByte] of [
        ['PUBREL', 0x62],
        ['PUBACK', 0x40],
      ] as const) {
        for (const version of [4, 5] as const) {
          const a = await connected(t, fx, version);
          await writeRaw(
            a.conn,
            Buffer.concat([Buffer.from([firstByte, 0]), encode({ cmd: 'pingreq' }, version)]),
          );
          await assertThrownOut(
            fx,
            a,
            `${name} without an id (v${version})`,
            version === 5 ? disconnect(0x81) : [],
          );
        }
      }
    });

    await t.test('a v5 User Property cut short (its name runs past the packet) is malformed', async (t) => {
      // Properties `26 04 01`: a User Property whose name claims 1025 bytes; mqtt-packet yields
      // { null: null } without an error.
      const properties = Buffer.from([3, 0x26, 0x04, 0x01]);
      const a = await connected(t, fx, 5);
      await writeRaw(
        a.conn,
        rawPacket(
          0x32,
          Buffer.concat([mqttString('cut/short'), Buffer.from([0, 1]), properties, Buffer.from('p')]),
        ),
      );
      await assertThrownOut(fx, a, 'User Property cut short', disconnect(0x81));
    });

    await t.test('a PUBLISH its broker closes on is answered or closed, not re-sent in a loop', async (t) => {
      // U+0001 in a Content Type: [MQTT-1.5.4-2] lets a receiver treat it as malformed, and Mosquitto
      // drops the connection. Whatever the orchestrator decides, the client must not wait forever
      // while its upstream is reconnected and the publish re-sent, nor have its will fire meanwhile.
      const tag = `${process.pid}-${fx.sessions.length}`;
      const watcher = await connectClient(t, fx.url, { clientId: `will-watcher-${tag}` });
      await watcher.subscribeAsync(`will/${tag}`, { qos: 1 });
      let willAt: number | undefined;
      watcher.on('message', () => {
        willAt ??= Date.now();
      });
      const a = await attacker(t, fx, { version: 5 });
      const will = { topic: `will/${tag}`, payload: Buffer.from('gone'), qos: 1 as const, retain: false };
      await handshake(a.conn, `poison-${tag}`, 5, { will });
      await writePacket(a.conn, publish('poison/t', 1, { properties: { contentType: '\u0001' } }));
      const answered = () => a.conn.queue.some((p) => p.cmd === 'puback');
      await waitUntil(a.conn, () => a.conn.closed || answered(), 3000);
      const lost = fx.linkDowns.get(a.session) ?? 0;
      const problems = [
        ...(a.conn.closed || answered() ? [] : ['no PUBACK and no close within 3 s']),
        ...(lost > 1 ? [`${lost} upstream links lost: the publish is re-sent in a reconnect loop`] : []),
        ...(willAt !== undefined && willAt < (a.conn.closedAtMs ?? Date.now())
          ? ['the will was published while the client was still connected']
          : []),
      ];
      assert.deepEqual(problems, [], `the client received ${JSON.stringify(a.conn.received.map(summary))}`);
      await fx.innocent.roundTrip('after the poison publish');
    });

    await t.test('CONNECT, SUBSCRIBE and PUBLISH merged in one write all work', async (t) => {
      for (const version of [4, 5] as const) {
        const a = await attacker(t, fx, { version, transport: version === 4 ? 'tcp' : 'memory' });
        const topic = `merged/${version}`;
        a.conn.version = version;
        await writeRaw(
          a.conn,
          Buffer.concat([
            encode(connectPacket(`merged-ok-${version}`, version), version),
            encode(subscribe(topic), version),
            encode(publish(topic, 1, { messageId: 11, payload: Buffer.from('merged') }), version),
          ]),
        );
        const connack = await expectPacket(a.conn, 'connack', 5000);
        assert.equal(connack.reasonCode ?? connack.returnCode, 0);
        const rest = [
          await nextPacket(a.conn, 5000),
          await nextPacket(a.conn, 5000),
          await nextPacket(a.conn, 5000),
        ];
        const byCmd = new Map(rest.map((p) => [p.cmd, p]));
        assert.deepEqual((byCmd.get('suback') as { granted?: unknown })?.granted, [1]);
        assert.equal(byCmd.get('puback')?.messageId, 11);
        const delivery = byCmd.get('publish') as Extract<Packet, { cmd: 'publish' }> | undefined;
        assert.equal(delivery?.topic, topic);
        assert.equal(delivery?.payload.toString(), 'merged');
        assert.equal(a.conn.closed, false);
      }
      await fx.innocent.roundTrip('after merged packets');
    });

    await t.test('CONNECT and a QoS 1 PUBLISH delivered one byte per write: PUBACK arrives', async (t) => {
      for (const transport of ['memory', 'tcp'] as const) {
        for (const version of [4, 5] as const) {
          const a = await attacker(t, fx, { transport, version });
          a.conn.version = version;
          await writeRaw(
            a.conn,
            encode(connectPacket(`bytewise-${transport}-${version}`, version), version),
            1,
          );
          const connack = await expectPacket(a.conn, 'connack', 5000);
          assert.equal(connack.reasonCode ?? connack.returnCode, 0);
          const bytes = encode(
            publish('bytewise/t', 1, { messageId: 42, payload: Buffer.from('slow') }),
            version,
          );
          await writeRaw(a.conn, bytes, 1);
          assert.equal((await expectPacket(a.conn, 'puback', 5000)).messageId, 42);
        }
      }
      await fx.innocent.roundTrip('after byte-by-byte packets');
    });

    assert.deepEqual(fx.crashes, []);
    await fx.innocent.roundTrip('at the end');
  });

  it(`survives ${FUZZ_CASES} random and mutated inputs, before and after CONNECT`, async (t) => {
    const fx = await fixture(t);
    const seed = Number(process.env.FUZZ_SEED ?? 0x00c0ffee) >>> 0;
    t.diagnostic(`fuzz seed ${seed} (reproduce with FUZZ_SEED=${seed})`);
    const sessionsBefore = fx.sessions.length;
    const stats: FuzzStats = { cases: 0, scripts: 0, closedByServer: 0, survived: 0, failures: [] };
    const started = Date.now();
    let next = 0;
    const worker = async () => {
      while (stats.cases < FUZZ_CASES && Date.now() - started < FUZZ_BUDGET_MS) {
        await fuzzScript(t, fx, seed, next++, stats);
      }
    };
    await Promise.all(Array.from({ length: FUZZ_WORKERS }, worker));
    const seconds = (Date.now() - started) / 1000;
    t.diagnostic(
      `${stats.cases} cases over ${stats.scripts} connections in ${seconds.toFixed(1)} s: ` +
        `${stats.closedByServer} closed by the orchestrator, ${stats.survived} still open at the end; ` +
        `${[...fx.linkDowns.values()].reduce((a, b) => a + b, 0)} upstream links lost meanwhile`,
    );
    const kinds = new Map<string, number>();
    for (const f of stats.failures) kinds.set(f.kind, (kinds.get(f.kind) ?? 0) + 1);
    for (const [kind, n] of kinds) {
      const example = stats.failures.find((f) => f.kind === kind);
      t.diagnostic(`FAILURE ×${n}: ${kind}; first: ${JSON.stringify(example?.detail)}`);
    }
    // The orchestrator itself is fine: every attacking session is gone, upstreams included; a new
    // client connects and does a QoS 1 round trip; the innocent pair, connected all along, still works.
    const attackers = fx.sessions.slice(sessionsBefore);
    await waitFor(() => attackers.every((s) => s.state === 'closed'), 5000, 'every fuzz session to close');
    assert.equal(attackers.filter((s) => s.links.size > 0).length, 0, 'fuzz sessions with upstreams left');
    const fresh = await connectClient(t, fx.url, { clientId: `after-fuzz-${process.pid}` });
    await fresh.subscribeAsync('after/fuzz', { qos: 1 });
    const got = messageOn(fresh, (topic) => topic === 'after/fuzz', 5000, 'a new client after the fuzz');
    await fresh.publishAsync('after/fuzz', 'ok', { qos: 1 });
    await got;
    await fx.innocent.roundTrip('after the random input');
    assert.equal(
      fx.orchestrator.status().sessions,
      3,
      'connected sessions: the innocent pair and the new client',
    );
    assert.deepEqual(fx.crashes, [], 'uncaught exceptions during the random input');
    assert.ok(stats.cases >= FUZZ_CASES, `only ${stats.cases} cases in ${FUZZ_BUDGET_MS} ms`);
    // Last, so that the checks above run anyway: each kind of misbehaviour seen (details above).
    assert.deepEqual([...kinds.keys()], [], `random-input failures, seed ${seed}`);
  });
});
