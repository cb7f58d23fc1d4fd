import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ticker, type TickMember } from '../../orchestrator/session/ticker.ts';

describe('Ticker: one clock for many members', () => {
  it('ticks members in joining order; one leaving mid-tick is skipped, one joining mid-tick ticks', async () => {
    const ticker = new Ticker(20);
    const seen: string[] = [];
    const member = (name: string, act?: (count: number) => void): TickMember => ({
      tick(_now, count) {
        seen.push(`${name}${count}`);
        act?.(count);
      },
    });
    const c = member('c');
    const d = member('d');
    const a = member('a', (count) => {
      if (count === 1) ticker.delete(c); // leaves before its turn
      if (count === 1) ticker.add(d); // joins, ticked in this tick after the others
    });
    const b = member('b');
    ticker.add(a);
    ticker.add(b);
    ticker.add(c);
    assert.equal(ticker.running, true);
    const end = Date.now() + 5000;
    while (ticker.count < 2 && Date.now() < end) await sleep(5);
    for (const m of [a, b, d]) ticker.delete(m);
    assert.deepEqual(seen.slice(0, 6), ['a1', 'b1', 'd1', 'a2', 'b2', 'd2']);
    assert.equal(ticker.size, 0);
    assert.equal(ticker.running, false, 'no timer once nobody is left');
  });

  it('a member that leaves is not ticked again, and the ticker restarts for the next one', async () => {
    const ticker = new Ticker(10);
    let ticks = 0;
    const m: TickMember = {
      tick() {
        ticks += 1;
      },
    };
    ticker.add(m);
    const end = Date.now() + 5000;
    while (ticks < 1 && Date.now() < end) await sleep(5);
    ticker.delete(m);
    const after = ticks;
    await sleep(50);
    assert.equal(ticks, after, 'not ticked after leaving');
    ticker.add(m);
    while (ticks === after && Date.now() < end) await sleep(5);
    ticker.delete(m);
    assert.ok(ticks > after, 'ticked again after rejoining');
  });
});
