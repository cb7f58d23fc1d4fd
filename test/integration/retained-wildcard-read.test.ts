// test-timeout-ms: 240000
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { parseBrokerUrl } from '../../common/admin/contract.ts';
import { createRootLogger } from '../../common/logger.ts';
import { retainedOwner } from '../../common/retained-owner.ts';
import { BoundedMover } from '../../manager/bounded-move.ts';
import type { Replica } from '../../manager/providers/cloud-provider.ts';
import { LocalProvider } from '../../manager/providers/local/local-provider.ts';
import { readRetained } from '../../manager/retained-move.ts';
import { lookupTemplate } from '../../templates/registry.ts';
import {
  connectClient,
  localConfig,
  startProvider,
  uniqueDeployment,
  waitFor,
} from '../helpers/resources.ts';

describe('which brokers show their retained messages to a wildcard read', () => {
  // One Mosquitto and one RabbitMQ, booted once for the two tests that read real brokers.
  let provider: LocalProvider;
  let mosquitto: Replica;
  let rabbit: Replica;
  before(async () => {
    provider = await LocalProvider.start({
      deployment: uniqueDeployment(),
      config: localConfig(),
      pollIntervalMs: 50,
    });
    const created = await Promise.all(
      ['mosquitto', 'rabbitmq'].map(async (name) => provider.create('broker', name)),
    );
    const [m, r] = await Promise.all(created.map((c) => provider.waitReady(c.id, 120_000)));
    if (!m || !r) throw new Error('a Mosquitto and a RabbitMQ broker');
    [mosquitto, rabbit] = [m, r];
  });
  after(async () => provider?.stop());

  it("each broker template's retainedWildcardRead says what its real broker does", async (t) => {
    for (const broker of [mosquitto, rabbit]) {
      const template = lookupTemplate(broker.template);
      if (!template) throw new Error(`no template ${broker.template}`);
      const pub = await connectClient(t, broker.url, { protocolVersion: 4 });
      const topic = `wild/${broker.template}/1`;
      await pub.publishAsync(topic, `kept on ${broker.template}`, { qos: 1, retain: true });
      // The premise of an exact read: the broker holds the value.
      const exact = await connectClient(t, broker.url, { protocolVersion: 4 });
      let held = '';
      exact.on('message', (_t, payload, packet) => {
        if (packet.retain) held = payload.toString();
      });
      await exact.subscribeAsync(topic, { qos: 1 });
      await waitFor(() => held !== '', 5000, `the retained value on ${broker.template}, exact filter`);
      assert.equal(held, `kept on ${broker.template}`);
      const read = await readRetained(broker.url, {}, 10_000);
      const found = read.some((m) => m.topic === topic);
      t.diagnostic(`${broker.template}: a '#' read finds ${read.length} retained message(s)`);
      assert.equal(
        found,
        template.retainedWildcardRead,
        `${broker.template}: retainedWildcardRead is ${template.retainedWildcardRead}, the real broker ${found ? 'shows' : 'does not show'} it`,
      );
      // Left as found, for the next test's move.
      await pub.publishAsync(topic, '', { qos: 1, retain: true });
    }
  });

  it('the undo of a failed RabbitMQ join reads back, by name, the values the join copied to it', async (t) => {
    const pub = await connectClient(t, mosquitto.url, { protocolVersion: 5 });
    const topics = Array.from({ length: 30 }, (_, i) => `undo/${i}`);
    for (const topic of topics) await pub.publishAsync(topic, `v-${topic}`, { qos: 1, retain: true });
    const mover = new BoundedMover({ actionTimeoutMs: 20_000, users: [] });
    // The join: what the RabbitMQ broker owns moves to it and is cleared on the Mosquitto one.
    const owners = [mosquitto, rabbit].map((r) => parseBrokerUrl(r.url).id);
    const toRabbit = topics.filter((x) => retainedOwner(x, owners) === parseBrokerUrl(rabbit.url).id);
    assert.ok(toRabbit.length > 0, 'the RabbitMQ broker owns some topics');
    assert.equal(await mover.move([mosquitto], [mosquitto, rabbit], true), toRabbit.length);
    const left = (await readRetained(mosquitto.url, {}, 10_000)).filter((m) => m.topic.startsWith('undo/'));
    assert.equal(left.length, topics.length - toRabbit.length, 'cleared on the source');
    // The undo (FailedJoins): the RabbitMQ broker is the source, the Mosquitto one the only owner.
    assert.equal(
      await mover.move([rabbit], [mosquitto], false),
      toRabbit.length,
      'every copied topic read back',
    );
    const back = (await readRetained(mosquitto.url, {}, 10_000)).filter((m) => m.topic.startsWith('undo/'));
    assert.deepEqual(
      back.map((m) => `${m.topic}=${m.payload.toString()}`).sort(),
      topics.map((x) => `${x}=v-${x}`).sort(),
      'the Mosquitto broker holds every value again',
    );
    // Once its join ended, a RabbitMQ source is not read at all (its '#' read finds nothing).
    mover.forget(rabbit);
    assert.equal(await mover.move([rabbit], [mosquitto], false), 0);
  });

  it('a move does not read a source that cannot list its retained messages, and moves the others', async (t) => {
    const provider = await startProvider(t);
    const [a, b] = await Promise.all(
      [0, 1].map(async () => provider.waitReady((await provider.create('broker', 'mosquitto')).id, 10_000)),
    );
    if (!a || !b) throw new Error('setup');
    // A RabbitMQ source at an address where nothing listens: reading it would fail the whole move.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const address = closed.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const rabbit = {
      ...a,
      id: 'rabbit-unreachable',
      template: 'rabbitmq',
      url: `mqtt://127.0.0.1:${address.port}`,
    };
    const pub = await connectClient(t, a.url, { protocolVersion: 5 });
    const topics = Array.from({ length: 20 }, (_, i) => `skip/${i}`);
    for (const topic of topics) await pub.publishAsync(topic, topic, { qos: 1, retain: true });
    const lines: string[] = [];
    const destination = new PassThrough();
    destination.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    const mover = new BoundedMover({
      actionTimeoutMs: 10_000,
      users: [],
      log: createRootLogger({ destination }),
    });
    const owners = [a, b].map((r) => parseBrokerUrl(r.url).id);
    const moving = topics.filter((x) => retainedOwner(x, owners) === parseBrokerUrl(b.url).id);
    assert.ok(moving.length > 0, 'some topics move to b');
    const moved = await mover.move([rabbit, a], [a, b], true);
    assert.equal(moved, moving.length, 'every topic b owns moved from a');
    await waitFor(() => lines.some((l) => l.includes('rabbit-unreachable')), 2000, 'the skip logged');
    const logged = JSON.parse(lines.find((l) => l.includes('rabbit-unreachable')) ?? '{}') as {
      msg?: string;
    };
    assert.match(logged.msg ?? '', /cannot list their retained messages/);
    const onB = await readRetained(b.url, {}, 10_000);
    assert.deepEqual(onB.map((m) => m.topic).sort(), [...moving].sort(), 'b holds what it owns');
  });
});
