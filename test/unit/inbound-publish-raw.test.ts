// A fast-path PUBLISH through the publish flow (InboundPublishes) with a fake session: it reaches the
// broker as its own frame (only the packet id patched), and a QoS 2 publish the broker accepted keeps
// neither its payload nor its frame when it is not kept for re-sending (qos2OnBrokerLoss 'drop').
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { createRootLogger } from '../../common/logger.ts';
import { PacketIdSpace } from '../../orchestrator/protocol/packet-ids.ts';
import { readFastPacket, TopicCache } from '../../orchestrator/protocol/raw-frame.ts';
import { fastEncode } from '../../orchestrator/protocol/raw-write.ts';
import { Router } from '../../orchestrator/routing/strategies.ts';
import type { SessionContext, UpstreamLink, UpstreamPending } from '../../orchestrator/session/context.ts';
import { InboundPublishes } from '../../orchestrator/session/inbound-publish.ts';
import { TopicAliases } from '../../orchestrator/session/topic-alias.ts';
import type { Upstream } from '../../orchestrator/session/upstream.ts';

function fakeSession() {
  const toBroker: Packet[] = [];
  const toClient: Packet[] = [];
  const upstream = {
    brokerId: 'b1',
    protocolVersion: 4,
    isUp: true,
    receiveMaximum: 20,
    writableNeedDrain: false,
    send: (p: Packet) => toBroker.push(p) > 0,
    onDrain: () => undefined,
  } as unknown as Upstream;
  const link: UpstreamLink = {
    brokerId: 'b1',
    upstream,
    ids: new PacketIdSpace<UpstreamPending>(),
    synced: true,
  };
  const ctx: SessionContext = {
    clientId: 'c1',
    version: 4,
    log: createRootLogger({ level: 'silent' }),
    counters: { published: () => undefined, delivered: () => undefined },
    sendDown: (p) => toClient.push(p) > 0,
    link: () => link,
    publishTargets: () => [link],
    subscribeTargets: () => [link],
    linksSettled: true,
    linksFor: () => true,
    openEveryLink: () => undefined,
    deferWhileLinking: () => false,
    protocolError: (reason) => assert.fail(`protocol error: ${reason}`),
    pauseClient: () => undefined,
    resumeClient: () => undefined,
    pauseUpstreams: () => undefined,
    resumeUpstreams: () => undefined,
  };
  return { ctx, link, toBroker, toClient };
}

describe('fast-path publishes in the publish flow', () => {
  it("reach the broker as their own frame, and a QoS 2 one PUBREC-ed keeps neither payload nor frame (qos2OnBrokerLoss 'drop')", () => {
    const { ctx, link, toBroker, toClient } = fakeSession();
    const inbound = new InboundPublishes(
      ctx,
      new Router('round-robin'),
      new TopicAliases(10),
      100,
      undefined,
      undefined,
      { onBrokerLoss: 'drop', maxKeptBytes: 0 },
    );
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
