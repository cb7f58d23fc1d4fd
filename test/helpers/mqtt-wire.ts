import { EventEmitter } from 'node:events';
import { connect as netConnect } from 'node:net';
import { Duplex } from 'node:stream';
import type { TestContext } from 'node:test';
import mqttPacket, { type Packet } from 'mqtt-packet';

/**
 * Protocol-test helpers in the style of aedes' tests: a raw MQTT connection (a real TCP socket, or
 * one end of an in-memory Duplex pair handed to `handle(stream)`), whose incoming bytes are parsed
 * with mqtt-packet's stream parser at the connection's protocol level, and whose outgoing bytes are
 * whatever the test writes (generated packets, or raw malformed bytes).
 */
export class WireConn {
  /** Packets received and not yet taken by `nextPacket`. */
  readonly queue: Packet[] = [];
  /** Every packet received, in order. */
  readonly received: Packet[] = [];
  /** Set when what the peer sent could not be parsed. */
  parseError: Error | undefined;
  /** Transport errors seen (ECONNRESET and the like: a peer that closes is expected in these tests). */
  readonly errors: Error[] = [];
  /** The peer ended the connection or the stream closed. */
  closed = false;
  /** Date.now() when `closed` became true. */
  closedAtMs: number | undefined;
  readonly events = new EventEmitter();
  private readonly parser: ReturnType<typeof mqttPacket.parser>;
  private level: 3 | 4 | 5;

  constructor(
    t: TestContext,
    readonly stream: Duplex,
    version: 3 | 4 | 5,
  ) {
    this.level = version;
    this.parser = mqttPacket.parser({ protocolVersion: version });
    this.parser.on('packet', (packet: Packet) => {
      this.queue.push(packet);
      this.received.push(packet);
      this.events.emit('packet');
    });
    this.parser.on('error', (err: Error) => {
      this.parseError ??= err;
    });
    stream.on('data', (chunk: Buffer) => {
      if (this.parseError === undefined) this.parser.parse(chunk);
    });
    stream.on('end', () => this.onClosed());
    stream.on('close', () => this.onClosed());
    stream.on('error', (err: Error) => this.errors.push(err));
    t.after(() => {
      stream.destroy();
    });
  }

  /** Protocol level used to parse what arrives and to generate what `writePacket` sends. */
  get version(): 3 | 4 | 5 {
    return this.level;
  }

  set version(v: 3 | 4 | 5) {
    this.level = v;
    // mqtt-packet's parser reads its level from `settings` at each packet.
    (this.parser as unknown as { settings: { protocolVersion: number } }).settings.protocolVersion = v;
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.closedAtMs = Date.now();
    this.events.emit('closed');
  }
}

/** A raw TCP connection to host:port, destroyed at teardown. */
export async function connectTcp(
  t: TestContext,
  port: number,
  options: { host?: string; version?: 3 | 4 | 5 } = {},
): Promise<WireConn> {
  const socket = netConnect({ host: options.host ?? '127.0.0.1', port, noDelay: true });
  const conn = new WireConn(t, socket, options.version ?? 4);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve();
    });
    socket.once('error', reject);
  });
  return conn;
}

/**
 * Two connected Duplexes (Node 20 has no `stream.duplexPair`): what one side writes the other reads,
 * each write arriving as its own chunk; ending one side ends the other's readable side; destroying
 * one side ends the other, which then closes (allowHalfOpen off, like a socket).
 */
export function duplexPair(): [Duplex, Duplex] {
  const sides: Duplex[] = [];
  const eof = [false, false];
  const endOf = (i: number) => {
    if (eof[i]) return;
    eof[i] = true;
    const side = sides[i];
    if (side && !side.destroyed) side.push(null);
  };
  const make = (self: 0 | 1): Duplex => {
    const peer = self === 0 ? 1 : 0;
    return new Duplex({
      allowHalfOpen: false,
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        // Like TCP, bytes written towards a peer that is gone vanish without an error here.
        const other = sides[peer];
        if (other && !other.destroyed && !eof[peer]) other.push(Buffer.from(chunk));
        callback();
      },
      final(callback) {
        endOf(peer);
        callback();
      },
      destroy(err, callback) {
        endOf(peer);
        callback(err);
      },
    });
  };
  sides.push(make(0), make(1));
  return [sides[0] as Duplex, sides[1] as Duplex];
}

