// A QoS 0 publish goes round a broker whose link's write buffer is full (round-robin, least-outstanding);
// the client is paused only when every publish target is full, and reads again when one of them has room
// (its drain or its end: Upstream.onRoom) or a broker becomes routable (resendHeld). The publish flow
// (InboundPublishes) over fake broker links; integration: test/integration/qos0-backpressure.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Router, type RoutingStrategyName } from '../../orchestrator/routing/strategies.ts';
import { InboundPublishes } from '../../orchestrator/session/inbound-publish.ts';
import { TopicAliases } from '../../orchestrator/session/topic-alias.ts';
import { Upstream } from '../../orchestrator/session/upstream.ts';
import { fakeContext, fakeCounters, fakeLinks } from '../helpers/fake-session.ts';

interface FakeRoom {
  writableNeedDrain: boolean;
  onRoom: (listener: () => void) => void;
}

function session(strategy: RoutingStrategyName, ids = ['b1', 'b2', 'b3']) {
  const { links, sent } = fakeLinks(ids);
  const waiting = new Map<string, Array<() => void>>();
  const room = (id: string) => links.get(id)?.upstream as unknown as FakeRoom;
  for (const id of ids)
    room(id).onRoom = (listener) => waiting.set(id, [...(waiting.get(id) ?? []), listener]);
  const pauses = new Set<string>();
  /** What the metrics count (brokel_orchestrator_qos0_detours_total, ..._room_pauses_total). */
  const tally = { detours: 0, roomPauses: 0 };
  const ctx = fakeContext({
    counters: fakeCounters({
      qos0Detoured: () => {
        tally.detours += 1;
      },
      roomPaused: () => {
        tally.roomPauses += 1;
      },
    }),
    link: (id) => links.get(id),
    publishTargets: () => [...links.values()],
    subscribeTargets: () => [...links.values()],
    pauseClient: (reason) => pauses.add(reason),
    resumeClient: (reason) => pauses.delete(reason),
  });
  const inbound = new InboundPublishes(ctx, new Router(strategy), new TopicAliases(10), 100);
  const publish = (n: number, qos: 0 | 1 = 0, retain = false) => {
    for (let i = 0; i < n; i++)
      inbound.onPublish({
        cmd: 'publish',
        topic: 't',
        payload: Buffer.from('x'),
        qos,
        retain,
        dup: false,
        ...(qos > 0 ? { messageId: i + 1 } : {}),
      });
  };
  const counts = () => ids.map((id) => sent.get(id)?.length ?? 0);
  const full = (id: string, value: boolean) => {
    room(id).writableNeedDrain = value;
  };
  /** The link's buffer drains (or it ends): what its onRoom listeners hear. */
  const drained = (id: string) => {
    full(id, false);
    for (const listener of waiting.get(id) ?? []) listener();
    waiting.set(id, []);
  };
  return { inbound, publish, counts, full, drained, pauses, waiting, tally };
}

describe('QoS 0 round a broker whose write buffer is full', () => {
  for (const strategy of ['round-robin', 'least-outstanding'] as const) {
    it(`${strategy}: skips the full one, keeps the others in turn, and the client reads on`, () => {
      const s = session(strategy);
      s.publish(3);
      assert.deepEqual(s.counts(), [1, 1, 1]);
      s.full('b2', true);
      s.publish(6);
      assert.deepEqual(s.counts(), [4, 1, 4], 'b2 skipped while full');
      assert.equal(s.pauses.size, 0, 'not paused: other brokers have room');
      assert.deepEqual(s.tally, { detours: 3, roomPauses: 0 }, 'every pick of b2 counted as a detour');
      s.full('b2', false);
      s.publish(3);
      assert.deepEqual(s.counts(), [5, 2, 5], 'b2 back in turn once it has room');
    });
  }

  it('every target full: the client is paused, and reads again when the first of them has room', () => {
    const s = session('round-robin');
    for (const id of ['b1', 'b2', 'b3']) s.full(id, true);
    s.publish(1);
    assert.deepEqual([...s.pauses], ['broker write buffers full']);
    assert.deepEqual(
      ['b1', 'b2', 'b3'].map((id) => s.waiting.get(id)?.length ?? 0),
      [1, 1, 1],
      'one listener per full link',
    );
    s.publish(1); // a publish already read when it paused
    assert.equal(s.tally.roomPauses, 1, 'one pause counted, not one per publish');
    assert.equal(s.tally.detours, 0, 'no detour: none had room');
    assert.deepEqual(
      ['b1', 'b2', 'b3'].map((id) => s.waiting.get(id)?.length ?? 0),
      [1, 1, 1],
      'no second listener on a link already waited for',
    );
    s.drained('b3');
    assert.equal(s.pauses.size, 0, 'resumed by the first link with room');
    const before = s.counts();
    s.publish(2);
    assert.deepEqual(
      s.counts().map((n, i) => n - (before[i] ?? 0)),
      [0, 0, 2],
      'both to the one with room',
    );
  });

  it('a broker that becomes routable resumes a client paused for room (resendHeld)', () => {
    const s = session('round-robin');
    for (const id of ['b1', 'b2', 'b3']) s.full(id, true);
    s.publish(1);
    assert.equal(s.pauses.size, 1);
    s.inbound.resendHeld();
    assert.equal(s.pauses.size, 0);
  });

  it('client-affinity, and a retained publish, wait for their one broker: no detour', () => {
    const s = session('client-affinity');
    s.publish(2);
    const owner = s.counts().indexOf(2);
    const id = `b${owner + 1}`;
    s.full(id, true);
    s.publish(1);
    assert.deepEqual([...s.pauses], ['broker write buffers full']);
    assert.deepEqual(
      s.counts().filter((_, i) => i !== owner),
      [0, 0],
      'nothing went to another broker',
    );
    assert.deepEqual(
      ['b1', 'b2', 'b3'].map((b) => s.waiting.get(b)?.length ?? 0),
      ['b1', 'b2', 'b3'].map((b) => (b === id ? 1 : 0)),
      'waits for its own broker only',
    );
    s.drained(id);
    assert.equal(s.pauses.size, 0);

    const r = session('round-robin');
    r.publish(1, 0, true);
    const retainedOwner = r.counts().indexOf(1);
    r.full(`b${retainedOwner + 1}`, true);
    r.publish(1, 0, true);
    assert.equal(r.counts()[retainedOwner], 2, 'the retained publish still goes to its owner');
    assert.deepEqual([...r.pauses], ['broker write buffers full'], 'and its client waits for that owner');
  });

  it('QoS 1 keeps round-robin (paced by each broker window, not by its write buffer)', () => {
    const s = session('round-robin');
    s.full('b2', true);
    s.publish(3, 1);
    assert.deepEqual(s.counts(), [1, 1, 1]);
    assert.equal(s.pauses.size, 0);
  });

  it('a link with no socket (never opened, or gone) answers onRoom on the next tick, never within the call', async () => {
    const link = new Upstream({
      brokerId: 'b1',
      host: '127.0.0.1',
      port: 1,
      protocolVersion: 5,
      connect: { clientId: 'room', clean: true },
      keepaliveSeconds: 0,
      connectTimeoutMs: 1000,
      maxPacketBytes: 1024,
      defaultReceiveMaximum: 20,
    });
    let called = 0;
    link.onRoom(() => {
      called += 1;
    });
    assert.equal(called, 0, 'not within the call (a resumed client would re-parse the read it is in)');
    await new Promise((resolve) => process.nextTick(resolve));
    assert.equal(called, 1);
  });
});
