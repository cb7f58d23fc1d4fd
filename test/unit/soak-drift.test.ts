import assert from 'node:assert/strict';
import { it } from 'node:test';
import { type LatencyInterval, soakDrift } from '../../bench/lib/soak-drift.ts';

const intervals = (p99: number[], direct?: number[]): LatencyInterval[] =>
  p99.map((p99Ms, i) => ({ t: i * 10, p99Ms, ...(direct ? { directP99Ms: direct[i] } : {}) }));

it('soak drift: first- and last-quarter medians after the warm-up, per path; one slow interval moves neither', () => {
  // Warm-up to t = 20 (two intervals of 100 ms, not counted); then 12 intervals: quarters of 3.
  const d = soakDrift(
    intervals(
      [100, 100, 6, 50, 6, 7, 7, 8, 9, 10, 12, 12, 90, 12],
      [100, 100, 4, 4, 40, 4, 4, 4, 5, 4, 4, 4, 4, 60],
    ),
    20,
  );
  assert.equal(d?.perQuarter, 3);
  assert.deepEqual(d?.orchestrator, { firstMs: 6, lastMs: 12, ratio: 2 });
  assert.deepEqual(d?.direct, { firstMs: 4, lastMs: 4, ratio: 1 });
});

it('soak drift: no direct path without a reference, or when an interval lacks it; nothing from fewer than 8 intervals', () => {
  assert.equal(soakDrift(intervals([5, 5, 5, 5, 5, 5, 5, 5]), 0)?.direct, undefined);
  const partial = intervals([5, 5, 5, 5, 5, 5, 5, 5], [1, 1, 1, 1, 1, 1, 1, 1]);
  delete partial[7]?.directP99Ms;
  assert.equal(soakDrift(partial, 0)?.direct, undefined);
  assert.ok(soakDrift(partial, 0)?.orchestrator);
  assert.equal(soakDrift(intervals([5, 5, 5, 5, 5, 5, 5]), 0), undefined);
  assert.equal(soakDrift(intervals([5, 5, 5, 5, 5, 5, 5, 5, 5, 5]), 30), undefined); // 7 after the warm-up
});
