// QoS 1/2 frames read into the process's slabs (kept-frames.ts), and how a frame that stays leaves them:
// the reader's copy, `ownFrame`, the publish flow's tick (in flight, and finished with its
// acknowledgement held behind an earlier one), the delivery buffer's tick, and the replay window, which
// keeps a frame where the reader put it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { KeptFrames, type KeptSlab, STAYING_FRAME_MS } from '../../orchestrator/protocol/kept-frames.ts';
import {
  type FastPublish,
  ownFrame,
  readFastPacket,
  TopicCache,
} from '../../orchestrator/protocol/raw-frame.ts';
import { fastEncode } from '../../orchestrator/protocol/raw-write.ts';
import { OutboundDeliveries } from '../../orchestrator/session/outbound-delivery.ts';
import { ReplayWindow } from '../../orchestrator/session/replay-window.ts';
import { fakeContext, fakeInbound, fakeLinks } from '../helpers/fake-session.ts';

const topics = new TopicCache();

const frameOf = (qos: 0 | 1 | 2, id: number, payloadBytes = 100): Buffer =>
  mqttPacket.generate(
    {
      cmd: 'publish',
      topic: 'taxi/1',
      payload: Buffer.alloc(payloadBytes, id & 0xff),
      qos,
      messageId: qos > 0 ? id : undefined,
      retain: false,
      dup: false,
    } as IPublishPacket,
    { protocolVersion: 5 },
  );

/** Reads `frame` as the fast path does, from a read buffer overwritten afterwards. */
function read(frame: Buffer, frames: KeptFrames | undefined): FastPublish {
  const readBuffer = Buffer.concat([Buffer.from([1, 2, 3]), frame]);
  const packet = readFastPacket(readBuffer, 3, frame.length, 5, topics, frames) as unknown as FastPublish;
  readBuffer.fill(0xee);
  assert.ok(packet?.raw);
  return packet;
}

const isOwn = (b: Buffer): boolean => b.byteOffset === 0 && b.buffer.byteLength === b.length;

describe('KeptFrames.copyIn', () => {
  it('copies frames back to back into one slab and seals it, with the time, when the next does not fit', () => {
    const frames = new KeptFrames(1024);
    const a = frames.copyIn(Buffer.from('xaaay'), 1, 4);
    const first = frames.last;
    const b = frames.copyIn(Buffer.alloc(200, 2), 0, 200);
    assert.equal(a?.toString(), 'aaa');
    assert.equal(b?.buffer, a?.buffer, 'one slab');
    assert.equal(b?.byteOffset, (a?.byteOffset ?? 0) + 3);
    assert.equal(first?.sealedAt, Number.POSITIVE_INFINITY, 'the current slab is not sealed');
    const before = Date.now();
    frames.copyIn(Buffer.alloc(250), 0, 250);
    frames.copyIn(Buffer.alloc(250), 0, 250);
    frames.copyIn(Buffer.alloc(250), 0, 250); // 953 bytes: the next 200 do not fit
    assert.equal(frames.last, first);
    const c = frames.copyIn(Buffer.alloc(200, 3), 0, 200);
    assert.notEqual(frames.last, first);
    assert.notEqual(c?.buffer, a?.buffer);
    assert.ok((first?.sealedAt ?? 0) >= before && (first?.sealedAt ?? 0) <= Date.now());
    assert.equal(a?.toString(), 'aaa', 'a sealed slab keeps its bytes');
  });

  it('leaves a frame over a quarter of a slab to the caller', () => {
    const frames = new KeptFrames(1024);
    assert.equal(frames.copyIn(Buffer.alloc(257), 0, 257), undefined);
    assert.ok(frames.copyIn(Buffer.alloc(256), 0, 256));
  });
});