/**
 * An in-memory connection: one end of a duplex pair goes to `handle` (e.g. `orchestrator.handle`),
 * the other is the returned test connection. Both ends are destroyed at teardown.
 */
export function connectInMemory<S>(
  t: TestContext,
  handle: (stream: Duplex) => S,
  options: { version?: 3 | 4 | 5 } = {},
): { conn: WireConn; server: S } {
  const [client, serverSide] = duplexPair();
  const conn = new WireConn(t, client, options.version ?? 4);
  t.after(() => {
    serverSide.destroy();
  });
  return { conn, server: handle(serverSide) };
}

/** The next packet from the peer; rejects after timeoutMs or when the peer closed with none left. */
export function nextPacket(conn: WireConn, timeoutMs: number): Promise<Packet> {
  return new Promise((resolve, reject) => {
    const take = (): boolean => {
      const packet = conn.queue.shift();
      if (packet) {
        done();
        resolve(packet);
        return true;
      }
      if (conn.closed) {
        done();
        reject(new Error(`connection closed with no packet${describeParseError(conn)}`));
        return true;
      }
      return false;
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no packet within ${timeoutMs} ms${describeParseError(conn)}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      conn.events.off('packet', take);
      conn.events.off('closed', take);
    };
    if (take()) return;
    conn.events.on('packet', take);
    conn.events.on('closed', take);
  });
}

/** The next packet, which must be a `cmd`; typed accordingly. */
export async function expectPacket<C extends Packet['cmd']>(
  conn: WireConn,
  cmd: C,
  timeoutMs: number,
): Promise<Extract<Packet, { cmd: C }>> {
  const packet = await nextPacket(conn, timeoutMs);
  if (packet.cmd !== cmd) throw new Error(`expected ${cmd}, got ${JSON.stringify(summary(packet))}`);
  return packet as Extract<Packet, { cmd: C }>;
}

/** Resolves when no packet arrives within ms (a close is fine); rejects with the packet otherwise. */
export function expectNoPacket(conn: WireConn, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const first = conn.queue[0];
    if (first) {
      reject(new Error(`unexpected packet ${JSON.stringify(summary(first))}`));
      return;
    }
    const onPacket = () => {
      clearTimeout(timer);
      const packet = conn.queue[0];
      reject(new Error(`unexpected packet ${JSON.stringify(packet ? summary(packet) : undefined)}`));
    };
    const timer = setTimeout(() => {
      conn.events.off('packet', onPacket);
      resolve();
    }, ms);
    conn.events.once('packet', onPacket);
  });
}

/** Resolves when the peer closed the connection; rejects after timeoutMs. */
export function waitClosed(conn: WireConn, timeoutMs: number): Promise<void> {
  if (conn.closed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      conn.events.off('closed', onClosed);
      reject(new Error(`connection still open after ${timeoutMs} ms`));
    }, timeoutMs);
    const onClosed = () => {
      clearTimeout(timer);
      resolve();
    };
    conn.events.once('closed', onClosed);
  });
}

/** The bytes of one packet at a protocol level (mqtt-packet's generator). */
export function encode(packet: Packet, version: 3 | 4 | 5): Buffer {
  return mqttPacket.generate(packet, { protocolVersion: version });
}

/**
 * Writes one packet, generated at `version` (default: the connection's). Writing a CONNECT switches
 * the connection's level to the CONNECT's.
 */
export function writePacket(conn: WireConn, packet: Packet, version?: 3 | 4 | 5): Promise<boolean> {
  const bytes = encode(packet, version ?? conn.version);
  if (packet.cmd === 'connect') conn.version = (packet.protocolVersion ?? 4) as 3 | 4 | 5;
  return writeRaw(conn, bytes);
}

/**
 * Writes raw bytes, in one write or `chunkSize` bytes per write (each write its own chunk on an
 * in-memory pair; a macrotask between writes). Resolves false if the stream refused them.
 */
export async function writeRaw(
  conn: WireConn,
  bytes: Uint8Array,
  chunkSize = bytes.length,
): Promise<boolean> {
  const size = Math.max(1, chunkSize);
  for (let at = 0; at < bytes.length; at += size) {
    if (at > 0) await new Promise((resolve) => setImmediate(resolve));
    const ok = await new Promise<boolean>((resolve) => {
      if (conn.stream.destroyed || conn.stream.writableEnded) return resolve(false);
      conn.stream.write(Buffer.from(bytes.subarray(at, at + size)), (err) => resolve(!err));
    });
    if (!ok) return false;
  }
  return true;
}

