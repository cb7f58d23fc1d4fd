import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { demandFor, parseCapacityCurve } from '../../manager/quality/capacity-curve.ts';
import { calibrate } from '../../workload/elasticity/calibrate.ts';

describe('brokel calibrate: the capacity curve, measured (issue #14)', () => {
  it('one CPU-capped Mosquitto behind an orchestrator: rising paced QoS 1 steps, the highest that held is the point', async (t) => {
    const steps: string[] = [];
    // A loose SLO and two short steps: this checks the mechanism at a tiny size on a shared machine,
    // not the machine's capacity (a full calibration is `brokel calibrate`).
    const curve = await calibrate({
      template: 'mosquitto',
      cpuQuota: 0.1,
      maxBrokers: 1,
      sloMs: 5000,
      startRate: 100,
      factor: 2,
      maxSteps: 2,
      stepSeconds: 1,
      publishers: 2,
      subscribers: 2,
      qos: 1,
      addressBlock: '127.47',
      onStep: (line) => steps.push(line),
    });
    for (const s of steps) t.diagnostic(s);
    assert.ok(steps.length >= 1 && steps.length <= 2, 'at most maxSteps steps');
    assert.equal(curve.points.length, 1);
    const [point] = curve.points;
    assert.equal(point?.brokers, 1);
    assert.ok((point?.msgPerSecond ?? 0) >= 100, `held at least the first step: ${point?.msgPerSecond}`);
    assert.ok(point?.cpu === undefined || (point.cpu > 0 && point.cpu <= 1.5), `broker CPU ${point?.cpu}`);
    // The file format round-trips, and demand maps a load it carries to one broker.
    const parsed = parseCapacityCurve(JSON.stringify(curve));
    assert.equal(demandFor(parsed, point?.msgPerSecond ?? 0), 1);
    assert.equal(demandFor(parsed, (point?.msgPerSecond ?? 0) + 1), 2);
    // Nothing left of its deployment: its state folder held the decision log and stayed, once per run.
    const state = join(tmpdir(), 'brokel', `cal${process.pid % 10000}n1`);
    assert.equal(existsSync(state), false, `${state} is left`);
  });
});
