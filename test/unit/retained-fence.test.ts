import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IPublishPacket } from 'mqtt-packet';
import { silentLogger } from '../../common/logger.ts';
import { BrokerPool } from '../../orchestrator/pool/broker-pool.ts';
import { RetainedFence, unmovableRetainedTopic } from '../../orchestrator/pool/retained-fence.ts';
import { retainedOwner } from '../../orchestrator/routing/strategies.ts';
import { RetainedHold, unsettledRetained } from '../../orchestrator/session/retained-hold.ts';

const [A, B, N] = ['127.42.0.1:1883', '127.42.0.2:1883', '127.42.0.3:1883'] as const;
const TOPICS = Array.from({ length: 600 }, (_, i) => `taxi/${i}/pos`);

const publish = (topic: string, payload = 'x'): IPublishPacket => ({
  cmd: 'publish',
  topic,
  payload: Buffer.from(payload),
  qos: 1,
  retain: true,
  dup: false,
});

describe('retained fence (which retained publishes wait for a move)', () => {
  it('on a joining broker: holds exactly the topics whose owner becomes that broker', () => {
    const fence = new RetainedFence([A, B], [N]);
    for (const topic of TOPICS) {
      const moves = retainedOwner(topic, [A, B]) !== retainedOwner(topic, [A, B, N]);
      assert.equal(fence.holder(topic), moves ? N : undefined, topic);
    }
  });

  it('on a draining broker: holds exactly the topics it owned', () => {
    const fence = new RetainedFence([A], [B]);
    for (const topic of TOPICS) {
      const moves = retainedOwner(topic, [A, B]) === B;
      assert.equal(fence.holder(topic), moves ? B : undefined, topic);
    }
  });

  it('without a fenced broker holds nothing and says it is open', () => {
    const fence = new RetainedFence([A, B], []);
    assert.equal(fence.open, true);
    assert.ok(TOPICS.every((t) => fence.holder(t) === undefined));
  });

  it('refuses retained publishes to $ topics only [MQTT-4.7.2-1]', () => {
    assert.equal(unmovableRetainedTopic('$SYS/x'), true);
    assert.equal(unmovableRetainedTopic('$brokel/sessions/a'), true);
    assert.equal(unmovableRetainedTopic('a/$b'), false);
    assert.equal(unmovableRetainedTopic('taxi/1'), false);
  });

  it('the pool rebuilds the fence from the entries and announces each change', () => {
    const pool = new BrokerPool(silentLogger());
    let announced = 0;
    pool.on('retainedFence', () => {
      announced += 1;
    });
    pool.apply([{ url: `mqtt://${A}`, state: 'active' }]);
    assert.equal(announced, 0, 'no fence, nothing to announce');
    pool.apply([
      { url: `mqtt://${A}`, state: 'active' },
      { url: `mqtt://${N}`, state: 'joining', retainedFence: true },
    ]);
    assert.equal(announced, 1);
    assert.equal(pool.get(N)?.retainedFence, true);
    const held = TOPICS.find((t) => pool.retainedFence.holder(t) === N);
    assert.ok(held, 'some topic moves to the joining broker');
    pool.apply([
      { url: `mqtt://${A}`, state: 'active' },
      { url: `mqtt://${N}`, state: 'active' },
    ]);
    assert.equal(announced, 2);
    assert.equal(pool.retainedFence.open, true);
  });
});

describe('retained hold (one session)', () => {
  it('keeps arrival order per topic, releases what the fence no longer covers, and counts bytes', () => {
    let fence = new RetainedFence([A], [N]);
    const hold = new RetainedHold<number>(
      {
        get retainedFence() {
          return fence;
        },
      },
      10,
    );
    const moving = TOPICS.filter((t) => fence.holder(t) === N);
    const staying = TOPICS.find((t) => fence.holder(t) === undefined) ?? '';
    const [m1, m2] = moving;
    if (!m1 || !m2) throw new Error('topics');
    assert.equal(hold.holds(staying), false);
    assert.equal(hold.holds(m1), true);
    hold.add(publish(m1, 'aaaa'), 1);
    hold.add(publish(m2, 'bbbb'), 2);
    hold.add(publish(m1, 'cc'), 3);
    assert.equal(hold.bytes, 10);
    assert.equal(hold.full, true);
    assert.deepEqual(hold.release(), [], 'nothing goes while the fence stands');
    fence = new RetainedFence([A, N], []);
    assert.deepEqual(
      hold.release().map((h) => h.entry),
      [1, 2, 3],
    );
    assert.equal(hold.bytes, 0);
    assert.equal(hold.holds(m1), false);
  });

  it('a publish behind a held one on the same topic waits too', () => {
    let fence = new RetainedFence([A], [N]);
    const hold = new RetainedHold<number>(
      {
        get retainedFence() {
          return fence;
        },
      },
      1000,
    );
    const m1 = TOPICS.find((t) => fence.holder(t) === N) ?? '';
    hold.add(publish(m1), 1);
    fence = new RetainedFence([A], []);
    assert.equal(hold.holds(m1), true, 'an earlier publish on the topic is still held');
  });
});

describe('unsettled retained publishes (what the manager waits for before it copies)', () => {
  it('counts retained flows on held topics that are at a broker or waiting for a slot there, nothing else', () => {
    const fence = new RetainedFence([A], [N]);
    const moving = TOPICS.find((t) => fence.holder(t) === N) ?? '';
    const staying = TOPICS.find((t) => fence.holder(t) === undefined) ?? '';
    const flows = [
      { packet: publish(moving), brokerId: A }, // sent before the fence: counts
      { packet: publish(moving), brokerId: '', queuedFor: A }, // waiting for a slot on A: counts
      { packet: publish(moving), brokerId: '', fenced: true }, // held by the fence: does not
      { packet: publish(staying), brokerId: A }, // a topic that does not move: does not
      { packet: { ...publish(moving), retain: false }, brokerId: A }, // not retained: does not
      { packet: publish(moving), brokerId: '' }, // finished at RabbitMQ (PUBACK for QoS 2): does not
    ];
    assert.equal(unsettledRetained(flows, fence, N), 2);
    assert.equal(unsettledRetained(flows, fence, B), 0);
  });
});
