import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { elasticityMetrics, elasticSpeedup, type MetricsInput } from '../../manager/quality/metrics.ts';
import { integrate, type StepPoint, totalVariation } from '../../manager/quality/step-series.ts';
import { tournament } from '../../manager/quality/tournament.ts';

const steps = (...pairs: Array<[number, number]>): StepPoint[] => pairs.map(([t, v]) => ({ t, v }));

interface Case {
  name: string;
  input: MetricsInput;
  expected: Partial<Record<keyof ReturnType<typeof elasticityMetrics>, number>>;
}

// Every expected value below is worked out by hand in the comment beside it.
const CASES: Case[] = [
  {
    name: 'constant demand, supply under then over',
    // d = 2 on [0,10]; s = 1 on [0,4), 2 on [4,6), 3 on [6,10]
    input: { demand: steps([0, 2]), supply: steps([0, 1], [4, 2], [6, 3]), from: 0, to: 10 },
    expected: {
      thetaU: 20, // (2−1)/2·4 s = 2 → 100·2/10
      thetaO: 20, // (3−2)/2·4 s = 2
      tauU: 40,
      tauO: 40,
      instability: 20, // supply moves at 4 and 6 while demand stands still: 2 of 10 s
      jitterPerMinute: 12, // (2 − 0) changes / 10 s · 60
      scalingActions: 2,
      replicaSeconds: 20, // 1·4 + 2·2 + 3·4
      meanSupply: 2,
      meanDemand: 2,
    },
  },
  {
    name: 'a period of zero demand counts against a floor of one replica',
    // d = 0 on [0,5), 2 on [5,10]; s = 1 throughout
    input: { demand: steps([0, 0], [5, 2]), supply: steps([0, 1]), from: 0, to: 10 },
    expected: {
      thetaU: 25, // (2−1)/2·5 = 2.5
      thetaO: 50, // (1−0)/max(0,1)·5 = 5
      tauU: 50,
      tauO: 50,
      instability: 0, // supply never moves
      jitterPerMinute: -6, // (0 − 1) / 10 · 60
      scalingActions: 0,
      replicaSeconds: 10,
    },
  },
  {
    name: 'unequal sampling: breakpoints between grid points and a supply sample that repeats',
    // d = 1 on [0,2.5), 3 after; s = 1 (sampled at 0 and 1), 3 from 3.7; T = 5
    input: { demand: steps([0, 1], [2.5, 3]), supply: steps([0, 1], [1, 1], [3.7, 3]), from: 0, to: 5 },
    expected: {
      thetaU: 16, // (3−1)/3·1.2 s = 0.8 → 100·0.8/5
      thetaO: 0,
      tauU: 24, // 1.2/5
      tauO: 0,
      instability: 20, // grid: demand moves at t=3, supply at t=4 (demand still): 1 of 5 s
      jitterPerMinute: 0, // one change each
      scalingActions: 2,
      replicaSeconds: 7.6, // 1·3.7 + 3·1.3
    },
  },
  {
    name: 'supply moving with demand is stable; against it or alone is not',
    // d: 1, 2 at 2, 1 at 4; s: 1, 2 at 2, 1 at 3; T = 6
    input: { demand: steps([0, 1], [2, 2], [4, 1]), supply: steps([0, 1], [2, 2], [3, 1]), from: 0, to: 6 },
    expected: {
      instability: 100 / 6, // t=2 both up: stable; t=3 supply down alone: unstable; t=4 demand alone: not
      tauU: 100 / 6, // [3,4): d=2 > s=1
      thetaU: 50 / 6, // (2−1)/2·1
    },
  },
  {
    name: 'series that start after the run began hold their first value before it',
    input: { demand: steps([2, 2]), supply: steps([4, 3]), from: 0, to: 8 },
    expected: { thetaO: 50, tauO: 100, replicaSeconds: 24, scalingActions: 0 },
  },
  {
    name: 'SLO seconds from a p99 series',
    input: {
      demand: steps([0, 1]),
      supply: steps([0, 1]),
      from: 0,
      to: 10,
      p99Ms: steps([0, 50], [3, 250], [5, 100]),
      sloMs: 200,
    },
    expected: { sloViolationSeconds: 2, thetaU: 0, thetaO: 0, instability: 0, jitterPerMinute: 0 },
  },
  {
    name: 'billed replicas set the cost, supply the accuracy',
    input: {
      demand: steps([0, 1]),
      supply: steps([0, 1]),
      billed: steps([0, 1], [2, 2], [6, 1]),
      from: 0,
      to: 10,
    },
    expected: { replicaSeconds: 14, thetaO: 0 },
  },
];

