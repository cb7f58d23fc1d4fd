import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, type LevelPolicy } from '../../manager/decide.ts';
import { type ForecastState, forecastStep, type HoltState, holtForecast } from '../../manager/smoothing.ts';

const P = { alpha: 0.5, beta: 0.5, horizon: 3 };

describe('proactive forecast (issue 11, defect 4)', () => {
  it('is clamped to [0, 1], however steep the trend', () => {
    const rising: HoltState = { level: 0.9, trend: 0.2 };
    const falling: HoltState = { level: 0.1, trend: -0.2 };
    assert.equal(holtForecast(rising, 3), 1);
    assert.equal(holtForecast(falling, 3), 0);
    assert.equal(holtForecast({ level: 0.5, trend: 0.01 }, 2), 0.52);
  });

  it('starts again when the replica count changes, so an add is not followed by a forecast-driven remove', () => {
    // One replica, load rising steeply to 0.9: the forecast says add.
    let state: ForecastState | undefined;
    let forecast = 0;
    for (const x of [0.3, 0.5, 0.7, 0.9]) ({ state, forecast } = forecastStep(state, x, 1, P));
    assert.ok(forecast > 0.95, `forecast ${forecast}`);
    // The add lands: two replicas share the load, 0.45 each, for four observations. With the old
    // state the trend from 0.9 turns down and extrapolates below `lower`: the policy would remove the
    // replica it just added. Reset on the new count, the forecast is the load.
    const policy: LevelPolicy = { lower: 0.3, upper: 0.7, min: 1, max: 4, cooldownObservations: 0 };
    const decision = (forecast: number) =>
      decide({
        levels: [
          {
            level: 'broker',
            replicas: [
              { id: 'b1', state: 'ready', createdAt: 0, smoothed: 0.45 },
              { id: 'b2', state: 'ready', createdAt: 1, smoothed: 0.45 },
            ],
            load: 0.45,
            forecast,
            actionInFlight: false,
            sinceLastAction: 3,
          },
        ],
        policy: { kind: 'proactive', warmupObservations: 0, slaMaxReplicas: 10 },
        thresholds: { broker: policy, orchestrator: policy },
        observation: 10,
      })[0]?.action;
    let reset = state;
    let carried = state;
    const actions: Array<[string | undefined, string | undefined]> = [];
    for (let i = 0; i < 4; i++) {
      const r = forecastStep(reset, 0.45, 2, P);
      const c = forecastStep(carried, 0.45, 1, P); // as before the fix: the count never changes
      reset = r.state;
      carried = c.state;
      assert.equal(r.forecast, 0.45);
      actions.push([decision(r.forecast), decision(c.forecast)]);
    }
    assert.deepEqual(
      actions.map(([r]) => r),
      ['none', 'none', 'none', 'none'],
    );
    assert.deepEqual(
      actions.map(([, c]) => c),
      ['add', 'none', 'none', 'none'],
      'without the reset: another add on the stale trend (the remove of a replica just added that followed is now held back by the smoothed load, 0.45, above lower)',
    );
  });
});
