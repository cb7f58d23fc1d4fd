import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withLimits } from '../../cli/simulate.ts';
import { validate } from '../../common/config/load.ts';
import { type BrokelConfigInput, configSchema } from '../../common/config/schema.ts';
import { linearCurve } from '../../manager/quality/capacity-curve.ts';
import { type CapacityModel, simulate } from '../../manager/quality/simulator.ts';
import {
  countPerStep,
  RateIntegral,
  scaleToPeak,
  syntheticMonth,
} from '../../workload/elasticity/demand-trace.ts';

// One broker carries 100 msg/s at 100 % CPU; demand counts 80 msg/s per broker; boot 30 s.
const MODEL: CapacityModel = {
  fullMsgPerSecond: { broker: 100, orchestrator: 10_000 },
  curves: { broker: linearCurve(80), orchestrator: linearCurve(8000) },
  bootSeconds: { broker: 30, orchestrator: 30 },
  drainSeconds: 5,
};

function config(policy: 'reactive' | 'proactive' | 'hpa', over: BrokelConfigInput = {}) {
  return validate(configSchema, {
    policy,
    monitor: { intervalSeconds: 15, warmupObservations: 0 },
    levels: { brokers: { min: 1, max: 5 }, orchestrators: { min: 1, max: 1 } },
    sla: { maxReplicas: 6 },
    ...over,
  });
}

/** Per-minute rates: 0 msg/s for a minute, then 250 msg/s for four. */
const STEP = { stepSeconds: 60, rates: Float64Array.from([0, 250, 250, 250, 250]) };

