import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEvictBody } from '../../common/admin/schemas.ts';
import type { EvictRequest } from '../../common/eviction-contract.ts';
import { planRebalance, planSeconds, withinThresholds } from '../../manager/rebalance/plan.ts';
import { type Evictable, Evictor, pickEvictees } from '../../orchestrator/eviction.ts';

const DEFAULTS = { absThreshold: 100, relThreshold: 1.1 };
const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

describe('rebalance planner (pure)', () => {
  it('within the thresholds: nothing moves (abs 100 or rel 1.1, whichever is looser)', () => {
    assert.deepEqual(planRebalance({ sessions: { a: 150, b: 60 } }, DEFAULTS).moves, []);
    assert.deepEqual(
      planRebalance({ sessions: { a: 1050, b: 1000 } }, { ...DEFAULTS, absThreshold: 4 }).moves,
      [],
    );
    assert.ok(withinThresholds(100, 0, DEFAULTS));
    assert.ok(!withinThresholds(101, 0, DEFAULTS));
    assert.ok(withinThresholds(1100, 1000, { absThreshold: 0, relThreshold: 1.1 }));
    assert.ok(!withinThresholds(1101, 1000, { absThreshold: 0, relThreshold: 1.1 }));
  });

  it('40 on one, a second joins (abs 4): moves from the busiest to the least busy until within, no more', () => {
    const plan = planRebalance({ sessions: { o1: 40, o2: 0 } }, { absThreshold: 4, relThreshold: 1.1 });
    assert.deepEqual(plan.moves, [{ from: 'o1', to: 'o2', count: 18 }]);
    assert.deepEqual(plan.after, { o1: 22, o2: 18 });
    assert.ok(withinThresholds(22, 18, { absThreshold: 4, relThreshold: 1.1 }));
  });

  it('moves the fewest sessions that bring the pair inside (1000 vs 0 at the defaults: 450)', () => {
    const plan = planRebalance({ sessions: { a: 1000, b: 0 } }, DEFAULTS);
    assert.deepEqual(plan.moves, [{ from: 'a', to: 'b', count: 450 }]);
  });

  it('three orchestrators: every pair ends within the thresholds, the total is kept, no one both gives and takes', () => {
    const t = { absThreshold: 4, relThreshold: 1.05 };
    const cases: Array<Record<string, number>> = [
      { a: 90, b: 0, c: 0 },
      { a: 100, b: 0, c: 95 },
      { a: 7, b: 300, c: 20, d: 0 },
    ];
    for (const sessions of cases) {
      const plan = planRebalance({ sessions }, t);
      assert.equal(total(plan.after), total(sessions));
      const values = Object.values(plan.after);
      assert.ok(withinThresholds(Math.max(...values), Math.min(...values), t), JSON.stringify(plan));
      const givers = new Set(plan.moves.map((m) => m.from));
      assert.ok(
        plan.moves.every((m) => !givers.has(m.to)),
        'a session is never planned to move twice',
      );
    }
  });

  it('evacuation: every session of the leaving orchestrator goes, to the least busy ones first', () => {
    const plan = planRebalance({ sessions: { a: 40, b: 10, c: 30 }, leaving: ['a'] }, DEFAULTS);
    assert.equal(plan.after.a, 0);
    assert.deepEqual(plan.moves, [
      { from: 'a', to: 'b', count: 30 },
      { from: 'a', to: 'c', count: 10 },
    ]);
    assert.deepEqual(planRebalance({ sessions: { a: 5 }, leaving: ['a'] }, DEFAULTS).moves, []);
    assert.equal(planSeconds(plan.moves, 15), 3);
  });

  it('later rounds of a run: earlier sources only give, earlier targets only take (no ping-pong)', () => {
    const t = { absThreshold: 4, relThreshold: 1.1 };
    // b took in round 1 and is now the busiest (clients sent to c landed on b): it gives nothing back.
    const plan = planRebalance({ sessions: { a: 10, b: 30, c: 0 }, gave: ['a'], took: ['b'] }, t);
    assert.ok(plan.moves.length > 0);
    assert.ok(
      plan.moves.every((m) => m.from !== 'b' && m.to !== 'a'),
      `no move out of b or into a: ${JSON.stringify(plan.moves)}`,
    );
  });

  it('a target that did not take its clients (closed) gets none; the others still do', () => {
    const t = { absThreshold: 4, relThreshold: 1.1 };
    const plan = planRebalance({ sessions: { o1: 40, o2: 0, o3: 0 }, closed: ['o2'] }, t);
    assert.ok(plan.moves.length > 0 && plan.moves.every((m) => m.to === 'o3'), JSON.stringify(plan.moves));
    assert.deepEqual(planRebalance({ sessions: { o1: 40, o2: 0 }, closed: ['o2'] }, t).moves, []);
  });

  it('is deterministic and ignores fractions and negatives', () => {
    const a = planRebalance({ sessions: { y: 10.7, x: 10, z: -3 } }, { absThreshold: 0, relThreshold: 1 });
    const b = planRebalance({ sessions: { z: -3, x: 10, y: 10.7 } }, { absThreshold: 0, relThreshold: 1 });
    assert.deepEqual(a, b);
    assert.equal(total(a.after), 20);
  });
});