/** A CONNECT and its CONNACK: resolves the CONNACK (whatever its code). */
export async function handshake(
  conn: WireConn,
  clientId: string,
  version: 4 | 5,
  extra: Partial<Extract<Packet, { cmd: 'connect' }>> = {},
  timeoutMs = 5000,
): Promise<Extract<Packet, { cmd: 'connack' }>> {
  await writePacket(conn, connectPacket(clientId, version, extra));
  return expectPacket(conn, 'connack', timeoutMs);
}

export function connectPacket(
  clientId: string,
  version: 3 | 4 | 5,
  extra: Partial<Extract<Packet, { cmd: 'connect' }>> = {},
): Extract<Packet, { cmd: 'connect' }> {
  return {
    cmd: 'connect',
    protocolId: version === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: version,
    clientId,
    clean: true,
    keepalive: 0,
    ...extra,
  };
}

/** MQTT's variable byte integer (the remaining length) for n. */
export function varint(n: number): Buffer {
  const out: number[] = [];
  let rest = n;
  do {
    let byte = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) byte |= 0x80;
    out.push(byte);
  } while (rest > 0);
  return Buffer.from(out);
}

/** A fixed header (first byte, remaining length) followed by a body: any packet, well-formed or not. */
export function rawPacket(firstByte: number, body: Uint8Array, remainingLength = body.length): Buffer {
  return Buffer.concat([Buffer.from([firstByte]), varint(remainingLength), body]);
}

