// A retained publish goes to its topic's owner among the active brokers (the set the retained fence and
// the manager's move use), also while that owner is not routable yet: pool-change-random seed 11 ended
// with two retained values when it went to another broker. The publish flow (InboundPublishes) with a
// fake session over fake broker links: the packets each broker and the client are sent are recorded.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Packet } from 'mqtt-packet';
import { retainedOwner } from '../../common/retained-owner.ts';
import { fakeContext, fakeInbound, fakeLinks } from '../helpers/fake-session.ts';

/** A topic owned by `b2` among b1, b2 (so by b1 alone once b2 is no longer active). */
const TOPIC = (() => {
  for (let i = 0; ; i++) if (retainedOwner(`r/${i}`, ['b1', 'b2']) === 'b2') return `r/${i}`;
})();

function fakeSession() {
  const { links, sent } = fakeLinks(['b1', 'b2']);
  const toClient: Packet[] = [];
  const pool = { active: ['b1', 'b2'], routable: new Set(['b1']) };
  const up = (id: string) => links.get(id)?.upstream.isUp === true;
  const ctx = fakeContext({
    sendDown: (p) => toClient.push(p) > 0,
    link: (id) => links.get(id),
    publishTargets: () =>
      pool.active.filter((id) => pool.routable.has(id) && up(id)).flatMap((id) => links.get(id) ?? []),
    activeBrokers: () => pool.active,
    subscribeTargets: () => [...links.values()],
  });
  const inbound = fakeInbound(ctx);
  let nextId = 1;
  const publish = (payload: string, qos: 0 | 1 | 2) =>
    inbound.onPublish({
      cmd: 'publish',
      topic: TOPIC,
      payload: Buffer.from(payload),
      qos,
      retain: true,
      dup: false,
      ...(qos > 0 ? { messageId: nextId++ } : {}),
    });
  const got = (id: string) => (sent.get(id) ?? []).map((p) => p.payload.toString());
  const down = (id: string) => {
    (links.get(id)?.upstream as unknown as { isUp: boolean }).isUp = false;
    links.delete(id);
    inbound.onBrokerDown(id);
  };
  return { pool, inbound, publish, got, down, toClient };
}

describe('a retained publish whose owner is active but not routable (pool-change-random seed 11)', () => {
  it('QoS 1/2 waits, unacknowledged, and goes to that owner once it is routable, not to another broker', () => {
    const s = fakeSession();
    s.publish('v1', 1);
    s.publish('v2', 2);
    assert.deepEqual([s.got('b1'), s.got('b2')], [[], []], 'nothing sent while the owner is not routable');
    assert.deepEqual(s.toClient, [], 'nor acknowledged');
    s.pool.routable.add('b2');
    s.inbound.resendHeld(); // what the orchestrator does when a broker becomes routable
    assert.deepEqual([s.got('b1'), s.got('b2')], [[], ['v1', 'v2']]);
  });

  it('QoS 0 goes to the owner at once (it has nothing to wait by)', () => {
    const s = fakeSession();
    s.publish('v0', 0);
    assert.deepEqual([s.got('b1'), s.got('b2')], [[], ['v0']]);
  });

  it('a later one on the topic waits behind it, even when the owner changed meanwhile (arrival order)', () => {
    const s = fakeSession();
    s.publish('v1', 1); // waits for b2
    s.pool.active = ['b1']; // b2 no longer active (draining): the topic's owner is b1, routable
    s.publish('v2', 1);
    assert.deepEqual(s.got('b1'), [], 'v2 does not overtake v1');
    s.inbound.resendHeld();
    assert.deepEqual([s.got('b1'), s.got('b2')], [['v1', 'v2'], []]);
  });

  it('the owner going down for the session routes what waited for it around it (a failure)', () => {
    const s = fakeSession();
    s.publish('v1', 1);
    assert.deepEqual(s.got('b1'), [], 'it waits for b2');
    s.down('b2');
    assert.deepEqual(s.got('b1'), ['v1']);
  });
});
