import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BrokerWindows } from '../../orchestrator/session/broker-windows.ts';

describe('broker windows', () => {
  it('counts slots per broker, keeps a count at zero while its broker stays, and forgets it when the broker goes', () => {
    const w = new BrokerWindows<number>();
    w.take('a');
    w.take('a');
    w.take('b', true);
    assert.deepEqual([w.inUse('a'), w.inUse('b'), w.inUseQos2('b'), w.inUse('c')], [2, 1, 1, 0]);
    w.release('a');
    w.release('b', true);
    w.release('c'); // never taken: nothing below zero, and no write to the shared empty map
    assert.deepEqual([w.inUse('a'), w.inUse('b'), w.inUseQos2('b'), w.inUse('c')], [1, 0, 0, 0]);
    const used = (w as unknown as { used: Map<string, number> }).used;
    // One publish in flight at a time: the map never empties, so V8 never gives it a new table.
    for (let i = 0; i < 100; i++) {
      w.take('b');
      w.release('b');
    }
    assert.deepEqual(
      [...used],
      [
        ['a', 1],
        ['b', 0],
      ],
    );
    assert.deepEqual(w.takeWaiting('b'), []);
    assert.deepEqual([...used], [['a', 1]], 'the count of a broker gone is dropped at zero');
    assert.deepEqual(w.takeWaiting('a'), []);
    assert.deepEqual([...used], [['a', 1]], 'a count above zero stays: its publishes are still to be moved');
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
