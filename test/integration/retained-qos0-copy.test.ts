// test-lanes: shared
// Review finding 7: a QoS 0 retained value is moved with a QoS 0 copy, which nobody acknowledges. The
// link to the new owner here loses what the mover writes after its CONNACK (test/helpers/
// drop-after-connack.ts, first connection only): the source must not be cleared (join) nor left for
// the destroy (drain) before the copy is read back from the owner. Real Mosquittos, real sockets.
import assert from 'node:assert/strict';
import { it, type TestContext } from 'node:test';
import { parseBrokerUrl } from '../../common/admin/contract.ts';
import { retainedOwner } from '../../common/retained-owner.ts';
import { moveRetained, readRetained } from '../../manager/retained-move.ts';
import { startDropAfterConnack } from '../helpers/drop-after-connack.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { connectClient } from '../helpers/resources.ts';

const TIMEOUT_MS = 3000;
const TOPICS = Array.from({ length: 12 }, (_, i) => `q0/${i}`);
const ALL = new Map(TOPICS.map((x) => [x, `v-${x}@0`]));

/** topic → `payload@qos` of every retained value a broker holds. */
const held = async (url: string) =>
  new Map((await readRetained(url, {}, TIMEOUT_MS)).map((m) => [m.topic, `${m.payload}@${m.qos}`]));

/** Two Mosquittos; `on` of them holds the QoS 0 retained values. */
async function setup(t: TestContext, on: 0 | 1) {
  const brokers = await Promise.all([TestMosquitto.start(t), TestMosquitto.start(t)]);
  const holder = brokers[on] as TestMosquitto;
  const publisher = await connectClient(t, holder.url);
  for (const x of TOPICS) await publisher.publishAsync(x, `v-${x}`, { qos: 0, retain: true });
  await publisher.endAsync();
  assert.deepEqual(await held(holder.url), ALL, 'the values are on their holder');
  return brokers;
}

it('a join: QoS 0 copies lost on the way to the new owner are not cleared on the source; copied again, still QoS 0', async (t) => {
  const [a, b] = await setup(t, 0);
  const toB = await startDropAfterConnack(t, { host: '127.0.0.1', port: b.port });
  const owners = [parseBrokerUrl(a.url).id, toB.id];
  const moving = TOPICS.filter((x) => retainedOwner(x, owners) === toB.id);
  assert.ok(moving.length > 0 && moving.length < TOPICS.length, 'some topics move');
  const joined = await moveRetained({ sources: [a.url], owners, auth: {}, timeoutMs: TIMEOUT_MS });
  assert.ok(toB.dropped() > 0, 'the first copies were lost on the way');
  const onA = await held(a.url);
  const onB = await held(b.url);
  assert.deepEqual(new Map([...onA, ...onB]), ALL, 'no value lost, none changed, QoS 0 kept');
  assert.deepEqual([...onB.keys()].sort(), [...moving].sort(), 'the moving topics are on b only');
  assert.equal(joined.moved, moving.length);
  assert.ok(joined.unconfirmed > 0, 'the lost copies are counted');
});

it('a drain: the move ends only once the QoS 0 copies lost on the way are on the new owner (the source is destroyed next)', async (t) => {
  const [a, b] = await setup(t, 1);
  const toA = await startDropAfterConnack(t, { host: '127.0.0.1', port: a.port });
  const drained = await moveRetained({
    sources: [b.url],
    owners: [toA.id],
    auth: {},
    timeoutMs: TIMEOUT_MS,
    clearSource: false,
  });
  assert.ok(toA.dropped() > 0, 'the first copies were lost on the way');
  assert.deepEqual(await held(a.url), ALL, 'a holds every value before b goes');
  assert.equal(drained.moved, TOPICS.length);
  assert.ok(drained.unconfirmed > 0, 'the lost copies are counted');
});
