import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type Decision,
  type DecisionInput,
  decide,
  type LevelPolicy,
  type LevelView,
} from '../../manager/decide.ts';
import { type HoltState, holtForecast, holtStep, levelLoad, smooth } from '../../manager/smoothing.ts';

const POLICY: LevelPolicy = { lower: 0.3, upper: 0.7, min: 1, max: 10, cooldownObservations: 0 };
const THRESHOLDS = { broker: POLICY, orchestrator: { ...POLICY, max: 4 } };

function view(load: number | undefined, over: Partial<LevelView> = {}, count = 1): LevelView {
  return {
    level: 'broker',
    replicas: Array.from({ length: count }, (_, i) => ({
      id: `b${i + 1}`,
      state: 'ready' as const,
      createdAt: i,
      smoothed: load,
    })),
    load,
    forecast: undefined,
    actionInFlight: false,
    sinceLastAction: Number.POSITIVE_INFINITY,
    ...over,
  };
}

function input(
  levels: LevelView[],
  over: Partial<DecisionInput['policy']> = {},
  observation = 10,
): DecisionInput {
  return {
    levels,
    thresholds: THRESHOLDS,
    observation,
    policy: { kind: 'reactive', warmupObservations: 3, slaMaxReplicas: 12, ...over },
  };
}

/** Runs a raw CPU series for one replica through smoothing (and Holt) and decide(); returns the first action's index. */
function firstAction(
  series: number[],
  alpha: number,
  kind: 'reactive' | 'proactive' = 'reactive',
  horizon = 2,
): number {
  let smoothed: number | undefined;
  let holt: HoltState | undefined;
  for (let i = 0; i < series.length; i++) {
    const x = series[i] ?? 0;
    smoothed = smooth(smoothed, x, alpha);
    holt = holtStep(holt, x, alpha, 0.5);
    const [d] = decide(
      input(
        [view(smoothed, { forecast: holtForecast(holt, horizon) })],
        { kind, warmupObservations: 0 },
        i + 1,
      ),
    );
    if (d && d.action !== 'none') return i;
  }
  return -1;
}

describe('smoothing', () => {
  it('L(t) = α·x + (1 − α)·L(t−1), starting from the first reading', () => {
    assert.equal(smooth(undefined, 0.8, 0.5), 0.8);
    assert.equal(smooth(0.2, 1, 0.5), 0.6);
    assert.equal(smooth(0.2, 1, 1), 1);
  });
  it('weights the level load by capacity: Σ used / Σ allocated', () => {
    assert.equal(
      levelLoad([
        { load: 1, capacity: 0.25 },
        { load: 0, capacity: 0.75 },
      ]),
      0.25,
    );
    assert.equal(levelLoad([]), undefined);
  });
  it('Holt follows a ramp and forecasts ahead of it', () => {
    let s: HoltState | undefined;
    for (const x of [0.1, 0.2, 0.3, 0.4, 0.5]) s = holtStep(s, x, 0.5, 0.5);
    assert.ok(s && holtForecast(s, 2) > 0.5);
  });
});