/** An MQTT string: 2-byte length then the bytes (which need not be valid UTF-8). */
export function mqttString(bytes: Uint8Array | string): Buffer {
  const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/** A short description of a packet for failure messages (no payloads). */
export function summary(packet: Packet): Record<string, unknown> {
  const p = packet as Packet & {
    reasonCode?: number;
    returnCode?: number;
    topic?: string;
    granted?: unknown;
  };
  return {
    cmd: p.cmd,
    ...(p.messageId !== undefined ? { messageId: p.messageId } : {}),
    ...(p.reasonCode !== undefined ? { reasonCode: p.reasonCode } : {}),
    ...(p.returnCode !== undefined ? { returnCode: p.returnCode } : {}),
    ...(typeof p.topic === 'string' ? { topic: p.topic } : {}),
    ...(p.granted !== undefined ? { granted: p.granted } : {}),
  };
}

function describeParseError(conn: WireConn): string {
  return conn.parseError ? ` (unparseable bytes from the peer: ${conn.parseError.message})` : '';
}

/** Resolves true once predicate() holds (checked at each packet and at close), false after timeoutMs. */
export function waitUntil(conn: WireConn, predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  if (predicate()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const check = () => {
      if (!predicate()) return;
      done();
      resolve(true);
    };
    const timer = setTimeout(() => {
      done();
      resolve(false);
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      conn.events.off('packet', check);
      conn.events.off('closed', check);
    };
    conn.events.on('packet', check);
    conn.events.on('closed', check);
  });
}

// ---- random input ------------------------------------------------------------------------------

/** A seeded pseudo-random source (mulberry32): the same seed gives the same sequence. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let x = this.state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

export type Mutation = 'flip' | 'truncate' | 'length' | 'insert' | 'delete' | 'byte' | 'header';

/** One random mutation of a packet's bytes: bit flips, truncation, a changed length, bytes in or out. */
export function mutate(bytes: Buffer, rng: Rng): { bytes: Buffer; how: Mutation } {
  const how = rng.pick<Mutation>([
    'flip',
    'flip',
    'truncate',
    'length',
    'length',
    'insert',
    'delete',
    'byte',
    'header',
  ]);
  const out = Buffer.from(bytes);
  switch (how) {
    case 'flip': {
      const flips = rng.range(1, 4);
      for (let i = 0; i < flips; i++) {
        const at = rng.int(out.length);
        out[at] = (out[at] ?? 0) ^ (1 << rng.int(8));
      }
      return { bytes: out, how };
    }
    case 'truncate':
      return { bytes: out.subarray(0, rng.int(Math.max(1, out.length))), how };
    case 'length': {
      const header = fixedHeader(out);
      const body = out.subarray(typeof header === 'object' ? header.headerBytes : 2);
      const length = rng.pick([
        0,
        Math.max(0, body.length - rng.range(1, 4)),
        body.length + rng.range(1, 4),
        rng.int(256),
        rng.int(0x0fff_ffff),
      ]);
      return { bytes: Buffer.concat([out.subarray(0, 1), varint(length), body]), how };
    }
    case 'insert': {
      const at = rng.int(out.length + 1);
      return {
        bytes: Buffer.concat([out.subarray(0, at), rng.bytes(rng.range(1, 8)), out.subarray(at)]),
        how,
      };
    }
    case 'delete': {
      const at = rng.int(out.length);
      return { bytes: Buffer.concat([out.subarray(0, at), out.subarray(at + rng.range(1, 8))]), how };
    }
    case 'byte':
      out[rng.int(out.length)] = rng.int(256);
      return { bytes: out, how };
    case 'header':
      out[0] = rng.int(256);
      return { bytes: out, how };
  }
}

const FUZZ_FILTERS = ['fuzz/s/#', 'fuzz/s/+', 'fuzz/s/1', 'fuzz/x/#', 'fuzz/+/+/z'];

/**
 * A well-formed packet a client could send (and a few it should not: CONNACK, SUBACK, PINGRESP, AUTH),
 * with random fields. Publishes mostly go to topics nobody subscribes to (`fuzz/p/…`), so brokers do
 * not pile up copies; a tenth go to `fuzz/s/…`, which the random subscriptions match.
 */
export function randomPacket(rng: Rng, version: 4 | 5, tag: string, withConnect = false): Packet {
  const id = rng.chance(0.5) ? rng.range(1, 5) : rng.range(0, 65_535);
  const v5 = version === 5;
  const kinds = [
    'publish',
    'publish',
    'publish',
    'publish',
    'subscribe',
    'subscribe',
    'unsubscribe',
    'puback',
    'pubrec',
    'pubrel',
    'pubcomp',
    'pingreq',
    'disconnect',
    'connack',
    'suback',
    'pingresp',
    ...(v5 ? (['auth'] as const) : []),
    ...(withConnect ? (['connect', 'connect', 'connect', 'connect'] as const) : (['connect'] as const)),
  ] as const;
  switch (rng.pick(kinds)) {
    case 'connect':
      return connectPacket(`fuzz-${tag}-${rng.int(1000)}`, rng.chance(0.05) ? 3 : version, {
        keepalive: rng.pick([0, 0, 5, 60]),
        clean: rng.chance(0.95),
        ...(rng.chance(0.3)
          ? {
              will: {
                topic: 'fuzz/will',
                payload: rng.bytes(rng.int(16)),
                qos: rng.pick([0, 1, 2] as const),
                retain: false,
              },
            }
          : {}),
        ...(rng.chance(0.1) ? { username: 'u', password: Buffer.from('p') } : {}),
        ...(v5 && rng.chance(0.3)
          ? { properties: { receiveMaximum: rng.range(1, 100), maximumPacketSize: rng.range(64, 100_000) } }
          : {}),
      });
    case 'publish': {
      const qos = rng.pick([0, 1, 2] as const);
      const properties: Record<string, unknown> = {};
      if (v5) {
        if (rng.chance(0.2)) properties.topicAlias = rng.range(0, 70);
        if (rng.chance(0.1)) properties.payloadFormatIndicator = rng.chance(0.5);
        if (rng.chance(0.1)) properties.messageExpiryInterval = rng.int(100);
        if (rng.chance(0.1)) properties.contentType = 'text/plain';
        if (rng.chance(0.1)) properties.responseTopic = 'fuzz/resp';
        if (rng.chance(0.1)) properties.correlationData = rng.bytes(4);
        if (rng.chance(0.1)) properties.userProperties = { k: 'v' };
      }
      return {
        cmd: 'publish',
        topic: rng.chance(0.1) ? `fuzz/s/${rng.int(4)}` : `fuzz/p/${rng.int(100)}`,
        payload: rng.bytes(rng.int(33)),
        qos,
        retain: rng.chance(0.05),
        dup: rng.chance(0.1),
        ...(qos > 0 ? { messageId: id } : {}),
        ...(Object.keys(properties).length > 0 ? { properties } : {}),
      } as Packet;
    }
    case 'subscribe':
      return {
        cmd: 'subscribe',
        messageId: id,
        subscriptions: Array.from({ length: rng.range(1, 3) }, () => ({
          topic: rng.pick(FUZZ_FILTERS),
          qos: rng.pick([0, 1, 2] as const),
          ...(v5 ? { nl: rng.chance(0.3), rap: rng.chance(0.3), rh: rng.pick([0, 1, 2] as const) } : {}),
        })),
      };
    case 'unsubscribe':
      return { cmd: 'unsubscribe', messageId: id, unsubscriptions: [rng.pick(FUZZ_FILTERS)] };
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp': {
      const cmd = rng.pick(['puback', 'pubrec', 'pubrel', 'pubcomp'] as const);
      return { cmd, messageId: id, ...(v5 && rng.chance(0.3) ? { reasonCode: 0 } : {}) } as Packet;
    }
    case 'pingreq':
      return { cmd: 'pingreq' };
    case 'pingresp':
      return { cmd: 'pingresp' };
    case 'disconnect':
      return { cmd: 'disconnect', ...(v5 ? { reasonCode: rng.pick([0, 4, 0x80]) } : {}) };
    case 'connack':
      return { cmd: 'connack', sessionPresent: false, ...(v5 ? { reasonCode: 0 } : { returnCode: 0 }) };
    case 'suback':
      return { cmd: 'suback', messageId: id, granted: [0] };
    case 'auth':
      return { cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'x' } };
  }
}

