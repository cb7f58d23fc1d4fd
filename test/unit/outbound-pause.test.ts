// OutboundDeliveries' pause of the brokers when its buffer is full, over a fake session and broker link:
// a QoS 2 delivery the client PUBREC'd ends only with its broker's PUBREL, so the broker is read meanwhile.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { createRootLogger } from '../../common/logger.ts';
import { PacketIdSpace } from '../../orchestrator/protocol/packet-ids.ts';
import type { SessionContext, UpstreamLink, UpstreamPending } from '../../orchestrator/session/context.ts';
import { OutboundDeliveries } from '../../orchestrator/session/outbound-delivery.ts';
import type { Upstream } from '../../orchestrator/session/upstream.ts';
import { fakeCounters, sentAs } from '../helpers/fake-session.ts';

const publish = (qos: 1 | 2, messageId: number): IPublishPacket => ({
  cmd: 'publish',
  topic: `t/${messageId}`,
  payload: Buffer.from('v'),
  qos,
  retain: true,
  dup: false,
  messageId,
});

it('a full delivery buffer does not pause the brokers while a PUBREC’d QoS 2 delivery awaits its PUBREL', () => {
  const toBroker: Packet[] = [];
  const toClient: Packet[] = [];
  const sendDown = (p: Packet) => toClient.push(p) > 0;
  const paused = new Set<string>();
  const upstream = { brokerId: 'b1', protocolVersion: 5, send: (p: Packet) => toBroker.push(p) > 0 };
  const link: UpstreamLink = {
    brokerId: 'b1',
    upstream: upstream as unknown as Upstream,
    ids: new PacketIdSpace<UpstreamPending>(),
    synced: true,
  };
  const ctx = {
    clientId: 'c1',
    version: 4,
    log: createRootLogger({ level: 'silent' }),
    counters: fakeCounters(),
    sendDown,
    sendDownAs: sentAs(sendDown),
    link: () => link,
    pauseUpstreams: (reason: string) => paused.add(reason),
    resumeUpstreams: (reason: string) => paused.delete(reason),
  } as unknown as SessionContext;
  // Window 2, 3 buffered before the brokers are no longer read.
  const out = new OutboundDeliveries(ctx, 2, 3, Number.POSITIVE_INFINITY);
  for (let up = 1; up <= 5; up++) out.onBrokerPublish(link, publish(up <= 2 ? 2 : 1, up));
  assert.equal(out.inflight, 2);
  assert.equal(out.buffered, 3);
  assert.deepEqual([...paused], ['delivery buffer full']);
  const [first] = toClient as IPublishPacket[];
  out.onClientAck({ cmd: 'pubrec', messageId: first?.messageId ?? 0 });
  assert.deepEqual(toBroker.at(-1), { cmd: 'pubrec', messageId: 1 });
  assert.deepEqual([...paused], [], 'read on: the PUBREL of upstream id 1 may be behind buffered publishes');
  out.onBrokerPubrel(link, 1);
  assert.deepEqual(toClient.at(-1), { cmd: 'pubrel', messageId: first?.messageId, reasonCode: 0 });
  assert.deepEqual([...paused], ['delivery buffer full'], 'the PUBREL came: the window drains by the client');
  out.onClientAck({ cmd: 'pubcomp', messageId: first?.messageId ?? 0 });
  assert.deepEqual(toBroker.at(-1), { cmd: 'pubcomp', messageId: 1 });
  assert.equal(out.buffered, 2);
  assert.deepEqual([...paused], []);
});
