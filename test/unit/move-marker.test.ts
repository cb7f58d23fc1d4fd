// Issue #10 (a), the delivery side alone: what OutboundDeliveries does with a retained move's marked
// copies (common/move-marker.ts), over a fake session and a fake broker link.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { createRootLogger } from '../../common/logger.ts';
import { hasMoveMarker, MOVE_MARKER, withMoveMarker, withoutMoveMarker } from '../../common/move-marker.ts';
import { PacketIdSpace } from '../../orchestrator/protocol/packet-ids.ts';
import type { SessionContext, UpstreamLink, UpstreamPending } from '../../orchestrator/session/context.ts';
import { OutboundDeliveries } from '../../orchestrator/session/outbound-delivery.ts';
import type { Upstream } from '../../orchestrator/session/upstream.ts';
import { fakeCounters, sentAs } from '../helpers/fake-session.ts';

function fakeSession(version: 4 | 5) {
  const toBroker: Packet[] = [];
  const toClient: Packet[] = [];
  const sendDown = (p: Packet) => toClient.push(p) > 0;
  const upstream = {
    brokerId: 'b1',
    protocolVersion: 5,
    send: (p: Packet) => toBroker.push(p) > 0,
  } as unknown as Upstream;
  const link: UpstreamLink = {
    brokerId: 'b1',
    upstream,
    ids: new PacketIdSpace<UpstreamPending>(),
    synced: true,
  };
  const ctx = {
    clientId: 'c1',
    version,
    log: createRootLogger({ level: 'silent' }),
    counters: fakeCounters(),
    sendDown,
    sendDownAs: sentAs(sendDown),
    link: () => link,
    pauseUpstreams: () => undefined,
    resumeUpstreams: () => undefined,
  } as unknown as SessionContext;
  const out = new OutboundDeliveries(ctx, 10, 100, Number.POSITIVE_INFINITY);
  return { out, link, toBroker, toClient };
}

const copy = (qos: 0 | 1 | 2, retain: boolean, extra: Record<string, string> = {}): IPublishPacket => ({
  cmd: 'publish',
  topic: 'r/1',
  payload: Buffer.from('v1'),
  qos,
  retain,
  dup: false,
  ...(qos > 0 ? { messageId: 7 } : {}),
  properties: { userProperties: withMoveMarker(extra) },
});

describe('a retained move is invisible to live subscribers (issue #10)', () => {
  it('a marked live delivery (RETAIN 0, [MQTT-3.3.1-9] / [MQTT-3.3.1-12]) is acknowledged upstream, never delivered', () => {
    for (const version of [4, 5] as const) {
      const s = fakeSession(version);
      s.out.onBrokerPublish(s.link, copy(0, false));
      s.out.onBrokerPublish(s.link, copy(1, false));
      s.out.onBrokerPublish(s.link, copy(2, false));
      assert.deepEqual(s.toClient, [], `v${version}: nothing delivered`);
      assert.deepEqual(
        s.toBroker.map((p) => p.cmd),
        ['puback', 'pubrec'],
      );
      s.out.onBrokerPubrel(s.link, 7); // the QoS 2 flow ends at the orchestrator
      assert.deepEqual(s.toBroker.at(-1), { cmd: 'pubcomp', messageId: 7 });
      assert.equal(s.out.inflight, 0);
    }
  });

  it('a marked retained delivery for a new subscription (RETAIN 1, [MQTT-3.3.1-8]) is delivered without the marker', () => {
    const v5 = fakeSession(5);
    v5.out.onBrokerPublish(v5.link, copy(2, true, { app: 'x' }));
    const [got] = v5.toClient as IPublishPacket[];
    assert.equal(got?.retain, true);
    assert.deepEqual(got?.properties?.userProperties, { app: 'x' }, 'the client’s own user properties stay');
    const v4 = fakeSession(4);
    v4.out.onBrokerPublish(v4.link, copy(1, true));
    assert.equal((v4.toClient[0] as IPublishPacket).properties, undefined);
  });

  it('the marker helpers: added, found, removed (and the user properties with it when alone)', () => {
    assert.equal(hasMoveMarker(undefined), false);
    assert.equal(hasMoveMarker({ a: '1' }), false);
    assert.equal(hasMoveMarker(withMoveMarker(undefined)), true);
    assert.deepEqual(withoutMoveMarker({ contentType: 't', userProperties: { [MOVE_MARKER]: '1' } }), {
      contentType: 't',
    });
    assert.deepEqual(withoutMoveMarker({ userProperties: { [MOVE_MARKER]: '1', a: ['1', '2'] } }), {
      userProperties: { a: ['1', '2'] },
    });
  });
});
