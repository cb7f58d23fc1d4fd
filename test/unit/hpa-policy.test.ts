import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../common/config/load.ts';
import { type DecisionInput, decide, type LevelPolicy, type LevelView } from '../../manager/decide.ts';
import {
  EMPTY_HPA_HISTORY,
  type HpaConfig,
  type HpaHistory,
  hpaDecide,
  hpaRecommendation,
  recordHpa,
} from '../../manager/policies/hpa.ts';
import { problemsOf } from '../helpers/config.ts';

// The HPA's documented defaults (autoscaling/v2): tolerance 0.1, scale-down stabilization 300 s,
// scale-up max(+100 %, +4 pods) per 15 s, scale-down up to 100 % per 15 s.
const HPA: HpaConfig = {
  targetUtilization: 0.5,
  tolerance: 0.1,
  scaleDownStabilizationSeconds: 300,
  scaleUpPercent: 100,
  scaleUpReplicas: 4,
  scaleUpPeriodSeconds: 15,
};

function step(
  current: number,
  load: number,
  now: number,
  history: HpaHistory = EMPTY_HPA_HISTORY,
  over = {},
) {
  return hpaDecide({
    current,
    load,
    nowSeconds: now,
    min: 1,
    max: 100,
    history,
    config: { ...HPA, ...over },
  });
}

describe('hpa policy: the Kubernetes HPA algorithm', () => {
  it('desired = ceil(current × current metric / desired metric) (the documentation examples)', () => {
    // "200m current, 100m desired: doubled; 50m: halved"
    assert.equal(hpaRecommendation(4, 1, HPA), 8);
    assert.equal(hpaRecommendation(4, 0.25, HPA), 2);
    // 50 replicas at 90 % with a 75 % target → 60 (the v1.33 tolerance post's example)
    assert.equal(hpaRecommendation(50, 0.9, { ...HPA, targetUtilization: 0.75 }), 60);
    assert.equal(hpaRecommendation(3, 0.6, { ...HPA, targetUtilization: 0.7 }), 3); // ratio 0.857: ceil(2.57)
    assert.equal(hpaRecommendation(3, 0.8, { ...HPA, targetUtilization: 0.5 }), 5); // ceil(4.8)
  });

  it('skips scaling while the ratio is within the tolerance (0.1)', () => {
    assert.equal(hpaRecommendation(10, 0.54, HPA), 10); // ratio 1.08
    assert.equal(hpaRecommendation(10, 0.46, HPA), 10); // ratio 0.92
    assert.equal(hpaRecommendation(10, 0.56, HPA), 12); // ratio 1.12: ceil(11.2)
    assert.equal(hpaRecommendation(10, 0.44, HPA), 9); // ratio 0.88: ceil(8.8)
  });

  it('scale-up is limited to max(+100 %, +4) over the replicas a period ago', () => {
    assert.equal(step(1, 1, 0).desired, 2); // recommendation 2: within the limit
    assert.equal(step(1, 5, 0).desired, 5); // recommendation 10, limit max(2, 1+4) = 5
    assert.equal(step(10, 5, 0).desired, 20); // recommendation 100, limit max(20, 14) = 20
    // 1 → 5 at t=0; at t=10 the period still started at 1 replica: no more than 5.
    let h = recordHpa(EMPTY_HPA_HISTORY, 0, 10, 4, HPA);
    assert.equal(step(5, 5, 10, h).desired, 5);
    // At t=16 the period starts at 5: limit max(10, 9) = 10.
    h = recordHpa(h, 10, 50, 0, HPA);
    assert.equal(step(5, 5, 16, h).desired, 10);
  });

  it('scale-down follows the highest recommendation of the last 300 s, then drops at once', () => {
    let h: HpaHistory = EMPTY_HPA_HISTORY;
    h = recordHpa(h, 0, 8, 0, HPA); // t=0: 8 wanted
    h = recordHpa(h, 100, 6, 0, HPA); // t=100: 6 wanted
    const atLow = step(8, 0.05, 200, h); // recommendation ceil(8·0.1) = 1
    assert.equal(atLow.recommendation, 1);
    assert.equal(atLow.desired, 8); // the 8 of t=0 is inside the window
    assert.equal(step(8, 0.05, 301, h).desired, 6); // only t=100's 6 is left in (1, 301]
    assert.equal(step(8, 0.05, 401, h).desired, 1); // 100 % per period: all the way to the recommendation
    assert.equal(step(8, 0.05, 200, h, { scaleDownStabilizationSeconds: 0 }).desired, 1);
  });

  it('stays within [min, max]', () => {
    const out = hpaDecide({
      current: 3,
      load: 1,
      nowSeconds: 0,
      min: 2,
      max: 4,
      history: EMPTY_HPA_HISTORY,
      config: HPA,
    });
    assert.equal(out.desired, 4);
    assert.equal(
      hpaDecide({
        ...{ current: 3, load: 0, nowSeconds: 0, min: 2, max: 4 },
        history: EMPTY_HPA_HISTORY,
        config: { ...HPA, scaleDownStabilizationSeconds: 0 },
      }).desired,
      2,
    );
  });

  it('recordHpa keeps only what the window and the period still need', () => {
    let h: HpaHistory = EMPTY_HPA_HISTORY;
    for (let t = 0; t <= 600; t += 15) h = recordHpa(h, t, 3, t === 0 ? 2 : 0, HPA);
    assert.equal(h.recommendations.length, 20); // (300, 600] in steps of 15
    assert.equal(h.scaleUps.length, 0);
  });
});