describe('decide()', () => {
  it('with α = 0.5, a one-observation spike above upper never scales (from a baseline below 2·upper − 1)', () => {
    for (const baseline of [0, 0.1, 0.2, 0.3, 0.39]) {
      for (const spike of [0.75, 0.9, 1]) {
        const series = [baseline, baseline, baseline, spike, baseline, baseline, baseline];
        // One replica at min: nothing to remove either, so any action would be an add caused by the spike.
        assert.equal(firstAction(series, 0.5), -1, `baseline ${baseline}, spike ${spike}`);
      }
    }
    // The raw controller (α = 1) does scale on the same spike.
    assert.equal(firstAction([0.35, 0.35, 0.35, 1, 0.35], 1), 3);
  });

  it('scales out within two observations of a sustained overload', () => {
    assert.equal(firstAction([0.4, 0.4, 0.4, 0.9, 0.9, 0.9, 0.9], 0.5), 4);
  });

  it('keeps still between the thresholds (hysteresis)', () => {
    for (const load of [0.3, 0.31, 0.5, 0.69, 0.7]) {
      const [d] = decide(input([view(load, {}, 3)]));
      assert.equal(d?.action, 'none', `load ${load}`);
    }
  });

  it('adds above upper and removes below lower, the least-loaded replica and the newest on a tie', () => {
    assert.equal(decide(input([view(0.8)]))[0]?.action, 'add');
    const levels: LevelView[] = [
      {
        ...view(0.1),
        replicas: [
          { id: 'old', state: 'ready', createdAt: 1, smoothed: 0.05 },
          { id: 'new', state: 'ready', createdAt: 5, smoothed: 0.05 },
          { id: 'busy', state: 'ready', createdAt: 9, smoothed: 0.2 },
        ],
      },
    ];
    const [d] = decide(input(levels));
    assert.deepEqual([d?.action, d?.action === 'remove' && d.replica], ['remove', 'new']);
  });

  it('adds one at a time by default; with maxAddPerAction, enough to reach the middle of the band, within max and the SLA', () => {
    const adding = (load: number, count: number, step: number, over: Partial<LevelPolicy> = {}) => {
      const args = input([view(load, {}, count)]);
      const [d] = decide({
        ...args,
        thresholds: { ...THRESHOLDS, broker: { ...POLICY, ...over, maxAddPerAction: step } },
      });
      assert.equal(d?.action, 'add', d?.reason);
      return d?.action === 'add' ? { count: d.count ?? 1, reason: d.reason } : undefined;
    };
    // The Brokel model: one, however far above upper.
    assert.equal(adding(1, 4, 1)?.count, 1);
    const [plain] = decide(input([view(1, {}, 4)])); // no maxAddPerAction in the level's policy
    assert.equal(plain?.action === 'add' ? plain.count : 'no add', undefined);
    // Band 30-70, middle 0.5: 1 replica at load 1 → 2 (one more); 2 at 0.9 → ceil(3.6) = 4; 4 at 1 → 8.
    assert.equal(adding(1, 1, 4)?.count, 1);
    assert.equal(adding(0.9, 2, 4)?.count, 2);
    assert.equal(adding(1, 4, 4)?.count, 4);
    assert.match(
      adding(1, 4, 4)?.reason ?? '',
      /above upper 0\.7: 4 replicas, towards the band's middle 0\.5/,
    );
    // Just above upper: at least one.
    assert.equal(adding(0.71, 3, 4)?.count, 2); // ceil(3 × 0.71 / 0.5) = 5
    assert.equal(adding(0.71, 1, 4)?.count, 1); // ceil(1.42) = 2
    // Within maxAddPerAction, max (10) and the SLA (12 replicas in all).
    assert.equal(adding(1, 4, 3)?.count, 3);
    assert.equal(adding(1, 8, 10)?.count, 2);
    assert.equal(adding(1, 4, 10, { lower: 0.5, upper: 0.9 })?.count, 2); // middle 0.7: ceil(5.71) = 6
    const [sla] = decide({
      ...input([view(1, {}, 6), { ...view(0.5, {}, 4), level: 'orchestrator' }]),
      thresholds: { ...THRESHOLDS, broker: { ...POLICY, maxAddPerAction: 10 } },
    });
    assert.equal(sla?.action === 'add' && sla.count, 2); // 12 − 10 already running
  });

  const caps: Array<[string, DecisionInput, Decision['action'], RegExp]> = [
    ['max', input([view(0.9, {}, 10)]), 'none', /at max 10/],
    ['min', input([view(0.1, {}, 1)]), 'none', /at min 1/],
    [
      'SLA',
      input([view(0.9, {}, 6), { ...view(0.5, {}, 6), level: 'orchestrator' }]),
      'none',
      /SLA's 12 replicas/,
    ],
    ['below min after a failure', input([view(0.5, {}, 0)]), 'add', /below min 1/],
    ['warm-up', input([view(0.9)], {}, 2), 'none', /warming up \(2\/3/],
    ['an action in flight', input([view(0.9, { actionInFlight: true })]), 'none', /in flight/],
    [
      'a booting replica',
      input([
        { ...view(0.9), replicas: [{ id: 'b9', state: 'booting', createdAt: 0, smoothed: undefined }] },
      ]),
      'none',
      /b9 is booting/,
    ],
    [
      'cool-down',
      {
        ...input([view(0.9, { sinceLastAction: 1 })]),
        thresholds: { ...THRESHOLDS, broker: { ...POLICY, cooldownObservations: 3 } },
      },
      'none',
      /cooling down/,
    ],
  ];
  for (const [name, args, action, reason] of caps) {
    it(`respects ${name}`, () => {
      const [d] = decide(args);
      assert.equal(d?.action, action);
      assert.match(d?.reason ?? '', reason);
    });
  }

  it('proactive scales in only when the smoothed load is below lower too: a dip forecast to 0 removes nothing', () => {
    // Observed in manager-proactive.test.ts on a busy machine: two brokers, the level load dipping for
    // one tick (0.45 → 0.28 → 0.17) while the smoothed load stayed above lower.
    const dip = view(0.38, { forecast: 0.12 }, 2);
    const [kept] = decide(input([dip], { kind: 'proactive', warmupObservations: 0 }));
    assert.equal(kept?.action, 'none');
    assert.match(kept?.reason ?? '', /forecast 0\.120 below lower 0\.3, but the smoothed load 0\.380 is not/);
    const low = view(0.25, { forecast: 0.12 }, 2);
    const [removed] = decide(input([low], { kind: 'proactive', warmupObservations: 0 }));
    assert.equal(removed?.action, 'remove');
    // Scaling out stays on the forecast alone, whatever the smoothed load says.
    const [added] = decide(
      input([view(0.4, { forecast: 0.8 }, 2)], { kind: 'proactive', warmupObservations: 0 }),
    );
    assert.equal(added?.action, 'add');
  });

  it('counts a failed replica neither in its level (min, max) nor in the SLA total', () => {
    const failed = { id: 'bx', state: 'failed' as const, createdAt: 9, smoothed: undefined };
    const withFailed = (v: LevelView, n: number): LevelView => ({
      ...v,
      replicas: [...v.replicas, ...Array.from({ length: n }, (_, i) => ({ ...failed, id: `bx${i}` }))],
    });
    const atMin2 = { ...THRESHOLDS, broker: { ...POLICY, min: 2 } };
    // One ready broker and one failed: below min 2, so an add.
    const [belowMin] = decide({ ...input([withFailed(view(0.5), 1)]), thresholds: atMin2 });
    assert.equal(belowMin?.action, 'add');
    assert.match(belowMin?.reason ?? '', /^1 replicas, below min 2/);
    // 10 ready would be max; 9 ready and 3 failed still add.
    const [underMax] = decide(input([withFailed(view(0.9, {}, 9), 3)], { slaMaxReplicas: 100 }));
    assert.equal(underMax?.action, 'add');
    // SLA 12: 10 live replicas over both levels and 5 failed leave room for an add.
    const orchestrators: LevelView = { ...view(0.5), level: 'orchestrator' };
    const [underSla] = decide(input([withFailed(view(0.9, {}, 9), 5), orchestrators]));
    assert.equal(underSla?.action, 'add');
    const [atSla] = decide(
      input([
        view(0.9, {}, 9),
        withFailed({ ...orchestrators, ...view(0.5, {}, 3), level: 'orchestrator' }, 2),
      ]),
    );
    assert.equal(atSla?.action, 'none');
    assert.match(atSla?.reason ?? '', /at the SLA's 12 replicas/);
  });

  it('proactive (Holt) acts earlier than reactive on a rising ramp', () => {
    const ramp = [
      0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95,
    ];
    const reactive = firstAction(ramp, 0.5, 'reactive');
    const proactive = firstAction(ramp, 0.5, 'proactive', 3);
    assert.ok(reactive > 0 && proactive > 0, `reactive ${reactive}, proactive ${proactive}`);
    assert.ok(proactive < reactive, `proactive at ${proactive}, reactive at ${reactive}`);
  });
});
