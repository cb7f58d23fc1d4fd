import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TopicCache } from '../../orchestrator/protocol/raw-frame.ts';

/** A topic's bytes inside a larger buffer, as a frame holds them. */
function framed(bytes: Buffer): { frame: Buffer; start: number; end: number } {
  const frame = Buffer.concat([Buffer.from([0x30, 0x99, 0x00]), bytes, Buffer.from('payload')]);
  return { frame, start: 3, end: 3 + bytes.length };
}

const decode = (cache: TopicCache, bytes: Buffer): string => {
  const { frame, start, end } = framed(bytes);
  return cache.decode(frame, start, end);
};

describe('TopicCache (the process-wide decoded-topic table)', () => {
  it('decodes what Buffer#toString decodes, for many topics in turn and again', () => {
    const cache = new TopicCache();
    // More topics than slots, so that slots collide and are replaced; each read twice, in two rounds.
    const topics = Array.from({ length: 3000 }, (_, i) => `dev/${i % 97}/t${i}`);
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

  it('an empty topic is the empty string', () => {
    assert.equal(decode(new TopicCache(), Buffer.alloc(0)), '');
  });
});
