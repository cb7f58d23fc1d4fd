import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import mqttPacket, { type IPublishPacket } from 'mqtt-packet';
import { KeptFrames } from '../../orchestrator/protocol/kept-frames.ts';
import { readFastPacket, TopicCache } from '../../orchestrator/protocol/raw-frame.ts';
import { fastEncode, unaliased } from '../../orchestrator/protocol/raw-write.ts';
import { ReplayWindow } from '../../orchestrator/session/replay-window.ts';

const publish = (n: number): IPublishPacket => ({
  cmd: 'publish',
  topic: 't',
  payload: Buffer.from(String(n)),
  qos: 1,
  dup: false,
  retain: false,
});
const names = (packets: IPublishPacket[]) => packets.map((p) => p.payload.toString());

/** A QoS 1 publish as the fast path reads it from the client (its packet owns its frame). */
const readPublish = (version: 4 | 5, p: Partial<IPublishPacket>): IPublishPacket => {
  const frame = mqttPacket.generate(
    {
      cmd: 'publish',
      qos: 1,
      dup: true,
      retain: false,
      messageId: 7,
      topic: 'taxi/1',
      ...p,
    } as IPublishPacket,
    { protocolVersion: version },
  );
  return readFastPacket(frame, 0, frame.length, version, new TopicCache()) as unknown as IPublishPacket;
};
/** What a replay sends of a packet (a new packet id, dup cleared), encoded for a broker at `target`. */
const sent = (p: IPublishPacket, target: 4 | 5) => fastEncode({ ...p, messageId: 99, dup: false }, target);

