// The randomized pool-change test's oracle (test/helpers/pool-schedule.ts) on a retained topic around
// a SIGKILL. pool-change-random seed 5 failed once in CI with "retained p3:36:2 missing": the killed
// broker had stored the value, and its PUBCOMP reached the client after the test saw the broker exit,
// which the oracle took for "acknowledged after the kill, so on a broker that survived". When a
// broker could have stored a value is known from the client's side: it sent the PUBLISH (QoS 1) or the
// PUBREL (QoS 2; Mosquitto stores a QoS 2 message at PUBREL). A broker killed before that never had it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  judge,
  type Observed,
  type PlannedPublish,
  payloadOf,
  retainTopic,
  type Schedule,
} from '../helpers/pool-schedule.ts';

const publish = (seq: number, qos: 1 | 2): PlannedPublish => ({
  publisher: 3,
  seq,
  qos,
  retainKey: 1,
  clear: false,
  gapMs: 10,
});
/** Two retained values on one topic (s5/r/p3/1); the second is the last. */
const first = publish(35, 1);
const last = publish(36, 2);
const schedule: Schedule = { seed: 5, initial: [2, 1], events: [], publishes: [[first, last]] };
const TOPIC = retainTopic(5, last);
const checks = { acknowledgements: true, qos2ExactlyOnce: false, retained: true };

/** Both acknowledged and delivered to the one subscriber; `retained` is what a new subscriber got. */
function seen(o: {
  retained: string[];
  lastKillSentAtMs: number | undefined;
  lastStorableAtMs: number;
}): Observed {
  const payloads = [payloadOf(first), payloadOf(last)];
  return {
    acknowledged: new Set(payloads),
    received: [new Map(payloads.map((p) => [p, 1]))],
    retained: new Map(o.retained.length > 0 ? [[TOPIC, o.retained]] : []),
    lastKillSentAtMs: o.lastKillSentAtMs,
    storableAtMs: new Map([
      [payloadOf(first), 100],
      [payloadOf(last), o.lastStorableAtMs],
    ]),
  };
}

const run = (o: Parameters<typeof seen>[0]) => judge(schedule, seen(o), checks, ['sub']);

describe('pool-change oracle: a retained value and a SIGKILL (seed 5)', () => {
  it('a value whose PUBREL left before the kill signal may have died with the killed broker', () => {
    // Seed 5's case: PUBREL at 1,130 ms, SIGKILL at 1,131 ms; the PUBCOMP came after the exit.
    assert.deepEqual(run({ retained: [], lastKillSentAtMs: 1131, lastStorableAtMs: 1130 }), []);
    // The same millisecond: which came first is not known.
    assert.deepEqual(run({ retained: [], lastKillSentAtMs: 1130, lastStorableAtMs: 1130 }), []);
  });

  it('a value whose PUBREL left after the kill signal was never on the killed broker: missing is a loss', () => {
    // Before, a value acknowledged before the test saw the exit was excused, whenever it was sent.
    const problems = run({ retained: [], lastKillSentAtMs: 1130, lastStorableAtMs: 1131 });
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /s5\/r\/p3\/1: retained p3:36:2 missing/);
  });

  it('without a kill a missing value is a loss, and a stale one is wrong even after a kill', () => {
    const missing = run({ retained: [], lastKillSentAtMs: undefined, lastStorableAtMs: 1130 });
    assert.match(missing[0] ?? '', /retained p3:36:2 missing/);
    const stale = run({ retained: ['p3:35:1'], lastKillSentAtMs: 2000, lastStorableAtMs: 1130 });
    assert.deepEqual(stale, ['s5/r/p3/1: stale retained p3:35:1, last was p3:36:2']);
    assert.deepEqual(run({ retained: ['p3:36:2'], lastKillSentAtMs: 1000, lastStorableAtMs: 1130 }), []);
  });
});
