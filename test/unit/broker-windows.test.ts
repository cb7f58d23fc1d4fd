import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BrokerWindows } from '../../orchestrator/session/broker-windows.ts';

describe('broker windows', () => {
  it('counts slots per broker and forgets a broker at zero', () => {
    const w = new BrokerWindows<number>();
    w.take('a');
    w.take('a');
    w.take('b');
    assert.deepEqual([w.inUse('a'), w.inUse('b'), w.inUse('c')], [2, 1, 0]);
    w.release('a');
    w.release('b');
    assert.deepEqual([w.inUse('a'), w.inUse('b')], [1, 0]);
  });

  it('hands out waiting items first in, first out, per broker', () => {
    const w = new BrokerWindows<number>();
    for (const i of [1, 2, 3]) w.wait('a', i);
    w.wait('b', 9);
    assert.equal(w.waitingCount, 4);
    assert.equal(w.hasWaiting('a'), true);
    assert.deepEqual([w.next('a'), w.next('a')], [1, 2]);
    assert.deepEqual(w.takeWaiting('a'), [3]);
    assert.equal(w.hasWaiting('a'), false);
    assert.equal(w.next('a'), undefined);
    assert.equal(w.waitingCount, 1);
    assert.deepEqual(w.takeWaiting('b'), [9]);
    assert.equal(w.waitingCount, 0);
  });
});
