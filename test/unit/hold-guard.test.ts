import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ANSWERED_HOLDS,
  ANSWERED_WITHIN_MS,
  HOLD_OFF_MS,
  HoldGuard,
} from '../../orchestrator/session/held-acks.ts';

/** `n` holds that end at `at`, `at + 20`, …, each answered by a delivery `gap` ms later. */
function holds(guard: HoldGuard, n: number, at: number, gap: number): number {
  let now = at;
  for (let i = 0; i < n; i++, now += 20) {
    guard.holdEnded(now);
    guard.delivered(now + gap);
  }
  return now;
}

describe('hold guard (held-acks.ts)', () => {
  it(`${ANSWERED_HOLDS} holds in a row answered within ${ANSWERED_WITHIN_MS} ms stop holding for ${HOLD_OFF_MS} ms, then it tries again`, () => {
    const guard = new HoldGuard();
    assert.equal(guard.mayHold(0), true);
    const now = holds(guard, ANSWERED_HOLDS - 1, 0, 0.2);
    assert.equal(guard.mayHold(now), true, 'one short of the row');
    guard.holdEnded(now);
    assert.equal(guard.delivered(now + 0.2), true, 'the one that stops it says so');
    assert.equal(guard.mayHold(now + 1), false);
    assert.equal(guard.mayHold(now + 0.2 + HOLD_OFF_MS - 1), false);
    assert.equal(guard.mayHold(now + 0.2 + HOLD_OFF_MS), true);
    // The count starts again from zero after the hold-off.
    const later = holds(guard, ANSWERED_HOLDS - 1, now + HOLD_OFF_MS + 100, 0.2);
    assert.equal(guard.mayHold(later), true);
  });

  it('a delivery that comes later, or one hold answered late, breaks the row', () => {
    const guard = new HoldGuard();
    let now = holds(guard, ANSWERED_HOLDS - 1, 0, 0.2);
    now = holds(guard, 1, now, ANSWERED_WITHIN_MS); // not within: the row ends
    now = holds(guard, ANSWERED_HOLDS - 1, now, 0.2);
    assert.equal(guard.mayHold(now), true);
  });

  it('only the first delivery after a hold counts; deliveries with no hold before them say nothing', () => {
    const guard = new HoldGuard();
    for (let t = 0; t < 100; t += 0.1) guard.delivered(t); // traffic, no hold ended
    let now = 100;
    for (let i = 0; i < ANSWERED_HOLDS - 1; i++, now += 20) {
      guard.holdEnded(now);
      guard.delivered(now + 5); // unrelated: late
      guard.delivered(now + 5.1); // and a second one, soon after the first: not an answer
    }
    assert.equal(guard.mayHold(now), true);
  });
});
