import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_KEPT_TOPIC_BYTES, TopicCache, topicSet } from '../../orchestrator/protocol/raw-frame.ts';

/** A topic's bytes inside a larger buffer, as a frame holds them. */
function framed(bytes: Buffer): { frame: Buffer; start: number; end: number } {
  const frame = Buffer.concat([Buffer.from([0x30, 0x99, 0x00]), bytes, Buffer.from('payload')]);
  return { frame, start: 3, end: 3 + bytes.length };
}

const decode = (cache: TopicCache, bytes: Buffer): string => {
  const { frame, start, end } = framed(bytes);
  return cache.decode(frame, start, end);
};

/** Decodes t through cache; true when it was decoded from the bytes (a miss), false when found kept. */
function missed(cache: TopicCache, t: string): boolean {
  const { frame, start, end } = framed(Buffer.from(t));
  let decoded = false;
  const decodeBytes = frame.toString.bind(frame);
  frame.toString = ((...args: Parameters<Buffer['toString']>) => {
    decoded = true;
    return decodeBytes(...args);
  }) as Buffer['toString'];
  assert.equal(cache.decode(frame, start, end), t);
  return decoded;
}

describe('TopicCache (the process-wide decoded-topic table)', () => {
  it('decodes what Buffer#toString decodes, for many topics in turn and again', () => {
    const cache = new TopicCache();
    // More topics than slots, so that slots collide and are replaced; each read twice, in two rounds.
    const topics = Array.from({ length: 10_000 }, (_, i) => `dev/${i % 97}/t${i}`);
    for (let round = 0; round < 2; round++)
      for (const t of topics) {
        assert.equal(decode(cache, Buffer.from(t)), t);
        assert.equal(decode(cache, Buffer.from(t)), t);
      }
  });

  it('never answers a kept topic for other bytes of the same length', () => {
    const cache = new TopicCache();
    assert.equal(decode(cache, Buffer.from('a/b/c')), 'a/b/c');
    assert.equal(decode(cache, Buffer.from('a/b/d')), 'a/b/d');
    assert.equal(decode(cache, Buffer.from('a/b/c')), 'a/b/c');
    assert.equal(new TopicCache().decode(Buffer.from('xa/b/cx'), 1, 6), 'a/b/c');
  });

  it('decodes multi-byte and invalid UTF-8 each time, never confusing a byte with a char code', () => {
    const cache = new TopicCache();
    // 'é' is one char from two bytes (c3 a9); the single byte e9 equals its char code but is invalid
    // UTF-8 (U+FFFD): the two must not be taken for one another, in either order.
    const e = Buffer.from('é');
    for (let i = 0; i < 3; i++) {
      assert.equal(decode(cache, e), 'é');
      assert.equal(decode(cache, Buffer.from([0xe9])), '\ufffd');
      assert.equal(decode(cache, Buffer.from([0xc3, 0xa9, 0x41])), 'éA');
      assert.equal(decode(cache, Buffer.from('温度/😀')), '温度/😀');
    }
  });

  it('keeps two topics of one set, and a third drops the older of them', () => {
    // Three topics that hash to one set, found by search (the set is a pure function of the bytes).
    const bySet = new Map<number, string[]>();
    let same: string[] = [];
    for (let i = 0; same.length < 3; i++) {
      const t = `cache-test/${i}`;
      const set = topicSet(Buffer.from(t), 0, Buffer.byteLength(t));
      const found = [...(bySet.get(set) ?? []), t];
      bySet.set(set, found);
      if (found.length === 3) same = found;
    }
    const [a = '', b = '', c = ''] = same;
    const cache = new TopicCache();
    missed(cache, a);
    missed(cache, b);
    // One slot a set (the table until session 34) would decode each of these again.
    for (let i = 0; i < 3; i++) assert.deepEqual([missed(cache, a), missed(cache, b)], [false, false]);
    assert.equal(missed(cache, c), true); // c takes the first slot, b moves to the second, a is dropped
    assert.deepEqual([missed(cache, c), missed(cache, b), missed(cache, a)], [false, false, true]);
  });

  it('decodes a topic longer than MAX_KEPT_TOPIC_BYTES each time, correctly', () => {
    const cache = new TopicCache();
    const long = `t/${'x'.repeat(MAX_KEPT_TOPIC_BYTES)}`;
    for (let i = 0; i < 2; i++) assert.equal(missed(cache, long), true);
    const longest = 't'.repeat(MAX_KEPT_TOPIC_BYTES);
    missed(cache, longest);
    assert.equal(missed(cache, longest), false);
  });

  it('an empty topic is the empty string', () => {
    assert.equal(decode(new TopicCache(), Buffer.alloc(0)), '');
  });
});
