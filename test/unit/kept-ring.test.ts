import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeptRing } from '../../orchestrator/session/kept-ring.ts';

/** The ring's entries, oldest first, as [item, off, len, at, seq]. */
const entries = (r: KeptRing) =>
  Array.from({ length: r.count }, (_, k) => [r.item(k), r.off(k), r.len(k), r.at(k), r.seq(k)]);
const frame = (n: number) => Buffer.from(`frame ${n}`);

describe('kept ring', () => {
  it('keeps entries oldest first through wrap-around, growth and shrinking, against a plain array', () => {
    const ring = new KeptRing();
    const model: unknown[][] = [];
    // A deterministic walk: bursts that grow the ring past its first capacities, drops that wrap it.
    let seed = 7;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    for (let step = 0; step < 5_000; step++) {
      const r = next();
      if (r < 0.55) {
        const f = frame(step);
        // Times and sequence numbers beyond a small integer (timestamps, retained counters).
        const e = [f, step % 65_536, f.length, 1_733_000_000_000.5 + step, step * 3];
        ring.push(f, e[1] as number, e[2] as number, e[3] as number, e[4] as number);
        model.push(e);
      } else if (r < 0.95) {
        if (model.length > 0) {
          ring.shift();
          model.shift();
        }
      } else ring.shrink();
      assert.equal(ring.count, model.length);
      assert.ok(ring.capacity >= ring.count && (ring.capacity & (ring.capacity - 1)) === 0);
    }
    assert.deepEqual(entries(ring), model);
  });

  it('takes a window of steady size with no growth, and gives a burst back on shrink', () => {
    const ring = new KeptRing();
    for (let i = 0; i < 100; i++) ring.push(frame(i), 0, 1, i, 0);
    const grown = ring.capacity;
    assert.equal(grown, 128);
    // Steady state: one in, one out, for many turns round the ring: the capacity holds.
    for (let i = 100; i < 10_000; i++) {
      ring.shift();
      ring.push(frame(i), 0, 1, i, 0);
    }
    assert.equal(ring.capacity, grown);
    assert.deepEqual(
      entries(ring).map((e) => e[3]),
      Array.from({ length: 100 }, (_, k) => 9_900 + k),
    );
    // The burst is over: 10 kept of 128 slots. Shrink keeps them, in order, in fewer slots.
    while (ring.count > 10) ring.shift();
    ring.shrink();
    assert.equal(ring.capacity, 32);
    assert.deepEqual(
      entries(ring).map((e) => e[3]),
      Array.from({ length: 10 }, (_, k) => 9_990 + k),
    );
    while (ring.count > 0) ring.shift();
    ring.shrink();
    assert.equal(ring.capacity, 4, 'not below the minimum');
  });

  it('setItem replaces an entry in place', () => {
    const ring = new KeptRing();
    for (let i = 0; i < 12; i++) ring.push(frame(i), i, 1, i, 0);
    for (let i = 0; i < 5; i++) ring.shift();
    const own = Buffer.from('own');
    ring.setItem(2, own);
    assert.equal(ring.item(2), own);
    assert.equal(ring.off(2), 7);
    assert.deepEqual(ring.item(1), frame(6));
  });
});
