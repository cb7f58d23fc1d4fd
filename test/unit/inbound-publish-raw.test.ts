// A fast-path PUBLISH through the publish flow (InboundPublishes) with a fake session: it reaches the
// broker as its own frame (only the packet id patched), and a QoS 2 publish the broker accepted keeps
// neither its payload nor its frame when it is not kept for re-sending (qos2OnBrokerLoss 'drop').
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { PacketIdSpace } from '../../orchestrator/protocol/packet-ids.ts';
import { readFastPacket, TopicCache } from '../../orchestrator/protocol/raw-frame.ts';
import { fastEncode } from '../../orchestrator/protocol/raw-write.ts';
import type { UpstreamLink, UpstreamPending } from '../../orchestrator/session/context.ts';
import { Upstream } from '../../orchestrator/session/upstream.ts';
import { fakeContext, fakeInbound, sentAs } from '../helpers/fake-session.ts';

function fakeSession() {
  const toBroker: Packet[] = [];
  const send = (p: Packet) => toBroker.push(p) > 0;
  const toClient: Packet[] = [];
  const upstream = {
    brokerId: 'b1',
    protocolVersion: 4,
    isUp: true,
    receiveMaximum: 100, // a 3.1.1 broker: the session's own window (maxInflightFromClient)...
    qos2Maximum: 20, // ...of which QoS 2 at most upstreamReceiveMaximum
    writableNeedDrain: false,
    send,
    sendPublishAs: sentAs(send),
    onDrain: () => undefined,
  } as unknown as Upstream;
  const link: UpstreamLink = {
    brokerId: 'b1',
    upstream,
    ids: new PacketIdSpace<UpstreamPending>(),
    synced: true,
  };
  const ctx = fakeContext({
    version: 4,
    sendDown: (p) => toClient.push(p) > 0,
    link: () => link,
    publishTargets: () => [link],
    subscribeTargets: () => [link],
  });
  return { ctx, link, toBroker, toClient };
}

describe('fast-path publishes in the publish flow', () => {
  it("reach the broker as their own frame, and a QoS 2 one PUBREC-ed keeps neither payload nor frame (qos2OnBrokerLoss 'drop')", () => {
    const { ctx, link, toBroker, toClient } = fakeSession();
    const inbound = fakeInbound(ctx, 100, { onBrokerLoss: 'drop', maxKeptBytes: 0 });
    const frame = mqttPacket.generate(
      {
        cmd: 'publish',
        topic: 'taxi/1',
        payload: Buffer.alloc(200, 7),
        qos: 2,
        messageId: 42,
        retain: false,
        dup: false,
      },
      { protocolVersion: 4 },
    );
    const packet = readFastPacket(frame, 0, frame.length, 4, new TopicCache()) as IPublishPacket;
    assert.ok(packet);
    inbound.onPublish(packet);
    const [forwarded] = toBroker as IPublishPacket[];
    assert.ok(forwarded?.messageId);
    const expected = Buffer.from(frame);
    expected.writeUInt16BE(forwarded.messageId, frame.length - 200 - 2); // the id sits before the payload
    assert.deepEqual(fastEncode(forwarded, 4), expected, 'the original frame, packet id patched');
    inbound.onBrokerAck(link, { cmd: 'pubrec', messageId: forwarded.messageId }, 42);
    assert.deepEqual(toClient, [{ cmd: 'pubrec', messageId: 42, reasonCode: 0 }]);
    const entry = (inbound as unknown as { inflight: Map<number, { packet: IPublishPacket }> }).inflight.get(
      42,
    );
    assert.ok(entry);
    assert.equal(entry.packet.payload.length, 0);
    assert.equal((entry.packet as { raw?: unknown }).raw, undefined, 'no frame kept after PUBREC');
  });
});

describe('the publish window towards a 3.1.1 broker', () => {
  const publish = (qos: 1 | 2, id: number): IPublishPacket => ({
    cmd: 'publish',
    topic: 'taxi/w',
    payload: Buffer.from('x'),
    qos,
    messageId: id,
    retain: false,
    dup: false,
  });

  it('lets QoS 1 publishes use the whole window, QoS 2 ones only upstreamReceiveMaximum, in order', () => {
    const { ctx, link, toBroker } = fakeSession();
    const inbound = fakeInbound(ctx, 200);
    for (let i = 1; i <= 60; i++) inbound.onPublish(publish(1, i));
    assert.equal(toBroker.length, 60, 'QoS 1: 60 in flight (it was 20)');
    for (let i = 61; i <= 90; i++) inbound.onPublish(publish(2, i));
    inbound.onPublish(publish(1, 91));
    assert.equal(toBroker.length, 80, 'QoS 2: 20 in flight; the rest wait, and the QoS 1 one behind them');
    // One QoS 2 finished at the broker (PUBREC, PUBREL, PUBCOMP): the next QoS 2 one goes.
    const first = toBroker[60] as IPublishPacket;
    inbound.onBrokerAck(link, { cmd: 'pubrec', messageId: first.messageId }, 61);
    inbound.onPubrel(61);
    inbound.onBrokerAck(link, { cmd: 'pubcomp', messageId: first.messageId }, 61);
    assert.equal(toBroker.length, 82, 'the PUBREL, then the next waiting QoS 2 publish');
    assert.equal((toBroker[81] as IPublishPacket).qos, 2);
  });
});

describe('Upstream windows', () => {
  it('a 3.1.1 broker: v4Maximum for QoS 1 and 2 together, defaultReceiveMaximum for QoS 2', () => {
    const options = {
      brokerId: 'b',
      host: '127.0.0.1',
      port: 1,
      connect: { clientId: 'c', clean: true },
      keepaliveSeconds: 0,
      connectTimeoutMs: 1000,
      maxPacketBytes: 1024,
      defaultReceiveMaximum: 20,
      v4Maximum: 100,
    };
    const v4 = new Upstream({ ...options, protocolVersion: 4 });
    assert.deepEqual([v4.receiveMaximum, v4.qos2Maximum], [100, 20]);
    // A v5 broker that said nothing (no CONNACK yet here): the default for both, as before.
    const v5 = new Upstream({ ...options, protocolVersion: 5 });
    assert.deepEqual([v5.receiveMaximum, v5.qos2Maximum], [20, 20]);
  });
});
