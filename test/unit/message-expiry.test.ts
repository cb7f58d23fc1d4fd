// A delivery's Message Expiry Interval after it waited in the orchestrator (message-expiry.ts): counted
// down by whole seconds [MQTT-3.3.2-6], not delivered once it reaches 0 [MQTT-3.3.2-5].
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IPublishPacket } from 'mqtt-packet';
import { afterWaiting } from '../../orchestrator/session/message-expiry.ts';

const publish = (properties?: IPublishPacket['properties']): IPublishPacket => ({
  cmd: 'publish',
  topic: 't',
  payload: Buffer.from('x'),
  qos: 1,
  dup: false,
  retain: false,
  messageId: 3,
  ...(properties ? { properties } : {}),
});

describe('message expiry while a delivery waits', () => {
  it('leaves a packet without an interval, or that waited under a second, as it is (the same object)', () => {
    const plain = publish({ userProperties: { k: 'v' } });
    assert.equal(afterWaiting(plain, 60_000), plain);
    const expiring = publish({ messageExpiryInterval: 5 });
    assert.equal(afterWaiting(expiring, 999), expiring);
  });

  it('counts the interval down by the whole seconds waited, on a copy that keeps the other properties', () => {
    const p = publish({ messageExpiryInterval: 60, contentType: 'text/plain' });
    const aged = afterWaiting(p, 2_500);
    assert.notEqual(aged, p);
    assert.deepEqual(aged?.properties, { messageExpiryInterval: 58, contentType: 'text/plain' });
    assert.equal(p.properties?.messageExpiryInterval, 60, 'the original is left alone');
    assert.equal(afterWaiting(p, 59_999)?.properties?.messageExpiryInterval, 1);
  });

  it('says expired once the whole seconds waited reach the interval', () => {
    assert.equal(afterWaiting(publish({ messageExpiryInterval: 1 }), 1_000), undefined);
    assert.equal(afterWaiting(publish({ messageExpiryInterval: 3 }), 7_000), undefined);
    assert.equal(afterWaiting(publish({ messageExpiryInterval: 0 }), 1_000), undefined);
  });
});
