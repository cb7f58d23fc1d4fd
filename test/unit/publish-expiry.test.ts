// A client's retained publishes held while their topic's retained value moves (retained-hold.ts) count
// their MQTT 5 Message Expiry Interval down while held: QoS 0 and QoS 1, over fake broker links (the
// broker-window and no-broker cases run against real Mosquittos: test/integration/publish-expiry.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { RetainedFence } from '../../orchestrator/pool/retained-fence.ts';
import { Router } from '../../orchestrator/routing/strategies.ts';
import { InboundPublishes } from '../../orchestrator/session/inbound-publish.ts';
import { TopicAliases } from '../../orchestrator/session/topic-alias.ts';
import { fakeContext, fakeCounters, fakeLinks } from '../helpers/fake-session.ts';

const [A, N] = ['127.42.0.1:1883', '127.42.0.3:1883'] as const;

const publish = (topic: string, qos: 0 | 1, messageId: number, interval: number): IPublishPacket => ({
  cmd: 'publish',
  topic,
  payload: Buffer.from(topic),
  qos,
  retain: true,
  dup: false,
  ...(qos > 0 ? { messageId } : {}),
  properties: { messageExpiryInterval: interval },
});

/** Two fake brokers, a context over them that records what goes to the client and counts expiries. */
function stand() {
  const { links, sent } = fakeLinks([A, N]);
  const down: Packet[] = [];
  const tally = { expired: 0 };
  const ctx = fakeContext({
    link: (id) => links.get(id),
    publishTargets: () => [...links.values()],
    subscribeTargets: () => [...links.values()],
    sendDown: (p) => down.push(p) > 0,
    counters: fakeCounters({
      publishExpired: () => {
        tally.expired += 1;
      },
    }),
  });
  return { links, sent, down, tally, ctx };
}

describe('message expiry of retained publishes held for a move', () => {
  it('drops the expired ones (acknowledging a QoS 1 one) and counts the others down', async () => {
    const { sent, down, tally, ctx } = stand();
    let fence = new RetainedFence([A], [N]);
    const inbound = new InboundPublishes(
      ctx,
      new Router('round-robin'),
      new TopicAliases(10),
      100,
      undefined,
      undefined,
      undefined,
      {
        get retainedFence() {
          return fence;
        },
      },
    );
    // Topics the fence holds (their owner becomes N).
    const held = Array.from({ length: 200 }, (_, i) => `car/${i}`).filter((t) => fence.holder(t) === N);
    const [t1, t2, t3, t4] = held;
    assert.ok(t1 && t2 && t3 && t4);
    inbound.onPublish(publish(t1, 0, 0, 1));
    inbound.onPublish(publish(t2, 0, 0, 60));
    inbound.onPublish(publish(t3, 1, 7, 1));
    inbound.onPublish(publish(t4, 1, 8, 60));
    await new Promise((r) => setTimeout(r, 1_100));
    assert.equal(sent.get(N)?.length, 0, 'held while the fence stands');
    fence = new RetainedFence([A, N], []);
    inbound.releaseRetained();
    const out = sent.get(N) ?? [];
    assert.deepEqual(
      out.map((p) => [p.topic, p.properties?.messageExpiryInterval]),
      [
        [t2, 59],
        [t4, 59],
      ],
      'the two with 1 s to live go nowhere; the others with a second less',
    );
    assert.equal(tally.expired, 2);
    assert.deepEqual(
      down.map((p) => [p.cmd, (p as { messageId?: number }).messageId]),
      [['puback', 7]],
      'the expired QoS 1 one is acknowledged; the other once its broker does',
    );
  });
});

describe('message expiry of QoS 1 publishes replayed after their broker died', () => {
  it('replays them counted down from their acknowledgement, and not those that ran out', async () => {
    const { links, sent, tally, ctx } = stand();
    const inbound = new InboundPublishes(ctx, new Router('round-robin'), new TopicAliases(10), 100, {
      windowMs: 60_000,
      maxMessages: 100,
    });
    const plain = (topic: string, messageId: number, interval?: number): IPublishPacket => ({
      ...publish(topic, 1, messageId, interval ?? 0),
      retain: false,
      ...(interval === undefined ? { properties: undefined } : {}),
    });
    // Round-robin: ids 1, 3, 5 go to A (2, 4, 6 to N); A acknowledges its three.
    const packets = [
      plain('r/short', 1, 1),
      plain('x/2', 2),
      plain('r/long', 3, 60),
      plain('x/4', 4),
      plain('r/none', 5),
      plain('x/6', 6),
    ];
    for (const p of packets) inbound.onPublish(p);
    const atA = sent.get(A) ?? [];
    assert.deepEqual(
      atA.map((p) => p.topic),
      ['r/short', 'r/long', 'r/none'],
    );
    const linkA = links.get(A);
    assert.ok(linkA);
    for (const p of atA) {
      const downId = Number(packets.find((q) => q.topic === p.topic)?.messageId);
      inbound.onBrokerAck(linkA, { cmd: 'puback', messageId: p.messageId ?? 0 }, downId);
    }
    await new Promise((r) => setTimeout(r, 1_100));
    const before = sent.get(N)?.length ?? 0;
    assert.equal(inbound.replayRecent(A), 2);
    const replayed = (sent.get(N) ?? []).slice(before);
    assert.deepEqual(
      replayed.map((p) => [p.topic, p.properties?.messageExpiryInterval]),
      [
        ['r/long', 59],
        ['r/none', undefined],
      ],
      'the one with 1 s to live is not replayed; the other with a second less',
    );
    assert.equal(tally.expired, 1);
  });
});
