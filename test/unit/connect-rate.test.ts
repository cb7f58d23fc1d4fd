import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ConnectGate } from '../../orchestrator/connect-gate.ts';
import { TokenBucket } from '../../orchestrator/connect-rate.ts';
import { PendingConnections } from '../../orchestrator/pending-connections.ts';

it('token bucket: a burst at once, then one token per 1000/rate ms, never above the burst', () => {
  const b = new TokenBucket(100, 3, 0);
  assert.deepEqual([b.take(0), b.take(0), b.take(0), b.take(0)], [true, true, true, false]);
  assert.equal(b.msUntilNext(0), 10);
  assert.equal(b.take(9), false);
  assert.equal(b.take(10), true);
  assert.equal(b.msUntilNext(10_000), 0);
  assert.deepEqual(
    [b.take(10_000), b.take(10_000), b.take(10_000), b.take(10_000)],
    [true, true, true, false],
  );
  assert.throws(() => new TokenBucket(0, 1, 0), RangeError);
});

it('connect gate: over the rate CONNECTs wait in order; a full queue refuses; close refuses the waiting', async () => {
  let now = 0;
  const gate = new ConnectGate({ connectsPerSecond: 1000, connectBurst: 2, maxQueuedConnects: 2 }, () => now);
  assert.equal(gate.admit(), 'admitted');
  assert.equal(gate.admit(), 'admitted');
  const order: string[] = [];
  const third = gate.admit() as Promise<string>;
  const fourth = gate.admit() as Promise<string>;
  void third.then((a) => order.push(`3:${a}`));
  void fourth.then((a) => order.push(`4:${a}`));
  assert.equal(gate.queued, 2);
  assert.equal(gate.admit(), 'refused', 'the queue is full');
  now = 1; // one token: the first waiter only
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(order, ['3:admitted']);
  gate.close();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, ['3:admitted', '4:refused']);
  assert.equal(gate.refusedTotal, 1);
});

it('connect gate: no limit when connectsPerSecond is 0', () => {
  const gate = new ConnectGate({ connectsPerSecond: 0, connectBurst: 0, maxQueuedConnects: 0 });
  for (let i = 0; i < 10_000; i++) assert.equal(gate.admit(), 'admitted');
});

it('connect gate: a client gone while waiting is skipped without spending a token', async () => {
  let now = 0;
  const gate = new ConnectGate({ connectsPerSecond: 1000, connectBurst: 1, maxQueuedConnects: 5 }, () => now);
  assert.equal(gate.admit(), 'admitted');
  let left = false;
  const first = gate.admit(() => left);
  const second = gate.admit();
  left = true;
  now = 1; // one token
  // The gate's timer is unref'd (it must not hold a closing process open): something else keeps this
  // test's event loop alive until it fires, or node:test may find the loop empty and fail the file.
  const alive = setTimeout(() => undefined, 5000);
  try {
    assert.deepEqual(await Promise.all([first, second]), ['refused', 'admitted']);
  } finally {
    clearTimeout(alive);
  }
});

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
