import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IConnectPacket, ISubscription } from 'mqtt-packet';
import { linkGraceSeconds, upstreamConnect } from '../../orchestrator/session/connect-steps.ts';
import { LinkGraces } from '../../orchestrator/session/link-grace.ts';

const connect = (protocolVersion: 4 | 5, clean: boolean, expiry?: number): IConnectPacket => ({
  cmd: 'connect',
  protocolId: 'MQTT',
  protocolVersion,
  clientId: 'c',
  clean,
  keepalive: 30,
  ...(expiry === undefined ? {} : { properties: { sessionExpiryInterval: expiry } }),
});

describe('upstream link grace (pure)', () => {
  it('only a clean session on an MQTT 5 broker gets one, and only when configured', () => {
    assert.equal(linkGraceSeconds(connect(4, true), 5, 30), 30);
    assert.equal(linkGraceSeconds(connect(5, true), 5, 30), 30);
    assert.equal(linkGraceSeconds(connect(5, true, 0), 5, 30), 30);
    assert.equal(linkGraceSeconds(connect(5, false, 0), 5, 30), 30); // resumes, ends with the connection
    assert.equal(linkGraceSeconds(connect(4, false), 5, 30), 0); // persistent: the client's own expiry
    assert.equal(linkGraceSeconds(connect(5, true, 10), 5, 30), 0);
    assert.equal(linkGraceSeconds(connect(4, true), 4, 30), 0); // 3.1.1 broker: no session expiry
    assert.equal(linkGraceSeconds(connect(4, true), 5, 0), 0);
  });

  it('connects with Clean Start 1 and the grace as expiry, and resumes with Clean Start 0 [v5 §3.1.2.4]', () => {
    const first = upstreamConnect(connect(5, true, 0), 'c', 5, false, { seconds: 30, resume: false });
    assert.equal(first.clean, true);
    assert.deepEqual(first.properties, { sessionExpiryInterval: 30 });
    const again = upstreamConnect(connect(4, true), 'c', 5, false, { seconds: 30, resume: true });
    assert.equal(again.clean, false);
    assert.deepEqual(again.properties, { sessionExpiryInterval: 30 });
    assert.equal(upstreamConnect(connect(4, true), 'c', 5, false).properties, undefined);
  });

  it('keeps, per broker, the subscriptions it had when its link was lost, until they are restored', () => {
    const graces = new LinkGraces(30);
    const a: ISubscription = { topic: 'a', qos: 1 };
    const active = new Map([['a', a]]);
    assert.deepEqual(graces.forLink('B', connect(5, true), 5), { seconds: 30, resume: false });
    graces.opened('B', 30);
    graces.lost('B', active);
    assert.deepEqual(graces.forLink('B', connect(5, true), 5), { seconds: 30, resume: true });
    active.delete('a');
    graces.lost('B', active); // lost again before it was restored: the older snapshot stays
    assert.deepEqual([...(graces.before('B')?.keys() ?? [])], ['a']);
    graces.synced('B');
    assert.equal(graces.before('B'), undefined);
    graces.forget('B');
    assert.equal(graces.forLink('B', connect(5, true), 5).resume, false);
    graces.opened('C', 0); // no grace: nothing kept
    graces.lost('C', active);
    assert.equal(graces.forLink('C', connect(5, true), 5).resume, false);
  });
});