describe('the fast path reading into slabs', () => {
  it('copies a QoS 1/2 frame into the store and says which slab; QoS 0 and large frames are not', () => {
    const frames = new KeptFrames();
    for (const qos of [1, 2] as const) {
      const frame = frameOf(qos, 7);
      const p = read(frame, frames);
      assert.equal(p.raw.slab, frames.last);
      assert.equal(p.raw.frame.buffer, p.raw.slab?.bytes.buffer);
      assert.deepEqual(p.raw.frame, frame, 'the bytes, though the read buffer was overwritten');
      assert.deepEqual(fastEncode(p as unknown as Packet, 5), frame);
    }
    const q0 = read(frameOf(0, 0), frames);
    assert.equal(q0.raw.slab, undefined);
    const large = read(frameOf(1, 9, 20_000), frames);
    assert.equal(large.raw.slab, undefined);
    assert.ok(isOwn(large.raw.frame), 'a right-sized Buffer of its own');
    const noStore = read(frameOf(1, 9), undefined);
    assert.equal(noStore.raw.slab, undefined);
    assert.ok(isOwn(noStore.raw.frame));
  });

  it('ownFrame moves a frame out of a slab sealed before the time given, and its payload with it', () => {
    const frames = new KeptFrames(1024);
    const frame = frameOf(1, 5);
    const p = read(frame, frames);
    const slab = p.raw.slab as KeptSlab;
    ownFrame(p, Date.now() + 10_000);
    assert.equal(p.raw.slab, slab, 'the current slab is never sealed: left');
    slab.sealedAt = 1_000;
    ownFrame(p, 1_000);
    assert.equal(p.raw.slab, slab, 'sealed at, not before: left');
    ownFrame(p, 1_001);
    assert.equal(p.raw.slab, undefined);
    assert.ok(isOwn(p.raw.frame));
    assert.equal(p.payload, p.raw.payload, 'the payload is a view of the new frame');
    assert.equal(p.payload.buffer, p.raw.frame.buffer);
    assert.deepEqual(fastEncode(p as unknown as Packet, 5), frame, 'forwarded as before');
    const copy = { ...p, messageId: 9 };
    assert.deepEqual(fastEncode(copy as unknown as Packet, 5)?.readUInt16BE(10), 9, 'the id patched');
  });
});

/** Publishes read into a store of `slabBytes` slabs, the first slab sealed long ago by the time `now`. */
function readSealed(count: number, qos: 1 | 2 = 1): { packets: FastPublish[]; frames: KeptFrames } {
  const frames = new KeptFrames(1024);
  const packets = Array.from({ length: count }, (_, i) => read(frameOf(qos, i + 1), frames));
  for (const p of packets) if (p.raw.slab) p.raw.slab.sealedAt = Math.min(p.raw.slab.sealedAt, 1_000);
  return { packets, frames };
}

