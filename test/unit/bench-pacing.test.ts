// test-process: own
// Its own process (scripts/run-tests.sh): it times real timers to a few milliseconds, which the garbage
// and leftover timers of other files in a shared process would disturb.
// The paired A/B bench's pure parts (bench/ab-pair.ts): loads paced on one tick take turns going
// first (SharedPacing), and per-round ratios measured in opposite orders are combined in pairs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SharedPacing } from '../../bench/lib/load-generator.ts';
import { pairedGeometricMeans } from '../../bench/lib/stats.ts';

describe('paired A/B pacing', () => {
  it('calls every load once a tick, each going first in turn', async () => {
    const pacing = new SharedPacing();
    const calls: string[] = [];
    const stopA = pacing.add(() => calls.push('a'));
    const stopB = pacing.add(() => calls.push('b'));
    // Ten ticks or more: on a 1 ms interval that is ~10 ms, but a loaded machine may hold the process
    // back for longer, so the test waits for them (up to 5 s) rather than for a set time.
    for (const giveUp = Date.now() + 5000; calls.length < 20 && Date.now() < giveUp; ) await sleep(5);
    stopA();
    stopB();
    const ticks = Math.floor(calls.length / 2);
    assert.ok(ticks >= 10, `${ticks} ticks in 5 s`);
    const firsts = Array.from({ length: ticks }, (_, k) => calls[2 * k]);
    for (let k = 0; k < ticks; k++) {
      assert.notEqual(calls[2 * k], calls[2 * k + 1], `tick ${k} called one load twice: ${calls.join('')}`);
      if (k > 0)
        assert.notEqual(firsts[k], firsts[k - 1], `the same load went first twice: ${calls.join('')}`);
    }
  });

  it('stops ticking once every load is removed, and a removed load is not called', async () => {
    const pacing = new SharedPacing();
    let a = 0;
    let b = 0;
    const stopA = pacing.add(() => {
      a += 1;
    });
    const stopB = pacing.add(() => {
      b += 1;
    });
    await sleep(20);
    stopA();
    const aStopped = a;
    await sleep(20);
    assert.equal(a, aStopped);
    assert.ok(b > aStopped, `b ${b} kept ticking after a stopped at ${aStopped}`);
    stopB();
    const bStopped = b;
    await sleep(20);
    assert.equal(b, bStopped);
  });

  it('combines ratios of opposite orders by their geometric mean, in pairs', () => {
    assert.deepEqual(pairedGeometricMeans([1.25, 0.8, 2, 0.5]), [1, 1]);
    const [m] = pairedGeometricMeans([1.1, 1.0, 7]);
    assert.ok(Math.abs((m ?? 0) - Math.sqrt(1.1)) < 1e-12);
    assert.equal(pairedGeometricMeans([1.1, 1.0, 7]).length, 1);
    assert.deepEqual(pairedGeometricMeans([]), []);
  });
});
