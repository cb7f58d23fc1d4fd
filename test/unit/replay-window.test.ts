import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IPublishPacket } from 'mqtt-packet';
import { ReplayWindow } from '../../orchestrator/session/replay-window.ts';

const publish = (n: number): IPublishPacket => ({
  cmd: 'publish',
  topic: 't',
  payload: Buffer.from(String(n)),
  qos: 1,
  dup: false,
  retain: false,
});
const names = (packets: IPublishPacket[]) => packets.map((p) => p.payload.toString());

describe('replay window', () => {
  it("replays a dead broker's publishes acknowledged within the window before its last acknowledgement", () => {
    const w = new ReplayWindow(500, 1000);
    for (let i = 0; i < 10; i++) w.remember(i % 2 === 0 ? 'a' : 'b', publish(i), i * 100);
    // a acknowledged 0, 200, ..., 800: within 500 ms of 800 are 400, 600, 800.
    assert.deepEqual(names(w.take('a')), ['4', '6', '8']);
    assert.deepEqual(w.take('a'), [], 'taken once');
  });

  it('counts back from the last acknowledgement, so a broker noticed dead a keepalive later still replays', () => {
    const w = new ReplayWindow(500, 1000);
    w.remember('hung', publish(1), 1000);
    w.remember('hung', publish(2), 1200);
    // Other brokers keep acknowledging for 45 s before the hung one is noticed.
    for (let t = 1300; t < 46_000; t += 100) w.remember('alive', publish(t), t);
    assert.deepEqual(names(w.take('hung')), ['1', '2']);
  });

  it('keeps at most maxMessages per broker, and nothing when disabled or after a planned removal', () => {
    const w = new ReplayWindow(10_000, 3);
    for (let i = 0; i < 2000; i++) w.remember('a', publish(i), i);
    assert.deepEqual(names(w.take('a')), ['1997', '1998', '1999']);
    w.remember('b', publish(1), 0);
    w.forget('b');
    assert.deepEqual(w.take('b'), []);
    const off = new ReplayWindow(0, 100);
    off.remember('a', publish(1), 0);
    assert.equal(off.enabled, false);
    assert.deepEqual(off.take('a'), []);
  });
});
