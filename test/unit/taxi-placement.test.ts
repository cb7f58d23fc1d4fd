import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compactPlacement,
  placementSample,
  placementSvg,
  summarisePlacement,
} from '../../workload/taxi-rome/placement.ts';

const O = [
  { id: 'o1', host: '127.0.0.11' },
  { id: 'o2', host: '127.0.0.12' },
];

describe('taxi scenario: subscribers per orchestrator (pure)', () => {
  it('counts subscribers by the orchestrator at their address, with 0 for one that has none, and those moving', () => {
    assert.deepEqual(placementSample(1, O, ['127.0.0.11', undefined, '127.0.0.11']), {
      t: 1,
      perOrchestrator: { o1: 2, o2: 0 },
      disconnected: 1,
    });
  });

  it('summarises the end of the run (the last sample at or before it), and keeps only changes', () => {
    const samples = [
      placementSample(0, O, ['127.0.0.11', '127.0.0.11']),
      placementSample(1, O, ['127.0.0.11', '127.0.0.11']),
      placementSample(2, O, ['127.0.0.11', undefined]),
      placementSample(3, O, ['127.0.0.11', '127.0.0.12']),
      placementSample(9, O, ['127.0.0.11', '127.0.0.12']),
      placementSample(12, [O[0] as (typeof O)[0]], ['127.0.0.11', '127.0.0.11']),
    ];
    const s = summarisePlacement(samples, 10, 1);
    assert.equal(s.atEnd?.t, 9);
    assert.equal(s.everyOrchestratorAtEnd, true);
    assert.deepEqual(s.orchestratorsUsed, ['o1', 'o2']);
    assert.equal(summarisePlacement(samples, 2.5, 0).everyOrchestratorAtEnd, false, 'o2 had none at 2.5 s');
    assert.equal(summarisePlacement([], 1, 0).everyOrchestratorAtEnd, false);
    assert.deepEqual(
      compactPlacement(samples).map((x) => x.t),
      [0, 2, 3, 12],
    );
    const svg = placementSvg('s3', samples, 10);
    assert.equal((svg.match(/<polyline /g) ?? []).length, 3, 'o1, o2 and moving');
  });
});