describe("a session's tick moves the frames that stay", () => {
  it('publishes in flight at a broker that does not answer, and finished ones whose PUBACK waits', () => {
    const { links } = fakeLinks(['b1', 'b2']);
    const ctx = fakeContext({
      link: (id) => links.get(id),
      publishTargets: () => [...links.values()],
      subscribeTargets: () => [...links.values()],
    });
    const inbound = fakeInbound(ctx);
    const { packets } = readSealed(4);
    for (const p of packets) inbound.onPublish(p as unknown as IPublishPacket);
    // Round-robin: 1 and 3 on b1, 2 and 4 on b2. b2 acknowledges 2: its PUBACK waits behind 1's.
    const up2 = [...(links.get('b2')?.ids.entries() ?? [])][0];
    assert.ok(up2);
    inbound.onBrokerAck(links.get('b2') as never, { cmd: 'puback', messageId: up2[0] }, 2);
    inbound.rehomeKept(1_000 + STAYING_FRAME_MS);
    assert.ok(
      packets.every((p) => p.raw.slab !== undefined),
      'sealed exactly STAYING_FRAME_MS ago: not yet',
    );
    inbound.rehomeKept(1_001 + STAYING_FRAME_MS);
    assert.deepEqual(
      packets.map((p) => p.raw.slab === undefined && isOwn(p.raw.frame)),
      [true, true, true, true],
      'in flight (1, 3, 4) and finished behind 1 (2)',
    );
  });

  it('deliveries waiting for the client window', () => {
    const { links } = fakeLinks(['b1']);
    const link = links.get('b1');
    assert.ok(link);
    const sent: Packet[] = [];
    const ctx = fakeContext({
      link: () => link,
      publishTargets: () => [link],
      subscribeTargets: () => [link],
      sendDown: (p) => sent.push(p) > 0,
    });
    const outbound = new OutboundDeliveries(ctx, 1, 100, Number.POSITIVE_INFINITY);
    const { packets } = readSealed(3);
    for (const p of packets) outbound.onBrokerPublish(link, p as unknown as IPublishPacket);
    assert.equal(sent.length, 1, 'the window is 1: two wait');
    outbound.rehomeKept(1_001 + STAYING_FRAME_MS);
    assert.deepEqual(
      packets.map((p) => p.raw.slab === undefined),
      [false, true, true],
      'only the waiting ones (the first was written)',
    );
  });
});

describe('the replay window keeps a frame where the reader put it', () => {
  it('no second copy into the same store; a copy of its own when the window has no store', () => {
    const frames = new KeptFrames(1024);
    const window = new ReplayWindow(2_000, 100, frames);
    const p = read(frameOf(1, 3), frames);
    const slab = p.raw.slab;
    const used = frames.copyIn(Buffer.alloc(1), 0, 1)?.byteOffset ?? -1;
    window.remember('b1', p as unknown as IPublishPacket, 10_000);
    assert.equal(frames.copyIn(Buffer.alloc(1), 0, 1)?.byteOffset, used + 1, 'nothing copied');
    const ring = (window as unknown as { byBroker: Map<string, { item(k: number): unknown }> }).byBroker.get(
      'b1',
    );
    assert.equal(ring?.item(0), slab);
    const [again] = window.take('b1');
    assert.deepEqual(fastEncode({ ...again, messageId: 3 } as Packet, 5), frameOf(1, 3));

    const bare = new ReplayWindow(2_000, 100);
    const q = read(frameOf(1, 4), frames);
    bare.remember('b1', q as unknown as IPublishPacket, 10_000);
    const kept = (bare as unknown as { byBroker: Map<string, { item(k: number): unknown }> }).byBroker
      .get('b1')
      ?.item(0) as Buffer;
    assert.ok(Buffer.isBuffer(kept) && isOwn(kept), 'not a view of a slab nothing moves it out of');
    assert.deepEqual(kept, frameOf(1, 4));
  });

  it('rehome moves every stale slab frame, also one behind a fresh one', () => {
    const frames = new KeptFrames(1024);
    const window = new ReplayWindow(2_000, 100, frames);
    const old = read(frameOf(1, 1), frames);
    const fresh = new KeptFrames(1024);
    const young = read(frameOf(1, 2), fresh);
    const older = read(frameOf(1, 3), frames);
    (old.raw.slab as KeptSlab).sealedAt = 1_000;
    for (const p of [young, old, older]) window.remember('b1', p as unknown as IPublishPacket, 20_000);
    window.rehome(20_000 + 10_000);
    const ring = (
      window as unknown as { byBroker: Map<string, { item(k: number): unknown; count: number }> }
    ).byBroker.get('b1');
    assert.equal(ring?.item(0), young.raw.slab, 'the current slab of its store: stays');
    assert.ok(Buffer.isBuffer(ring?.item(1)), 'stale, behind a fresh one: moved');
    assert.ok(Buffer.isBuffer(ring?.item(2)));
    assert.deepEqual(
      window.take('b1').map((p) => p.payload[0]),
      [2, 1, 3],
    );
  });
});
