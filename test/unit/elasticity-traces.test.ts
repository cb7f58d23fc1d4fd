import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { modelRun } from '../../bench/lib/elasticity-model.ts';
import { traces } from '../../bench/lib/elasticity-traces.ts';
import { validate } from '../../common/config/load.ts';
import { configSchema } from '../../common/config/schema.ts';

const spiky = (o: { spikeEvery?: number; spikeLength?: number; intervalSeconds?: number } = {}) => {
  const t = traces({ seconds: 60, peak: 20_000, base: 1_000, intervalSeconds: 1, ...o }).find(
    (x) => x.name === 'spiky',
  );
  assert.ok(t);
  return t;
};

const config = (policy: 'reactive' | 'hpa') =>
  validate(configSchema, {
    deployment: 'el-test',
    policy,
    monitor: { intervalSeconds: 1, warmupObservations: 2 },
    smoothing: { alpha: 0.5 },
    hpa: { scaleDownStabilizationSeconds: 20, scaleUpPeriodSeconds: 1 },
    levels: {
      brokers: { lower: 0.3, upper: 0.7, min: 1, max: 3, cpuQuota: 0.1 },
      orchestrators: { min: 1, max: 1 },
    },
  });

describe('bench:elasticity traces and model (issue #14)', () => {
  it('the spiky trace: a burst of spike-length observations every spike-every, the base between', () => {
    const t = spiky();
    // defaults: 1.5 s bursts every 8 s
    assert.deepEqual(
      [0, 1, 1.49, 1.5, 7.9, 8, 9.4, 9.5].map((s) => t.rateAt(s)),
      [20_000, 20_000, 20_000, 1_000, 1_000, 20_000, 20_000, 1_000],
    );
    const sparse = spiky({ spikeEvery: 30, spikeLength: 1, intervalSeconds: 2 });
    // 2 s bursts every 60 s
    assert.deepEqual(
      [0, 1.9, 2, 59, 60, 62].map((s) => sparse.rateAt(s)),
      [20_000, 20_000, 1_000, 1_000, 20_000, 1_000],
    );
  });

  it('refuses a spike of 2 observations or more, and one that does not fit its period', () => {
    assert.throws(
      () => spiky({ spikeLength: 2 }),
      /--spike-length 2: a spike lasts more than 0 and under 2 observations/,
    );
    assert.throws(() => spiky({ spikeLength: 0 }), /--spike-length 0/);
    assert.throws(
      () => spiky({ spikeEvery: 1, spikeLength: 1.5 }),
      /--spike-every 1: must exceed the spike length/,
    );
  });

  it('modelled: reactive (α = 0.5) lets a half-observation burst pass; hpa scales out on it', () => {
    const t = spiky({ spikeEvery: 30, spikeLength: 0.5 });
    const run = (policy: 'reactive' | 'hpa') =>
      modelRun({
        rateAt: t.rateAt,
        seconds: 60,
        config: config(policy),
        perBrokerMsgs: 8_000,
        bootSeconds: 2,
      });
    const reactive = run('reactive');
    assert.deepEqual(reactive.supply, [{ t: 0, v: 1 }], 'one broker all along');
    const hpa = run('hpa');
    assert.ok(
      hpa.supply.some((p) => p.v > 1),
      `hpa added a broker on the raw reading: ${JSON.stringify(hpa.supply)}`,
    );
  });

  it('modelled: a held load above the upper threshold makes reactive add a broker', () => {
    const ramp = traces({ seconds: 60, peak: 20_000, base: 1_000, intervalSeconds: 1 }).find(
      (x) => x.name === 'ramp',
    );
    assert.ok(ramp);
    const r = modelRun({
      rateAt: ramp.rateAt,
      seconds: 60,
      config: config('reactive'),
      perBrokerMsgs: 8_000,
      bootSeconds: 2,
    });
    assert.equal(Math.max(...r.supply.map((p) => p.v)), 3, JSON.stringify(r.supply));
  });
});
