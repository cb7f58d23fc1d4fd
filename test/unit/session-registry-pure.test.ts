import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  clientIdOfRegistryTopic,
  decodeEntry,
  encodeEntry,
  hasRecordedSubscriptions,
  instanceOfPresenceTopic,
  isPersistent,
  isReservedFilter,
  isReservedTopic,
  presenceTopic,
  type RegistryEntry,
  registryTopic,
} from '../../orchestrator/registry/reserved.ts';

describe('session registry (pure)', () => {
  it('reserved topics: $brokel and below; nothing else, even near misses', () => {
    const cases: Array<[string, boolean]> = [
      ['$brokel/sessions/a', true],
      ['$brokel/', true],
      ['$brokel', true],
      ['$brokelx/a', false],
      ['brokel/sessions/a', false],
      ['$SYS/broker/uptime', false],
      ['a/$brokel/x', false],
      ['', false],
    ];
    for (const [topic, reserved] of cases) assert.equal(isReservedTopic(topic), reserved, topic);
  });

  it('reserved filters: a first level of $brokel, also in a shared subscription; wildcards never match $ topics [MQTT-4.7.2-1]', () => {
    const cases: Array<[string, boolean]> = [
      ['$brokel/#', true],
      ['$brokel/sessions/+', true],
      ['$brokel', true],
      ['$share/g/$brokel/sessions/+', true],
      ['$share/g/ok/#', false],
      ['#', false],
      ['+/sessions/+', false],
      ['$SYS/#', false],
    ];
    for (const [filter, reserved] of cases) assert.equal(isReservedFilter(filter), reserved, filter);
  });

  it('presence topics: one level per replica, reserved, never a registry record', () => {
    assert.equal(presenceTopic('3f9a0c1d2e4b'), '$brokel/presence/3f9a0c1d2e4b');
    assert.equal(instanceOfPresenceTopic(presenceTopic('3f9a0c1d2e4b')), '3f9a0c1d2e4b');
    assert.ok(isReservedTopic(presenceTopic('3f9a0c1d2e4b')));
    assert.equal(clientIdOfRegistryTopic(presenceTopic('3f9a0c1d2e4b')), undefined);
    for (const t of ['$brokel/presence/', '$brokel/presence/a/b', '$brokel/sessions/x', 'presence/x'])
      assert.equal(instanceOfPresenceTopic(t), undefined, t);
  });

  it('a client id becomes one topic level and back, whatever it holds', () => {
    for (const id of ['taxi-156', 'a/b', 'a+b#c', 'ünï €', '%2F']) {
      const topic = registryTopic(id);
      assert.equal(topic.split('/').length, 3, topic);
      assert.doesNotMatch(topic.slice('$brokel/sessions/'.length), /[+#/]/);
      assert.equal(clientIdOfRegistryTopic(topic), id);
    }
    assert.equal(clientIdOfRegistryTopic('$brokel/sessions/a/b'), undefined);
    assert.equal(clientIdOfRegistryTopic('$brokel/other/a'), undefined);
    assert.equal(clientIdOfRegistryTopic('$brokel/sessions/%E0%A4%A'), undefined);
  });

  it('records round-trip; malformed ones are undefined, never a throw', () => {
    const entry: RegistryEntry = {
      clientId: 'c',
      protocolVersion: 5,
      sessionExpirySeconds: 300,
      online: null,
      subscriptions: [
        { topic: 'a/#', qos: 1 },
        { topic: 'b', qos: 2, nl: true, rap: false, rh: 2 },
      ],
    };
    assert.deepEqual(decodeEntry(encodeEntry(entry)), entry);
    for (const bad of ['', 'x', '[]', 'null', '{"v":2}', '{"v":1,"clientId":"c","protocolVersion":3}']) {
      assert.equal(decodeEntry(Buffer.from(bad)), undefined, bad);
    }
    const badSub = { ...entry, subscriptions: [{ topic: 'a', qos: 3 }] };
    assert.equal(decodeEntry(Buffer.from(JSON.stringify({ v: 1, ...badSub }))), undefined);
  });

  it('issue #13: "session present" is trusted only from a broker the record lists as having the subscriptions', () => {
    const entry: RegistryEntry = {
      clientId: 'c',
      protocolVersion: 4,
      sessionExpirySeconds: 0xffff_ffff,
      online: null,
      subscriptions: [{ topic: 'a/#', qos: 1 }],
      subscribedAt: ['127.0.0.1:1883'],
    };
    assert.deepEqual(decodeEntry(encodeEntry(entry)), entry);
    assert.equal(hasRecordedSubscriptions(entry, '127.0.0.1:1883'), true);
    assert.equal(hasRecordedSubscriptions(entry, '127.0.0.2:1883'), false, 'a broker not listed');
    const { subscribedAt: _, ...older } = entry;
    assert.equal(hasRecordedSubscriptions(older, '127.0.0.2:1883'), true, 'a record without the list');
    for (const bad of ['x', [1], null]) {
      const raw = Buffer.from(JSON.stringify({ v: 1, ...entry, subscribedAt: bad }));
      assert.equal(decodeEntry(raw), undefined, JSON.stringify(bad));
    }
  });

  it('persistent: 3.1.1 clean session 0 [MQTT-3.1.2-4]; 5.0 a Session Expiry Interval above 0, whatever Clean Start says', () => {
    assert.equal(isPersistent(4, false, undefined), true);
    assert.equal(isPersistent(4, true, undefined), false);
    assert.equal(isPersistent(5, false, 0), false);
    assert.equal(isPersistent(5, false, undefined), false);
    assert.equal(isPersistent(5, true, 10), true);
  });
});