describe('replay window', () => {
  it('keeps an aliased publish resolved by the session as the packet, not its frame (which says "")', () => {
    const w = new ReplayWindow(500, 1000, new KeptFrames());
    const read = readPublish(5, { topic: '', properties: { topicAlias: 4, userProperties: { k: 'v' } } });
    w.remember('a', unaliased(read, 'taxi/9'), 0);
    const [replayed] = w.take('a');
    assert.equal(replayed?.topic, 'taxi/9');
    assert.equal(replayed?.properties?.topicAlias, undefined);
    const bytes = sent(replayed as IPublishPacket, 5);
    assert.equal(bytes && readFastPacket(bytes, 0, bytes.length, 5, new TopicCache())?.cmd, 'publish');
    assert.equal(
      (readFastPacket(bytes as Buffer, 0, (bytes as Buffer).length, 5, new TopicCache()) as IPublishPacket)
        .topic,
      'taxi/9',
    );
  });

  it("replays a dead broker's publishes acknowledged within the window before its last acknowledgement", () => {
    const w = new ReplayWindow(500, 1000);
    for (let i = 0; i < 10; i++) w.remember(i % 2 === 0 ? 'a' : 'b', publish(i), i * 100);
    // a acknowledged 0, 200, ..., 800: within 500 ms of 800 are 400, 600, 800.
    assert.deepEqual(names(w.take('a')), ['4', '6', '8']);
    assert.deepEqual(w.take('a'), [], 'taken once');
  });

  it('counts back from the last acknowledgement, so a broker noticed dead a keepalive later still replays', () => {
    const w = new ReplayWindow(500, 1000);
    w.remember('hung', publish(1), 1000);
    w.remember('hung', publish(2), 1200);
    // Other brokers keep acknowledging for 45 s before the hung one is noticed.
    for (let t = 1300; t < 46_000; t += 100) w.remember('alive', publish(t), t);
    assert.deepEqual(names(w.take('hung')), ['1', '2']);
  });

  it('keeps at most maxMessages per broker, and nothing when disabled or after a planned removal', () => {
    const w = new ReplayWindow(10_000, 3);
    for (let i = 0; i < 2000; i++) w.remember('a', publish(i), i);
    assert.deepEqual(names(w.take('a')), ['1997', '1998', '1999']);
    w.remember('b', publish(1), 0);
    w.forget('b');
    assert.deepEqual(w.take('b'), []);
    const off = new ReplayWindow(0, 100);
    off.remember('a', publish(1), 0);
    assert.equal(off.enabled, false);
    assert.deepEqual(off.take('a'), []);
  });

  it('keeps a fast-path publish as its frame alone, and replays it byte for byte as the packet it was (v4 and v5)', () => {
    for (const version of [4, 5] as const) {
      const read = (p: Partial<IPublishPacket>) => readPublish(version, p);
      const w = new ReplayWindow(2000, 100);
      const plain = read({ payload: Buffer.from('fix 1') });
      const retained = read({ payload: Buffer.from('last'), retain: true, topic: 'taxi/2' });
      // A packet that no longer says what its frame says (its topic changed) is kept whole.
      const changed = { ...read({ payload: Buffer.from('fix 3') }), topic: 'taxi/3' };
      w.remember('a', plain, 0);
      w.remember('a', retained, 1, 5);
      w.remember('a', changed, 2);
      assert.deepEqual([...w.retainedTopics()], ['taxi/2'], `v${version}`);
      const replayed = w.take('a');
      assert.equal(replayed.length, 3);
      assert.notEqual(replayed[0], plain, 'read again from the kept frame');
      assert.equal(replayed[1], retained, 'a retained publish is kept whole');
      assert.equal(replayed[2], changed, 'kept whole');
      // What a replay sends (a new packet id, dup cleared) is the same bytes for the re-read packet as for the original.
      for (const target of [4, 5] as const) {
        const send = (p: IPublishPacket) => fastEncode({ ...p, messageId: 99, dup: false }, target);
        const bytes = send(plain);
        assert.ok(bytes && bytes.length > 10, 'the fast writer encodes it');
        assert.deepEqual(send(replayed[0] as IPublishPacket), bytes, `v${version} → v${target}`);
      }
    }
  });

  it('keeps a v5 publish with properties as its frame and replays it with the same properties, in order', () => {
    const w = new ReplayWindow(2000, 100, new KeptFrames());
    const properties = {
      contentType: 'application/json',
      correlationData: Buffer.from([1, 2, 3]),
      userProperties: { a: ['1', '3'], b: '2' },
    };
    const read = readPublish(5, { payload: Buffer.from('fix'), properties });
    assert.ok(read.properties, 'read on the fast path with its properties');
    w.remember('a', read, 0);
    const [replayed] = w.take('a');
    assert.notEqual(replayed, read, 'read again from the kept frame');
    assert.deepEqual(replayed?.properties, read.properties);
    assert.deepEqual(sent(replayed as IPublishPacket, 5), sent(read, 5), 'the same bytes to a v5 broker');
    assert.deepEqual(sent(replayed as IPublishPacket, 4), sent(read, 4), 'and to a 3.1.1 one');
  });

  it('keeps frames in the shared slabs of a KeptFrames and replays them byte for byte (v4 and v5)', () => {
    for (const version of [4, 5] as const) {
      const frames = new KeptFrames(1024);
      const w = new ReplayWindow(2000, 100, frames);
      const originals = Array.from({ length: 40 }, (_, i) =>
        readPublish(version, { payload: Buffer.from(`fix ${i}`), topic: `taxi/${i % 3}` }),
      );
      for (const [i, p] of originals.entries()) w.remember('a', p, 100 + i);
      // ~25 bytes each: 40 frames fill one 1 KiB slab and start a second.
      const slab = frames.last;
      assert.ok(slab && slab.bytes.length === 1024, `v${version}`);
      const replayed = w.take('a');
      assert.equal(replayed.length, 40);
      for (const [i, p] of replayed.entries())
        for (const target of [4, 5] as const)
          assert.deepEqual(
            sent(p, target),
            sent(originals[i] as IPublishPacket, target),
            `v${version} #${i}`,
          );
      // The replayed packets own their bytes: the slab written over afterwards changes none of them.
      const before = replayed.map((p) => sent(p, 5));
      slab.bytes.fill(0xff);
      assert.deepEqual(
        replayed.map((p) => sent(p, 5)),
        before,
      );
    }
  });

  it('holds slots for what the window keeps, not for what it has dropped', () => {
    // A client publishing once a second for 17 minutes: two or three publishes in a 2 s window.
    const slow = new ReplayWindow(2000, 2000, new KeptFrames());
    for (let t = 0; t < 1_000; t++)
      slow.remember('a', readPublish(4, { payload: Buffer.from(`${t}`) }), t * 1000);
    assert.equal(slow.slots('a'), 4);
    assert.deepEqual(names(slow.take('a')), ['997', '998', '999']);
    // A burst of 1,000 in one second, then one a second again: the burst's slots go on the keepalive tick.
    const burst = new ReplayWindow(2000, 2000);
    for (let i = 0; i < 1_000; i++) burst.remember('a', publish(i), 10_000 + i / 1000);
    assert.equal(burst.slots('a'), 1024);
    for (let t = 1; t <= 5; t++) burst.remember('a', publish(t), 10_000 + t * 1000);
    burst.rehome(15_000);
    // Down to 8: the three kept fill more than a quarter of it (kept-ring.ts shrink).
    assert.equal(burst.slots('a'), 8);
  });

  it('a frame over a quarter of a slab is kept in a Buffer of its own', () => {
    const frames = new KeptFrames(1024);
    const w = new ReplayWindow(2000, 100, frames);
    const big = readPublish(5, { payload: Buffer.alloc(300, 7) });
    w.remember('a', big, 0);
    assert.equal(frames.last, undefined, 'no slab taken');
    const [again] = w.take('a');
    assert.deepEqual(sent(again as IPublishPacket, 4), sent(big, 4));
  });

  it('rehome moves frames out of a slab sealed longer ago than the window and the slack, and only those', () => {
    const frames = new KeptFrames(256);
    const w = new ReplayWindow(2000, 1000, frames);
    // A session that published 20 frames at t = 0..19 ms, then stopped: each slab holds ~10.
    const early = Array.from({ length: 20 }, (_, i) =>
      readPublish(4, { payload: Buffer.from(`early ${i}`) }),
    );
    for (const [i, p] of early.entries()) w.remember('a', p, i);
    const earlySlabs = new Set<unknown>();
    // Other sessions keep frames in the same store: the early slabs are sealed at t = 100.
    const other = new ReplayWindow(2000, 1000, frames);
    for (let i = 0; i < 60; i++) {
      if (frames.last) earlySlabs.add(frames.last);
      other.remember('b', readPublish(4, { payload: Buffer.from(`other ${i}`) }), 100);
    }
    const expected = early.map((p) => sent(p, 5));
    // Not yet: sealed at 100, the window (2 s) and the slack (3 s) not past.
    w.rehome(5_099);
    for (const slab of earlySlabs) (slab as { bytes: Buffer }).bytes.fill(0);
    const spoiled = w.take('a').map((p) => sent(p, 5));
    assert.notDeepEqual(spoiled, expected, 'still in the slabs: written over with them');

    // Again, and this time past the window and slack: the frames move out, the slabs can be freed.
    const w2 = new ReplayWindow(2000, 1000, frames);
    for (const [i, p] of early.entries()) w2.remember('a', p, 10_000 + i);
    const sealed = frames.last;
    for (let i = 0; i < 60; i++)
      other.remember('b', readPublish(4, { payload: Buffer.from(`more ${i}`) }), 10_100);
    assert.notEqual(frames.last, sealed, 'a new slab was taken');
    w2.rehome(15_101);
    if (sealed) sealed.bytes.fill(0);
    assert.deepEqual(
      w2.take('a').map((p) => sent(p, 5)),
      expected,
      'rehomed frames survive their old slab being written over',
    );
  });
});
