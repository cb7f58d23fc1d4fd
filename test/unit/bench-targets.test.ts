import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderTargets, targetVerdicts } from '../../bench/lib/targets.ts';

/** Medians as bench:orchestrator's summary holds them (keys of report.ts's RunRatios). */
const medians = (over: Record<string, number> = {}) => ({
  orchOverMosqB: 0.63,
  haproxyOverMosqH: 0.6,
  orchOverMosqFixedB: 1.95,
  throughputBA: 0.95,
  throughputHA: 0.8,
  p50AddedFixedBA: 0.15,
  p50AddedFixedHA: 0.1,
  p99AddedFixedBA: 1.2,
  p99AddedFixedHA: 0.9,
  ...over,
});

describe("bench:orchestrator prints issue #12's targets beside the medians", () => {
  it('judges every target per QoS, with HAProxy beside it where it ran', () => {
    const v = targetVerdicts([
      { qos: 0, median: medians() },
      { qos: 1, median: medians({ throughputBA: 0.85, orchOverMosqFixedB: 2.4, p99AddedFixedBA: 4.138 }) },
    ]);
    assert.equal(v.length, 10);
    assert.deepEqual(
      v.filter((x) => x.qos === 0).map((x) => x.state),
      ['met', 'met', 'met', 'met', 'met'],
    );
    const q1 = v.filter((x) => x.qos === 1);
    assert.deepEqual(
      q1.map((x) => [x.what, x.measured, x.state, x.by]),
      [
        ['CPU per message ÷ Mosquitto, full rate', '0.63', 'met', undefined],
        ['CPU per message ÷ Mosquitto, fixed rate', '2.40', 'missed', '0.40'],
        // QoS 1's floor is ×0.9: ×0.85 misses it by 0.05 although HAProxy carried less.
        ['throughput ÷ direct, full rate', '×0.85', 'missed', '0.05'],
        ['added latency p50, fixed rate', '+0.150 ms', 'met', undefined],
        ['added latency p99, fixed rate', '+4.138 ms', 'missed', '2.138 ms'],
      ],
    );
    assert.equal(q1[0]?.haproxy, '0.60');
    assert.equal(q1[1]?.haproxy, undefined, 'the bench has no HAProxy CPU at the fixed rate');
  });

  it("throughput below HAProxy's misses by the gap to HAProxy, even above the floor", () => {
    const [, , t] = targetVerdicts([{ qos: 0, median: medians({ throughputBA: 0.9, throughputHA: 0.97 }) }]);
    assert.deepEqual([t?.state, t?.by, t?.haproxy], ['missed', '0.07', '×0.97']);
    // Without HAProxy (--configs a,b) only the floor counts.
    const [, , alone] = targetVerdicts([
      { qos: 0, median: medians({ throughputBA: 0.9, throughputHA: Number.NaN }) },
    ]);
    assert.deepEqual([alone?.state, alone?.haproxy], ['met', undefined]);
  });

  it('says what a run did not measure, and at which rate the fixed targets were read', () => {
    const v = targetVerdicts([
      {
        qos: 0,
        median: medians({
          orchOverMosqFixedB: Number.NaN,
          p50AddedFixedBA: Number.NaN,
          p99AddedFixedBA: Number.NaN,
        }),
      },
    ]);
    assert.deepEqual(
      v.map((x) => x.state),
      ['met', 'not measured', 'met', 'not measured', 'not measured'],
    );
    const text = renderTargets(v, 3, 0);
    assert.match(text, /^Issue #12's targets \(medians of the per-run ratios; no fixed-rate phase\):/);
    assert.match(text, /QoS 0 CPU per message ÷ Mosquitto, fixed rate +≤ 2\.00 +– +– +not measured/);
    assert.match(text, /2 met, 0 missed, some not measured/);
    assert.match(renderTargets(v, 3, 1000), /fixed rate 1,000 msg\/s \(the targets are stated at 2,000\)/);
    const missed = renderTargets(
      targetVerdicts([{ qos: 1, median: medians({ p50AddedFixedBA: 0.275 }) }]),
      4,
      2000,
    );
    assert.match(missed, /fixed rate 2,000 msg\/s\):/);
    assert.match(
      missed,
      /QoS 1 added latency p50, fixed rate +≤ \+0\.200 ms +\+0\.275 ms +\+0\.100 ms +MISSED by 0\.075 ms/,
    );
    assert.match(missed, /median of 4/);
    assert.match(missed, /4 met, 1 missed$/);
  });
});