const LEVEL: LevelPolicy = { lower: 0.3, upper: 0.7, min: 1, max: 10, cooldownObservations: 0 };

function brokers(n: number, smoothed: number, rawLoad: number, over: Partial<LevelView> = {}): LevelView {
  return {
    level: 'broker',
    replicas: Array.from({ length: n }, (_, i) => ({
      id: `b${i + 1}`,
      state: 'ready' as const,
      createdAt: i,
      smoothed: smoothed + i * 0.01,
    })),
    load: smoothed,
    rawLoad,
    forecast: undefined,
    actionInFlight: false,
    sinceLastAction: Number.POSITIVE_INFINITY,
    ...over,
  };
}

function hpaInput(view: LevelView, observation = 10): DecisionInput {
  return {
    levels: [view],
    observation,
    thresholds: { broker: LEVEL, orchestrator: LEVEL },
    policy: {
      kind: 'hpa',
      warmupObservations: 3,
      slaMaxReplicas: 12,
      hpa: { ...HPA, intervalSeconds: 15 },
    },
  };
}

describe('decide() with policy hpa', () => {
  it('acts on the raw load, not the smoothed one, several replicas at once', () => {
    const [d] = decide(hpaInput(brokers(2, 0.5, 1)));
    assert.equal(d?.action, 'add');
    assert.equal(d?.action === 'add' && d.count, 2); // ceil(2 · 1 / 0.5) = 4
    assert.equal(d?.recommendation, 4);
    // The reactive policy sees the smoothed 0.5 (within its thresholds) and keeps still.
    const reactive = hpaInput(brokers(2, 0.5, 1));
    assert.equal(
      decide({ ...reactive, policy: { ...reactive.policy, kind: 'reactive' } })[0]?.action,
      'none',
    );
  });

  it('removes the least-loaded ready replicas, newest first on a tie', () => {
    const [d] = decide(hpaInput(brokers(4, 0.1, 0.1)));
    assert.equal(d?.action, 'remove');
    assert.deepEqual(d?.action === 'remove' && d.replicas, ['b1', 'b2', 'b3']); // ceil(4·0.2) = 1 left
  });

  it('keeps the shared guards: warm-up, an action in flight, the SLA total', () => {
    assert.equal(decide(hpaInput(brokers(2, 0.5, 1), 2))[0]?.action, 'none');
    assert.equal(decide(hpaInput(brokers(2, 0.5, 1, { actionInFlight: true })))[0]?.action, 'none');
    const [d] = decide(hpaInput(brokers(10, 1, 1)));
    assert.equal(d?.action, 'none'); // at max 10
    const input = hpaInput(brokers(5, 1, 1));
    const [capped] = decide({ ...input, policy: { ...input.policy, slaMaxReplicas: 7 } });
    assert.equal(capped?.action === 'add' && capped.count, 2);
  });

  it('remembers recommendations through the view: a drop waits for the window', () => {
    const history = recordHpa(EMPTY_HPA_HISTORY, 9 * 15, 4, 0, HPA);
    const [d] = decide(hpaInput(brokers(4, 0.1, 0.1, { hpa: history })));
    assert.equal(d?.action, 'none');
    assert.equal(d?.recommendation, 1);
  });
});

describe('config: hpa', () => {
  it('has the HPA defaults and accepts policy: hpa', () => {
    const c = parseConfig('policy: hpa');
    assert.equal(c.policy, 'hpa');
    assert.deepEqual(c.hpa, HPA);
    assert.equal(
      parseConfig('hpa: { scaleDownStabilizationSeconds: 60 }').hpa.scaleDownStabilizationSeconds,
      60,
    );
  });

  it('rejects bad values with their path', () => {
    assert.deepEqual(problemsOf('hpa: { targetUtilization: 0 }'), [
      'hpa.targetUtilization: 0 is below or equal to 0',
    ]);
    assert.match(problemsOf('hpa: { tolerance: 2 }')[0] ?? '', /^hpa\.tolerance: /);
    assert.match(problemsOf('hpa: { scaleUpReplicas: 1.5 }')[0] ?? '', /^hpa\.scaleUpReplicas: /);
    assert.match(problemsOf('hpa: { window: 3 }')[0] ?? '', /^hpa: .*window/);
    assert.match(problemsOf('policy: kubernetes')[0] ?? '', /^policy: /);
  });
});