/**
 * The fixed header at the start of `bytes` (MQTT 3.1.1 §2.2.3, 5.0 §1.5.5): its size and the
 * packet's total length; 'partial' until the remaining length is all there; 'malformed' when it
 * runs past 4 bytes.
 */
export function fixedHeader(
  bytes: Uint8Array,
): { headerBytes: number; total: number } | 'partial' | 'malformed' {
  let remaining = 0;
  for (let i = 1; i <= 4; i++) {
    const byte = bytes[i];
    if (byte === undefined) return 'partial';
    remaining += (byte & 0x7f) * 128 ** (i - 1);
    if ((byte & 0x80) === 0) return { headerBytes: 1 + i, total: 1 + i + remaining };
  }
  return 'malformed';
}

/**
 * What a conforming server knows after each write, fed the same bytes: whole packets (framed by
 * their fixed header, then parsed by mqtt-packet), a malformed one (it must close), one larger than
 * its maximum packet size (it must close, from the header alone), or a packet still incomplete (it
 * waits). Follows the protocol level the first CONNECT announces, as the server does.
 */
export class ShadowParser {
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  private buffer = Buffer.alloc(0);
  private fresh: Packet[] = [];
  error: Error | undefined;
  tooLarge = false;
  /** The level of the first CONNECT seen (the server then speaks it), if any. */
  clientVersion: 4 | 5 | undefined;

  constructor(readonly maxPacketBytes: number) {
    this.parser.on('packet', (packet: Packet) => {
      if (this.error) return;
      this.fresh.push(packet);
      if (packet.cmd === 'connect' && this.clientVersion === undefined) {
        this.clientVersion = packet.protocolVersion === 5 ? 5 : 4;
        (this.parser as unknown as { settings: { protocolVersion: number } }).settings.protocolVersion =
          this.clientVersion;
      }
    });
    this.parser.on('error', (err: Error) => {
      this.error ??= err;
    });
  }

  /** Takes the next bytes; returns the packets they completed and where the server now stands. */
  feed(bytes: Uint8Array): { packets: Packet[]; error: Error | undefined; partial: boolean } {
    this.fresh = [];
    this.buffer = Buffer.concat([this.buffer, bytes]);
    while (!this.error && this.buffer.length > 0) {
      const header = fixedHeader(this.buffer);
      if (header === 'partial') break;
      if (header === 'malformed') {
        this.error = new Error('remaining length longer than 4 bytes');
        break;
      }
      if (header.total > this.maxPacketBytes) {
        // Refused from the header alone: the server need not (and should not) buffer the body.
        this.tooLarge = true;
        this.error = new Error(`a ${header.total}-byte packet announced`);
        break;
      }
      if (header.total > this.buffer.length) break;
      this.parser.parse(this.buffer.subarray(0, header.total));
      this.buffer = this.buffer.subarray(header.total);
    }
    return { packets: this.fresh, error: this.error, partial: !this.error && this.buffer.length > 0 };
  }
}