describe('brokel simulate: the decide loop over a capacity model', () => {
  it('reactive: the smoothed load crosses upper one observation late, the broker is ready a boot later', () => {
    const r = simulate(STEP, config('reactive'), MODEL, { keepActions: true });
    // t=75: cpu 1, smoothed 0.5; t=90: smoothed 0.75 > 0.7 → add; ready at 90 + 30.
    assert.deepEqual(r.actions?.[0], {
      observation: 6,
      decision: r.actions?.[0]?.decision,
    });
    assert.equal(r.actions?.[0]?.decision.action, 'add');
    assert.deepEqual(r.levels.broker.supply.slice(0, 2), [
      { t: 0, v: 1 },
      { t: 120, v: 2 },
    ]);
    assert.deepEqual(r.levels.broker.billed.slice(0, 2), [
      { t: 0, v: 1 },
      { t: 90, v: 2 },
    ]);
    // Demand: 0 for the first minute, then ceil(250 / 80) = 4.
    assert.deepEqual(r.levels.broker.demand, [
      { t: 0, v: 0 },
      { t: 60, v: 4 },
    ]);
    assert.ok(r.levels.broker.metrics.tauU > 0);
    assert.equal(r.sloViolationSeconds, r.levels.broker.metrics.sloViolationSeconds);
  });

  it('hpa: the raw load of the first overloaded observation adds at once, several when needed', () => {
    const r = simulate(STEP, config('hpa'), MODEL, { keepActions: true });
    const first = r.actions?.[0];
    assert.equal(first?.observation, 5); // t=75: load 1 / target 0.5 → 2 replicas
    assert.equal(first?.decision.action === 'add' && first.decision.count, 1);
    assert.deepEqual(r.levels.broker.supply[1], { t: 105, v: 2 });
    const second = r.actions?.[1];
    // t=105: 2 ready, each at min(1, 250/200) = 1 → 4, within max(2·2, 2+4) → add 2.
    assert.equal(second?.observation, 7);
    assert.equal(second?.decision.action === 'add' && second.decision.count, 2);
    assert.equal(r.levels.broker.maxSupply, 5); // then 4 at 0.625 each → ceil(4 · 1.25) = 5, at max
  });

  it('--max-add (maxAddPerAction): a saturated reactive level adds several brokers at once and is short for less time', () => {
    const surge = { stepSeconds: 60, rates: Float64Array.from([0, 350, 350, 350, 350, 350, 350]) };
    const one = simulate(surge, config('reactive'), MODEL, { keepActions: true });
    const cfg = withLimits(config('reactive'), 'reactive', 5, 1, 4);
    assert.equal(cfg.levels.brokers.maxAddPerAction, 4);
    assert.equal(cfg.levels.orchestrators.maxAddPerAction, 4);
    const several = simulate(surge, cfg, MODEL, { keepActions: true });
    const counts = (r: typeof one) =>
      (r.actions ?? []).flatMap((a) => (a.decision.action === 'add' ? [a.decision.count ?? 1] : []));
    assert.ok(
      counts(one).every((c) => c === 1),
      `one at a time by default: ${counts(one)}`,
    );
    assert.ok(Math.max(...counts(several)) > 1, `several in one add: ${counts(several)}`);
    assert.equal(several.levels.broker.maxSupply, 5); // never past max
    assert.ok(
      several.levels.broker.metrics.thetaU < one.levels.broker.metrics.thetaU,
      `under-provisioning ${several.levels.broker.metrics.thetaU} % vs ${one.levels.broker.metrics.thetaU} %`,
    );
    // Without the flag the file's (here the default) value stays.
    assert.equal(withLimits(config('reactive'), 'reactive', 5, 1).levels.brokers.maxAddPerAction, 1);
  });

  it('a level with enough capacity and a flat load never scales', () => {
    const flat = { stepSeconds: 60, rates: Float64Array.from([40, 40, 40, 40]) };
    for (const policy of ['reactive', 'proactive', 'hpa'] as const) {
      const r = simulate(flat, config(policy), MODEL);
      assert.equal(r.levels.broker.adds + r.levels.broker.removes, 0, policy);
      assert.equal(r.levels.broker.metrics.thetaU, 0, policy);
      assert.equal(r.sloViolationSeconds, 0, policy);
    }
  });

  it('scales in after the load is gone, and bills a removed broker while it drains', () => {
    const down = { stepSeconds: 60, rates: Float64Array.from([250, 250, 250, 250, 0, 0, 0, 0, 0, 0]) };
    const r = simulate(down, config('reactive'), MODEL);
    assert.ok(r.levels.broker.removes > 0);
    const lastSupply = r.levels.broker.supply.at(-1);
    const lastBilled = r.levels.broker.billed.at(-1);
    assert.equal(lastSupply?.v, 1);
    assert.equal(lastBilled?.v, 1);
    assert.ok((lastBilled?.t ?? 0) > (lastSupply?.t ?? 0), 'billed until drained');
  });

  it('is deterministic', () => {
    const month = syntheticMonth({ days: 1, peak: 400, seed: 7 });
    const a = simulate(month, config('proactive'), MODEL);
    const b = simulate(month, config('proactive'), MODEL);
    assert.deepEqual(a.levels.broker.metrics, b.levels.broker.metrics);
  });
});

describe('demand traces', () => {
  it('the synthetic month peaks at --peak with a night trough and a weekly rhythm', () => {
    const m = syntheticMonth({ days: 7, peak: 1000, seed: 1, noise: 0 });
    assert.equal(m.rates.length, 7 * 1440);
    assert.ok(Math.abs(Math.max(...m.rates) - 1000) < 1e-9);
    const at = (day: number, hour: number) => m.rates[day * 1440 + hour * 60] as number;
    assert.ok(at(2, 4) < 0.3 * at(2, 11), 'night below 30 % of late morning');
    assert.ok(at(1, 11) < at(2, 11), 'Sunday (day 1) quieter than Monday (day 2)');
  });

  it('counts records per step and integrates a rate series exactly', () => {
    const s = countPerStep([0, 1, 59, 60, 61, 200], 60, 3);
    assert.deepEqual(Array.from(s.rates), [3 / 60, 2 / 60, 0]);
    const i = new RateIntegral({ stepSeconds: 10, rates: Float64Array.from([1, 3]) });
    assert.equal(i.messagesUntil(15), 10 + 15);
    assert.equal(i.meanRate(5, 15), (5 + 15) / 10);
    assert.equal(i.messagesUntil(100), 40);
    assert.deepEqual(
      Array.from(scaleToPeak({ stepSeconds: 1, rates: Float64Array.from([1, 2]) }, 10).rates),
      [5, 10],
    );
  });
});
