import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeLadder,
  encodeLadder,
  formatLadder,
  ladderSteps,
  StepTally,
} from '../../workload/ladder/tally.ts';

describe('loss ladder (pure)', () => {
  it('climbs from the slowest period to flat out, fewest publishers first', () => {
    const steps = ladderSteps([0, 1, 1000, 10, 100], [10, 1, 2]);
    assert.equal(steps.length, 15);
    assert.deepEqual(
      steps.slice(0, 4).map((s) => [s.periodMs, s.publishers]),
      [
        [1000, 1],
        [1000, 2],
        [1000, 10],
        [100, 1],
      ],
    );
    assert.deepEqual(steps.at(-1), { index: 14, publishers: 10, periodMs: 0 });
  });

  it('round-trips the sequence number and the send time, and refuses other payloads', () => {
    assert.deepEqual(decodeLadder(encodeLadder(123_456, 1764590000123.5)), {
      seq: 123_456,
      sentAt: 1764590000123.5,
    });
    assert.equal(decodeLadder(Buffer.from('not a ladder message')), undefined);
  });

  it('counts acknowledged-but-missing as lost, second copies as duplicates, late seqs as reordered', () => {
    const tally = new StepTally();
    for (let seq = 0; seq < 5; seq++) {
      tally.onSent();
      if (seq !== 4) tally.onAcked('a', seq); // seq 4 never acknowledged: not owed
    }
    for (const seq of [0, 2, 1, 2]) tally.onMessage('a', seq, 100, 105);
    const r = tally.result({ index: 0, publishers: 1, periodMs: 10 }, 2, { brokers: 2, orchestrators: 1 });
    assert.deepEqual([r.sent, r.acked, r.received, r.lost, r.duplicates, r.reordered], [5, 4, 3, 1, 1, 1]);
    assert.equal(r.latencyMs.p50, 5);
    assert.equal(r.ackedPerSecond, 2);
    assert.match(formatLadder([r]), /^\s+0\s+1\s+10 ms\s+5\s+4\s+3\s+1\s+1\s+1 /m);
  });
});
