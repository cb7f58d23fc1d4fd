import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  connectInMemory,
  connectPacket,
  duplexPair,
  encode,
  expectNoPacket,
  expectPacket,
  fixedHeader,
  mutate,
  nextPacket,
  Rng,
  randomPacket,
  ShadowParser,
  varint,
  waitClosed,
  writePacket,
  writeRaw,
} from '../helpers/mqtt-wire.ts';

describe('mqtt-wire helpers', () => {
  it('varint and fixedHeader agree on the remaining-length boundaries (MQTT 3.1.1 §2.2.3)', () => {
    for (const [n, bytes] of [
      [0, 1],
      [127, 1],
      [128, 2],
      [16_383, 2],
      [16_384, 3],
      [2_097_151, 3],
      [2_097_152, 4],
      [268_435_455, 4],
    ] as const) {
      const header = Buffer.concat([Buffer.from([0x30]), varint(n)]);
      assert.equal(header.length - 1, bytes, `varint(${n})`);
      assert.deepEqual(fixedHeader(header), { headerBytes: 1 + bytes, total: 1 + bytes + n });
    }
    assert.equal(fixedHeader(Buffer.from([0x30])), 'partial');
    assert.equal(fixedHeader(Buffer.from([0x30, 0x80])), 'partial');
    assert.equal(fixedHeader(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff])), 'malformed');
  });

  it('Rng: the same seed gives the same draws; mutate and randomPacket are reproducible', () => {
    const draw = (seed: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: 50 }, () => {
        const packet = encode(randomPacket(rng, 5, 'u'), 5);
        return mutate(packet, rng).bytes.toString('hex');
      });
    };
    assert.deepEqual(draw(7), draw(7));
    assert.notDeepEqual(draw(7), draw(8));
    const rng = new Rng(1);
    for (let i = 0; i < 1000; i++) {
      const n = rng.int(10);
      assert.ok(Number.isInteger(n) && n >= 0 && n < 10);
    }
  });

  it('ShadowParser frames split and merged packets, and flags malformed, oversized and partial input', () => {
    const connect = encode(connectPacket('c', 5), 5);
    const ping = encode({ cmd: 'pingreq' }, 5);
    const shadow = new ShadowParser(1024);
    const first = shadow.feed(Buffer.concat([connect.subarray(0, 3)]));
    assert.deepEqual([first.packets.length, first.partial], [0, true]);
    const rest = shadow.feed(Buffer.concat([connect.subarray(3), ping, ping]));
    assert.deepEqual(
      rest.packets.map((p) => p.cmd),
      ['connect', 'pingreq', 'pingreq'],
    );
    assert.equal(rest.partial, false);
    assert.equal(shadow.clientVersion, 5);
    // A v5-only field parses once the CONNECT said 5.
    const disconnect = shadow.feed(encode({ cmd: 'disconnect', reasonCode: 0x04 }, 5));
    assert.equal((disconnect.packets[0] as { reasonCode?: number }).reasonCode, 0x04);
    assert.ok(new ShadowParser(1024).feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])).error);
    const big = new ShadowParser(1024);
    assert.ok(big.feed(Buffer.concat([Buffer.from([0x30]), varint(5000)])).error);
    assert.equal(big.tooLarge, true);
    // A bad header inside a frame still incomplete: not known to be malformed until the frame is in.
    const waiting = new ShadowParser(1024);
    assert.deepEqual(waiting.feed(Buffer.from([0x72, 0x06, 0xee])).partial, true);
    assert.ok(waiting.feed(Buffer.from([0, 0, 0, 0, 0])).error);
  });

  it('duplexPair: bytes cross in order, end and destroy reach the other side', async (t) => {
    const [a, b] = duplexPair();
    const got: Buffer[] = [];
    b.on('data', (chunk: Buffer) => got.push(chunk));
    a.write(Buffer.from([1]));
    a.write(Buffer.from([2, 3]));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      got.map((c) => [...c]),
      [[1], [2, 3]],
    );
    const bClosed = new Promise((resolve) => b.once('close', resolve));
    a.destroy();
    await bClosed;
    // A WireConn over a pair: the "server" side answers; ending it closes the client side.
    const { conn } = connectInMemory(t, (server) => {
      server.on('data', () => server.write(encode({ cmd: 'pingresp' }, 4)));
      server.on('end', () => server.end());
      return server;
    });
    await writePacket(conn, { cmd: 'pingreq' });
    await expectPacket(conn, 'pingresp', 1000);
    await expectNoPacket(conn, 20);
    // One byte per write: two chunks, so this toy server answers twice.
    await writeRaw(conn, encode({ cmd: 'pingreq' }, 4), 1);
    await expectPacket(conn, 'pingresp', 1000);
    await expectPacket(conn, 'pingresp', 1000);
    conn.stream.end();
    await waitClosed(conn, 1000);
    await assert.rejects(nextPacket(conn, 100), /closed/);
  });
});
