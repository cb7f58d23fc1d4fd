import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CapacityCurve,
  carried,
  demandFor,
  linearCurve,
  parseCapacityCurve,
} from '../../manager/quality/capacity-curve.ts';

const CURVE: CapacityCurve = {
  template: 'mosquitto',
  cpuQuota: 0.1,
  sloMs: 200,
  points: [
    { brokers: 1, msgPerSecond: 1000 },
    { brokers: 2, msgPerSecond: 1800 },
    { brokers: 4, msgPerSecond: 3200 },
  ],
};

describe('capacity curve', () => {
  it('carries the measured points, interpolates between them, scales the last per broker past them', () => {
    assert.equal(carried(CURVE, 0), 0);
    assert.equal(carried(CURVE, 1), 1000);
    assert.equal(carried(CURVE, 3), 2500);
    assert.equal(carried(CURVE, 8), 6400); // 800 per broker, as at 4
  });

  it('demand is the smallest n that carries the load', () => {
    const table: Array<[number, number]> = [
      [0, 0],
      [1, 1],
      [1000, 1],
      [1001, 2],
      [1800, 2],
      [2500, 3],
      [2501, 4],
      [6400, 8],
      [6401, 9],
    ];
    for (const [rate, n] of table) assert.equal(demandFor(CURVE, rate), n, `${rate} msg/s`);
    assert.equal(demandFor(linearCurve(100), 1e9, 500), 500); // capped
  });

  it('lifts a noisy point below a smaller count to it: more brokers never carry less', () => {
    const noisy: CapacityCurve = {
      ...CURVE,
      points: [
        { brokers: 1, msgPerSecond: 2000 },
        { brokers: 2, msgPerSecond: 1000 },
      ],
    };
    assert.equal(carried(noisy, 2), 2000);
    assert.equal(carried(noisy, 4), 4000); // 1000 per broker past the last (lifted) point
    assert.equal(demandFor(noisy, 2000), 1);
    assert.equal(demandFor(noisy, 2001), 3);
  });

  it('parses a calibration file and names what is wrong in a bad one', () => {
    const text = JSON.stringify({ ...CURVE, points: [...CURVE.points].reverse() });
    assert.deepEqual(parseCapacityCurve(text).points, CURVE.points);
    assert.throws(() => parseCapacityCurve('{'), /not JSON/);
    assert.throws(
      () => parseCapacityCurve(JSON.stringify({ ...CURVE, points: [{ brokers: 0, msgPerSecond: 5 }] })),
      /points\.0\.brokers/,
    );
    assert.throws(
      () =>
        parseCapacityCurve(
          JSON.stringify({ ...CURVE, points: [CURVE.points[0], CURVE.points[0]] }),
          'curve.json',
        ),
      /curve\.json: two points for 1 brokers/,
    );
  });
});
