import assert from 'node:assert/strict';
import { it } from 'node:test';
import { PendingConnections } from '../../orchestrator/pending-connections.ts';

it('pending connections: room up to the bound, refusals counted and logged at most once per interval', () => {
  let now = 0;
  const p = new PendingConnections<string>(2, () => now);
  for (const k of ['a', 'b']) {
    assert.equal(p.hasRoom(), true);
    p.add(k);
  }
  assert.equal(p.hasRoom(), false);
  assert.equal(p.hasRoom(), false);
  assert.equal(p.refusedTotal, 2);
  assert.equal(p.refusalsToLog(), 2);
  assert.equal(p.hasRoom(), false);
  assert.equal(p.refusalsToLog(), undefined, 'not again within the interval');
  now = 10_000;
  assert.equal(p.refusalsToLog(), 1);
  p.settle('a');
  p.settle('a');
  assert.equal(p.size, 1);
  assert.equal(p.hasRoom(), true);
  const unbounded = new PendingConnections<number>(0);
  for (let i = 0; i < 5; i++) unbounded.add(i);
  assert.equal(unbounded.hasRoom(), true, '0: no bound');
});
