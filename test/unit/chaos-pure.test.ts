import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CloudProvider, Replica } from '../../manager/providers/cloud-provider.ts';
import { Ledger, longestGap } from '../../workload/chaos/ledger.ts';
import {
  type CreateRecord,
  overlappingCreates,
  RelayedProvider,
} from '../../workload/chaos/relayed-provider.ts';
import { failuresOf } from '../../workload/chaos/report.ts';
import { FAULT_KINDS, planFaults } from '../../workload/chaos/schedule.ts';

const base = {
  startMs: 3000,
  durationMs: 600_000,
  stopMs: 50_000,
  gapMs: { min: 2000, max: 6000 },
};

describe('chaos schedule (pure)', () => {
  it('is the same for the same seed, differs across seeds, and fits in the run', () => {
    const a = planFaults({ ...base, seed: 7 });
    assert.deepEqual(planFaults({ ...base, seed: 7 }), a);
    assert.notDeepEqual(planFaults({ ...base, seed: 8 }), a);
    for (const e of a) {
      assert.ok(e.atMs >= base.startMs);
      assert.ok(e.atMs + e.durationMs <= base.durationMs, `${e.kind} ends in time`);
    }
  });

  it('gives every kind once per round, one fault at a time, with a quiet gap after each', () => {
    const plan = planFaults({ ...base, seed: 3 });
    assert.deepEqual(new Set(plan.slice(0, FAULT_KINDS.length).map((e) => e.kind)), new Set(FAULT_KINDS));
    for (let i = 1; i < plan.length; i++) {
      const prev = plan[i - 1];
      const next = plan[i];
      assert.ok(prev && next && next.atMs >= prev.atMs + prev.durationMs + base.gapMs.min);
    }
    const blackhole = plan.find((e) => e.kind === 'net-blackhole');
    assert.equal(blackhole?.durationMs, 10_000, 'the 10 s partition of the issue');
    assert.equal(plan.find((e) => e.kind === 'stop-broker')?.durationMs, 50_000);
  });

  it('leaves out a fault that would not end in time, and keeps shorter ones', () => {
    const plan = planFaults({ ...base, seed: 1, durationMs: 40_000 });
    assert.ok(!plan.some((e) => e.kind === 'stop-broker'), 'a 50 s SIGSTOP does not fit in 40 s');
    assert.ok(plan.length >= 3, 'the shorter faults are still there');
    const resets = planFaults({ ...base, seed: 1, kinds: ['net-reset'], durationMs: 20_000 });
    assert.ok(resets.length >= 3);
    assert.ok(resets.every((e) => e.kind === 'net-reset'));
  });
});