class FakeSession implements Evictable {
  state: 'connecting' | 'connected' | 'closed' = 'connected';
  inflight = 0;
  redirectedTo: Array<string | undefined> = [];
  constructor(readonly name: string) {}
  buffers() {
    return { inflightFromClient: this.inflight, deliveriesInflight: 0 };
  }
  redirect(ref: string | undefined) {
    this.redirectedTo.push(ref);
    this.state = 'closed';
  }
}

describe('eviction (orchestrator side, pure parts)', () => {
  it('picks the oldest idle sessions first, busy ones only when idle ones run out, never young ones', () => {
    const s = ['a', 'b', 'c', 'd', 'e'].map((n) => new FakeSession(n));
    const at = new Map(s.map((x, i) => [x, 1000 + i * 100]));
    (s[0] as FakeSession).inflight = 3;
    (s[1] as FakeSession).state = 'connecting';
    const names = (want: number, minAgeMs: number) =>
      pickEvictees(s, (x) => at.get(x), want, 2000, minAgeMs).map((x) => x.name);
    assert.deepEqual(names(2, 0), ['c', 'd']);
    assert.deepEqual(names(4, 0), ['c', 'd', 'e', 'a']);
    assert.deepEqual(names(4, 750), ['c', 'a'], 'd (700 ms) and e (600 ms) are too young');
    assert.deepEqual(names(0, 0), []);
  });

  it('Evictor: at most perSecond × tick per tick, moves served in turn, ends when done', (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const s = Array.from({ length: 30 }, (_, i) => new FakeSession(`s${i}`));
    let now = 10_000;
    const evictor = new Evictor(
      () => s.filter((x) => x.state !== 'closed'),
      () => now,
      100,
    );
    for (const x of s) evictor.connected(x);
    now += 60_000;
    const request: EvictRequest = {
      moves: [
        { count: 5, serverReference: 'h1:1883' },
        { count: 3, serverReference: 'h2:1883' },
      ],
      perSecond: 20,
      minAgeSeconds: 30,
    };
    const first = evictor.start(request);
    assert.equal(first.evicted, 2, 'the first tick at once: 20/s × 100 ms');
    assert.equal(first.active, true);
    t.mock.timers.tick(100);
    assert.equal(evictor.status()?.evicted, 4);
    t.mock.timers.tick(300);
    const done = evictor.status();
    assert.equal(done?.evicted, 8);
    assert.equal(done?.active, false);
    assert.equal(done?.outcome, 'done');
    assert.deepEqual(
      done?.moves.map((m) => m.evicted),
      [5, 3],
    );
    const refs = s.flatMap((x) => x.redirectedTo);
    assert.equal(refs.filter((r) => r === 'h1:1883').length, 5);
    assert.equal(refs.filter((r) => r === 'h2:1883').length, 3);
    assert.deepEqual(
      s.slice(0, 8).map((x) => x.state),
      Array(8).fill('closed'),
      'the oldest went first',
    );
  });

  it('Evictor: ends "exhausted" when no session is old enough; a new request replaces one under way', (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const s = Array.from({ length: 4 }, (_, i) => new FakeSession(`s${i}`));
    const now = 5000;
    const evictor = new Evictor(
      () => s,
      () => now,
      100,
    );
    for (const x of s) evictor.connected(x);
    const young = evictor.start({ moves: [{ count: 2 }], perSecond: 100, minAgeSeconds: 60 });
    assert.equal(young.outcome, 'exhausted');
    assert.equal(young.evicted, 0);
    evictor.start({ moves: [{ count: 4 }], perSecond: 1, minAgeSeconds: 0 });
    const replaced = evictor.start({ moves: [{ count: 1 }], perSecond: 1, minAgeSeconds: 0 });
    assert.equal(replaced.requested, 1);
    assert.equal(evictor.start({ moves: [], perSecond: 1, minAgeSeconds: 0 }).outcome, 'cancelled');
  });
});

describe('POST /evict body (pure)', () => {
  it('accepts moves with a rate and an age; [] cancels; refuses bad ones naming the field', () => {
    assert.deepEqual(parseEvictBody({ moves: [{ count: 3, serverReference: 'h:1883' }], perSecond: 5 }), {
      moves: [{ count: 3, serverReference: 'h:1883' }],
      perSecond: 5,
      minAgeSeconds: 0,
    });
    assert.deepEqual(
      parseEvictBody({ moves: [], perSecond: 1, minAgeSeconds: 60, stopAccepting: true }).moves,
      [],
    );
    const refused = (body: unknown) => {
      try {
        parseEvictBody(body);
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    assert.match(refused({ moves: [{ count: -1 }], perSecond: 1 }), /moves\[0\]\.count: -1 is below 0/);
    assert.match(refused({ moves: [], perSecond: 0 }), /perSecond/);
    assert.match(
      refused({ moves: [{ count: 1, serverReference: 'a\tb' }], perSecond: 1 }),
      /serverReference/,
    );
    assert.match(refused({ moves: [], perSecond: 1, extra: 1 }), /extra|unrecognized/i);
    assert.match(refused(undefined), /moves/);
  });
});
