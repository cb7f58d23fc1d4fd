// The outgoing batch (out-batch.ts) and FramedStream's write path over it: the frames one turn writes
// to a socket reach it as one Buffer, converted or not, in the order they were written, also when
// several sockets interleave their writes on the shared slab, when the slab fills up, and when slow-path
// packets and large frames (written as Buffers of their own) come in between.
import assert from 'node:assert/strict';
import { Duplex, PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { FramedStream } from '../../orchestrator/protocol/framed-stream.ts';
import { OutBatch, SLAB_BYTES } from '../../orchestrator/protocol/out-batch.ts';
import { readFastPacket, TopicCache } from '../../orchestrator/protocol/raw-frame.ts';
import { framedHandler } from '../helpers/framed-handler.ts';

/** A socket stand-in that records each write(2) it would make: one Buffer, or a writev's chunks. */
function recorder(): { stream: Duplex; writes: Buffer[][] } {
  const writes: Buffer[][] = [];
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      writes.push([Buffer.from(chunk)]);
      cb();
    },
    writev(chunks, cb) {
      writes.push(chunks.map((c) => Buffer.from(c.chunk as Buffer)));
      cb();
    },
  });
  return { stream, writes };
}

/** A PUBLISH as the fast path reads it from a client (3.1.1 or v5 frame). */
function fastPublish(topic: string, qos: 0 | 1, payloadBytes: number, version: 4 | 5): Packet {
  const frame = mqttPacket.generate(
    {
      cmd: 'publish',
      topic,
      payload: Buffer.alloc(payloadBytes, 7),
      qos,
      messageId: qos ? 1 : undefined,
      retain: false,
      dup: false,
    },
    { protocolVersion: version },
  );
  const packet = readFastPacket(frame, 0, frame.length, version, new TopicCache());
  assert.ok(packet, 'read on the fast path');
  return packet;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('outgoing batch', () => {
  it('hands each batch its own bytes in order while batches interleave on the shared slab', () => {
    const got: Record<string, Buffer[]> = { a: [], b: [] };
    const a = new OutBatch({ writeBatch: (bytes) => got.a?.push(Buffer.from(bytes)) });
    const b = new OutBatch({ writeBatch: (bytes) => got.b?.push(Buffer.from(bytes)) });
    const write = (batch: OutBatch, byte: number, n: number) => {
      const at = batch.reserve(n);
      batch.slab.fill(byte, at, at + n);
    };
    write(a, 1, 10);
    write(a, 2, 10); // still at the slab's end: the same run
    write(b, 3, 5); // b after a: a's run is no longer at the end
    write(a, 4, 3); // a's first run is handed over, a new one starts
    a.flush();
    b.flush();
    assert.deepEqual(
      got.a?.map((x) => [...x]),
      [[...Array(10).fill(1), ...Array(10).fill(2)], Array(3).fill(4)],
    );
    assert.deepEqual(
      got.b?.map((x) => [...x]),
      [Array(5).fill(3)],
    );
    // A full slab: what is batched is handed over and the batch goes on in a new slab.
    const big: Buffer[] = [];
    const c = new OutBatch({ writeBatch: (bytes) => big.push(bytes) });
    let total = 0;
    while (total < SLAB_BYTES * 2) {
      write(c, total % 251, 100);
      total += 100;
    }
    c.flush();
    assert.ok(big.length >= 2, 'more than one slab');
    assert.equal(Buffer.concat(big).length, total);
    assert.ok(big.every((x) => x.length <= SLAB_BYTES));
    assert.equal(c.pending, 0);
  });

  it('writes one turn of fast-path frames, converted to v5, as one Buffer; the bytes mqtt-packet would make', async () => {
    const { stream, writes } = recorder();
    const framed = new FramedStream(stream, { protocolVersion: 5, maxPacketBytes: 1 << 20 }, framedHandler());
    const packets: Packet[] = [];
    for (let i = 0; i < 20; i++) {
      const p = fastPublish(`t/${i % 3}`, i % 2 ? 1 : 0, 100, 4);
      if (p.cmd === 'publish' && p.qos > 0) p.messageId = 100 + i;
      packets.push(p);
      packets.push({ cmd: 'puback', messageId: 7 + i, reasonCode: 0 } as Packet);
    }
    for (const p of packets) assert.equal(framed.write(p), true);
    await turn();
    assert.equal(writes.length, 1, 'one write(2) for the turn');
    assert.equal(writes[0]?.length, 1, 'one Buffer, not one per frame');
    const expected = Buffer.concat(packets.map((p) => mqttPacket.generate(p, { protocolVersion: 5 })));
    assert.equal(Buffer.concat(writes[0] ?? []).toString('hex'), expected.toString('hex'));
  });

  it('keeps the order across batched frames, slow-path packets and large frames in one turn', async () => {
    const { stream, writes } = recorder();
    const other = recorder();
    const framed = new FramedStream(stream, { protocolVersion: 4, maxPacketBytes: 1 << 20 }, framedHandler());
    const otherFramed = new FramedStream(
      other.stream,
      { protocolVersion: 4, maxPacketBytes: 1 << 20 },
      framedHandler(),
    );
    const packets: Packet[] = [
      fastPublish('a', 0, 50, 5),
      { cmd: 'suback', messageId: 3, granted: [1] } as Packet,
      fastPublish('b', 1, 20, 5),
      fastPublish('big', 0, 10_000, 5),
      fastPublish('c', 0, 30, 4),
      { cmd: 'pingresp' } as Packet,
    ];
    (packets[2] as { messageId?: number }).messageId = 9;
    for (const [i, p] of packets.entries()) {
      framed.write(p);
      otherFramed.write(fastPublish(`x/${i}`, 0, 10, 4)); // another socket writes in between
    }
    await turn();
    const expected = Buffer.concat(packets.map((p) => mqttPacket.generate(p, { protocolVersion: 4 })));
    assert.equal(Buffer.concat(writes.flat()).toString('hex'), expected.toString('hex'));
    assert.equal(writes.length, 1, 'one writev(2) for the turn');
    assert.equal(other.writes.length, 1);
    assert.equal(Buffer.concat(other.writes.flat()).length, packets.length * 17);
  });
  it('writes what handling one read produced, to every socket, before that read returns (no turn waited for)', async () => {
    const a = recorder();
    const b = recorder();
    const toA = new FramedStream(a.stream, { protocolVersion: 5, maxPacketBytes: 1 << 20 }, framedHandler());
    const toB = new FramedStream(b.stream, { protocolVersion: 4, maxPacketBytes: 1 << 20 }, framedHandler());
    const input = new PassThrough();
    new FramedStream(
      input,
      { protocolVersion: 4, maxPacketBytes: 1 << 20 },
      framedHandler({
        packet: (p) => {
          toA.write(p);
          toB.write({ cmd: 'puback', messageId: 5 } as Packet);
        },
      }),
    );
    const frames = [fastPublish('r/1', 0, 40, 4), fastPublish('r/2', 0, 40, 4)].map((p) =>
      mqttPacket.generate(p, { protocolVersion: 4 }),
    );
    input.emit('data', Buffer.concat(frames)); // one read, two publishes
    // One write(2) (a writev of two runs: the other socket's acknowledgement came in between).
    assert.equal(a.writes.length, 1, 'the relayed publishes left with the read');
    assert.equal(b.writes.length, 1, 'and so did the acknowledgements, to the other socket');
    assert.equal(Buffer.concat(b.writes.flat()).length, 8);
    // A write made outside a read (a timer, a promise) still leaves at the end of the turn.
    toB.write({ cmd: 'pingresp' } as Packet);
    assert.equal(b.writes.length, 1);
    await turn();
    assert.equal(b.writes.length, 2);
  });
});