describe('chaos ledger (pure)', () => {
  it('owes a persistent session everything acknowledged, a clean one only what it was there for', () => {
    const ledger = new Ledger(1000);
    const persistent = ledger.addSubscriber('p', true);
    const clean = ledger.addSubscriber('c', false);
    ledger.connected(persistent, 0);
    ledger.connected(clean, 0);
    for (let seq = 0; seq < 10; seq++) {
      ledger.sent('t', seq, 2000 + seq * 1000);
      ledger.acked('t', seq, 2000 + seq * 1000 + 10);
    }
    ledger.sent('t', 10, 12_500); // never acknowledged: owed to nobody
    // The clean one is away from 4.5 s to 7 s (seqs 2..6 are sent or acked too close to that).
    ledger.closed(clean, 4500);
    ledger.connected(clean, 7000);
    for (const seq of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      ledger.delivered(persistent, 't', seq, 2100 + seq * 1000);
    ledger.delivered(persistent, 't', 3, 9999); // a duplicate
    for (const seq of [0, 1, 8]) ledger.delivered(clean, 't', seq, 2100 + seq * 1000);
    ledger.delivered(clean, 't', 1, 9000); // a duplicate, not a reorder
    const s = ledger.summary();
    assert.equal(s.sent, 11);
    assert.equal(s.acked, 10);
    assert.equal(s.unacked, 1);
    const [p, c] = s.subscribers;
    assert.deepEqual([p?.owed, p?.lost, p?.duplicates, p?.excused], [10, 0, 1, 0]);
    // Owed to the clean one: seq 0, 1 (acked ≥ 1 s before it left) and 6..9 (sent ≥ 1 s after it came back).
    assert.deepEqual([c?.owed, c?.lost, c?.excused, c?.duplicates, c?.reconnects], [6, 3, 4, 1, 1]);
    assert.deepEqual(
      c?.lostSample.map((l) => [l.topic, l.seq]),
      [
        ['t', 6],
        ['t', 7],
        ['t', 9],
      ],
    );
    assert.equal(s.lost, 3);
  });

  it('counts a first copy below the highest seq seen as reordered', () => {
    const ledger = new Ledger();
    const sub = ledger.addSubscriber('p', true);
    for (const seq of [0, 2, 1, 3]) ledger.delivered(sub, 't', seq, seq);
    assert.equal(ledger.summary().reordered, 1);
  });

  it('measures the longest stall from the first to the last publish', () => {
    assert.equal(longestGap([1, 2, 10, 11], 0, 12), 8);
    assert.equal(longestGap([1, 2], 0, 20), 18, 'nothing after 2 s is a stall to the end');
    assert.equal(longestGap([], 0, 5), 5);
  });
});

describe('chaos verdict (pure)', () => {
  const create = (id: string, level: 'broker' | 'orchestrator', at: number, ready?: number, gone?: number) =>
    ({ id, level, requestedAt: at, readyAt: ready, goneAt: gone }) satisfies CreateRecord;

  it('calls a create while another of its level still boots a duplicate action', () => {
    const creates = [
      create('b1', 'broker', 0, 100),
      create('b2', 'broker', 200, 300),
      create('o1', 'orchestrator', 250),
      create('b3', 'broker', 260, 400), // b2 was still booting
      create('b4', 'broker', 500),
      create('b5', 'broker', 600), // b4 failed before: not a duplicate
    ];
    creates[4] = { ...create('b4', 'broker', 500), goneAt: 550 };
    assert.deepEqual(
      overlappingCreates(creates).map((c) => c.id),
      ['b3'],
    );
  });

  it('fails the run on loss, unacknowledged publishes, orphans, duplicate actions and leftovers', () => {
    const ok = {
      seed: 1,
      minutes: 1,
      ratePerSecond: 10,
      loadAverage: { before: [], after: [] },
      delivery: {
        sent: 10,
        acked: 10,
        unacked: 0,
        subscribers: [],
        lost: 0,
        duplicates: 3,
        reordered: 2,
        longestStallMs: 0,
      },
      orphaned: [],
      duplicateActions: [],
      leftoverProcesses: [],
      managerStarts: 1,
      timeline: [],
      faultWindows: [],
      creates: [],
    };
    assert.deepEqual(failuresOf(ok), []);
    assert.deepEqual(failuresOf({ ...ok, delivery: { ...ok.delivery, lost: 2 } }), ['2 messages lost']);
    assert.equal(failuresOf({ ...ok, orphaned: ['b9'], duplicateActions: ['broker b3'] }).length, 2);
    // A manager that did not come back (seed 2 crashed on it, with no report): a failure, not a crash.
    const late = '498.5 s kill-manager for 5.0 s (began 498.5 s): failed: Error: brokel up: not up in time';
    assert.deepEqual(
      failuresOf({ ...ok, timeline: ['3.0 s kill-manager for 5.0 s (began 3 s): SIGKILL manager'] }),
      [],
    );
    assert.equal(failuresOf({ ...ok, timeline: [late] }).length, 1);
    assert.match(
      failuresOf({ ...ok, timeline: ['601 s manager restart failed: Error: x'] })[0] ?? '',
      /manager restarts failed/,
    );
  });
});

describe("the relayed provider's create records", () => {
  it('a replica id used again (o2 after o2 died) gets its own readiness: no false duplicate action', async () => {
    const replicas = new Map<string, Replica>();
    const replica = (id: string, state: Replica['state']): Replica => ({
      id,
      level: 'orchestrator',
      template: 'orchestrator',
      host: '127.42.0.2',
      port: 1883,
      url: 'mqtt://127.42.0.2:1883',
      state,
      cpuQuota: undefined,
      createdAt: 0,
      readyAt: state === 'ready' ? 1 : undefined,
      ports: {},
      failure: undefined,
    });
    const inner = {
      kind: 'stub',
      list: async () => [...replicas.values()],
      create: async () => {
        const r = replica(`o${replicas.size === 0 ? 2 : 3}`, 'booting');
        if (!replicas.has('o2')) r.id = 'o2';
        replicas.set(r.id, r);
        return r;
      },
      waitReady: async (id: string) => {
        const r = replica(id, 'ready');
        replicas.set(id, r);
        return r;
      },
      markDraining: async () => undefined,
      destroy: async (id: string) => void replicas.delete(id),
      cpu: async () => new Map(),
      stop: async () => undefined,
      close: async () => undefined,
    } satisfies CloudProvider;
    const p = new RelayedProvider(inner);
    await p.create('orchestrator', 'orchestrator');
    await p.waitReady('o2', 1000);
    await p.destroy('o2');
    await p.create('orchestrator', 'orchestrator'); // the provider names it o2 again
    await p.waitReady('o2', 1000);
    await p.create('orchestrator', 'orchestrator'); // o3, once the second o2 is ready
    assert.deepEqual(
      p.creates.map((c) => [c.id, c.readyAt !== undefined]),
      [
        ['o2', true],
        ['o2', true],
        ['o3', false],
      ],
    );
    assert.deepEqual(overlappingCreates(p.creates), []);
  });
});