describe('elasticity metrics (SPEC RG) against hand-computed series', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const m = elasticityMetrics(c.input);
      for (const [key, value] of Object.entries(c.expected)) {
        const got = m[key as keyof typeof m];
        assert.ok(Math.abs(got - value) < 1e-9, `${key}: ${got}, expected ${value}`);
      }
    });
  }

  it('a coarser grid sees fewer supply steps (instability and jitter depend on it)', () => {
    const input = { demand: steps([0, 2]), supply: steps([0, 1], [4, 2], [6, 3]), from: 0, to: 10 };
    const m = elasticityMetrics({ ...input, gridSeconds: 5 });
    assert.equal(m.instability, 100); // t=5: 1→2, t=10: 2→3, each a 5 s step: all of the 10 s
    assert.equal(m.jitterPerMinute, 12);
  });

  it('rejects an empty run and a series without points', () => {
    assert.throws(() => elasticityMetrics({ demand: steps([0, 1]), supply: steps([0, 1]), from: 3, to: 3 }));
    assert.throws(() => elasticityMetrics({ demand: [], supply: steps([0, 1]), from: 0, to: 1 }));
  });

  it('step helpers: integral and total variation over a window', () => {
    const s = steps([0, 1], [2, 4], [5, 2]);
    assert.equal(integrate(s, 1, 6), 1 + 12 + 2);
    assert.equal(totalVariation(s, 0, 6), 5);
    assert.equal(totalVariation(s, 2, 6), 2); // the change at t=2 is not inside (2, 6]
  });
});

describe('elastic speedup and tournament', () => {
  const base = elasticityMetrics(CASES[0]?.input as MetricsInput);
  it('speedup is 1 against itself, above 1 when better, below when worse', () => {
    assert.equal(elasticSpeedup(base, base), 1);
    const better = { ...base, thetaU: base.thetaU / 2, tauU: base.tauU / 2 };
    assert.ok(elasticSpeedup(better, base) > 1);
    assert.ok(elasticSpeedup(base, better) < 1);
    const perfect = { ...base, thetaU: 0, thetaO: 0, tauU: 0, tauO: 0, instability: 0 };
    assert.ok(Number.isFinite(elasticSpeedup(perfect, base)));
  });

  it('win 1, draw 0.5, loss 0 per metric; jitter by its magnitude', () => {
    const worse = {
      ...base,
      thetaU: 30,
      thetaO: 30,
      tauU: 50,
      tauO: 50,
      instability: 30,
      jitterPerMinute: -20,
    };
    const r = tournament([
      { name: 'a', metrics: base },
      { name: 'b', metrics: worse },
      { name: 'c', metrics: { ...base } },
    ]);
    assert.deepEqual(r.totals, { a: 6 + 3, b: 0 + 0, c: 6 + 3 });
    const ac = r.pairs.find((p) => p.a === 'a' && p.b === 'c');
    assert.equal(ac?.pointsA, 3);
    assert.equal(ac?.outcomes.thetaU, 'draw');
    const ab = r.pairs.find((p) => p.a === 'a' && p.b === 'b');
    assert.equal(ab?.outcomes.jitterPerMinute, 'a'); // |12| < |−20|
  });
});
