// Memory per client (docs/data-plane.md, "Memory per client"): what an idle session does not allocate.
// A regression guard without timing: it reads the structures' fields, so it fails as soon as one of
// them allocates its collection up front again, or a session gets its own closures back.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createRootLogger } from '../../common/logger.ts';
import { Orchestrator } from '../../orchestrator/orchestrator.ts';
import { PacketIdSpace } from '../../orchestrator/protocol/packet-ids.ts';
import { Router } from '../../orchestrator/routing/strategies.ts';
import { AckOrder, type OrderedAck } from '../../orchestrator/session/ack-order.ts';
import { BrokerWindows } from '../../orchestrator/session/broker-windows.ts';
import { InboundPublishes } from '../../orchestrator/session/inbound-publish.ts';
import {
  emptyArray,
  emptyMap,
  emptySet,
  isShared,
  takeAll,
  writableArray,
  writableMap,
  writableSet,
} from '../../orchestrator/session/lazy-collections.ts';
import { LinkEndings } from '../../orchestrator/session/link-endings.ts';
import { LinkGraces } from '../../orchestrator/session/link-grace.ts';
import { ReplayWindow } from '../../orchestrator/session/replay-window.ts';
import { RetainedOrder } from '../../orchestrator/session/retained-order.ts';
import { SubscriptionFanout } from '../../orchestrator/session/subscriptions.ts';
import { everySecond } from '../../orchestrator/session/ticker.ts';
import { TopicAliases } from '../../orchestrator/session/topic-alias.ts';
import { fakeContext, fakeLinks, field } from '../helpers/fake-session.ts';

describe('memory per client: lazily allocated session state', () => {
  it('the shared empty collections read as empty, refuse writes, and are swapped for own ones', () => {
    const m = emptyMap<string, number>();
    const s = emptySet<string>();
    assert.equal(m.size, 0);
    assert.equal(m.get('a'), undefined);
    assert.equal(s.has('a'), false);
    assert.throws(() => m.set('a', 1), /read-only/);
    assert.throws(() => s.add('a'), /read-only/);
    const own = writableMap(m);
    own.set('a', 1);
    assert.equal(isShared(own), false);
    assert.equal(writableMap(own), own, 'an own Map stays');
    assert.equal(emptyMap<string, number>().size, 0, 'nothing leaked into the shared one');
    const ownSet = writableSet(s);
    ownSet.add('a');
    assert.equal(emptySet<string>().size, 0);
  });

  it('the shared empty array reads as empty, refuses writes, and is swapped for an own one', () => {
    const a = emptyArray<number>();
    assert.equal(a.length, 0);
    assert.throws(() => a.push(1), TypeError);
    assert.deepEqual(takeAll(a), [], 'taking all from it changes nothing');
    const own = writableArray(a);
    own.push(1, 2);
    assert.notEqual(own, a);
    assert.equal(writableArray(own), own, 'an own array stays');
    assert.deepEqual(takeAll(own), [1, 2]);
    assert.equal(own.length, 0);
    assert.equal(emptyArray<number>().length, 0, 'nothing leaked into the shared one');
    // AckOrder: shared until the first publish, and its own array kept once emptied.
    const order = new AckOrder<OrderedAck>();
    assert.equal(field(order, 'items'), emptyArray());
    const item: OrderedAck = { ack: undefined };
    order.push(item);
    const sent: unknown[] = [];
    order.ready(item, { cmd: 'puback', messageId: 1 }, { sendAck: (p) => sent.push(p) });
    assert.equal(sent.length, 1);
    assert.equal(order.pending, 0);
    assert.notEqual(field(order, 'items'), emptyArray());
  });

  it('a fresh flow structure holds no Map, Set or WeakSet until it is written to', () => {
    const windows = new BrokerWindows<number>();
    for (const name of ['used', 'usedQos2', 'waiting'])
      assert.ok(isShared(field(windows, name) as Map<unknown, unknown>), `BrokerWindows.${name}`);
    assert.ok(isShared(field(new TopicAliases(10), 'topics') as Map<unknown, unknown>), 'TopicAliases');
    assert.ok(isShared(field(new ReplayWindow(2000, 100), 'byBroker') as Map<unknown, unknown>));
    assert.ok(isShared(field(new RetainedOrder(() => []), 'latest') as Map<unknown, unknown>));
    assert.ok(isShared(field(new LinkGraces(0), 'kept') as Map<unknown, unknown>), 'LinkGraces');
    const endings = new LinkEndings();
    for (const name of ['cleanCloses', 'deniedAt'])
      assert.ok(isShared(field(endings, name) as Map<unknown, unknown>), `LinkEndings.${name}`);
    for (const name of ['takenOverAt', 'closedForAReason'])
      assert.equal(field(endings, name), undefined, `LinkEndings.${name}`);
    assert.equal(field(new PacketIdSpace<number>(), 'used'), undefined, 'PacketIdSpace');
    // Written to, each has its own, and another instance still reads empty.
    windows.take('a', true);
    windows.wait('a', 1);
    assert.equal(new BrokerWindows<number>().inUse('a'), 0);
    assert.deepEqual([windows.inUse('a'), windows.inUseQos2('a'), windows.next('a')], [1, 1, 1]);
    const ids = new PacketIdSpace<number>();
    assert.deepEqual(ids.entries(), []);
    assert.equal(ids.release(1), undefined);
    assert.equal(ids.allocate(7), 1);
    assert.deepEqual([...ids.entries()], [[1, 7]]);
  });

  it('a flow keeps no closure of its own: AckOrder sends through the flow, subscriptions and retained order come lazily', () => {
    const { links } = fakeLinks(['b1']);
    const ctx = fakeContext({
      link: (id) => links.get(id),
      publishTargets: () => [...links.values()],
      subscribeTargets: () => [...links.values()],
    });
    const inbound = new InboundPublishes(ctx, new Router('round-robin'), new TopicAliases(10), 100, {
      windowMs: 2000,
      maxMessages: 100,
    });
    const own = Object.values(inbound).filter((v) => typeof v === 'function');
    assert.deepEqual(own, [], "no function-valued field (sendAck is a method: AckOrder's sink)");
    const replays = field(inbound, 'replays') as object;
    assert.equal(field(replays, 'retainedOrder'), undefined, 'no RetainedOrder before a retained publish');
    assert.deepEqual(
      Object.values(replays).filter((v) => typeof v === 'function'),
      [],
      'RecentReplays has no closure either',
    );
    inbound.onPublish({
      cmd: 'publish',
      topic: 'r/1',
      payload: Buffer.from('x'),
      qos: 1,
      messageId: 1,
      retain: true,
      dup: false,
    });
    assert.ok(field(replays, 'retainedOrder') instanceof RetainedOrder, 'made by the first retained publish');
    const subs = new SubscriptionFanout(ctx);
    assert.ok(isShared(subs.active as Map<unknown, unknown>), 'no subscriptions Map before a SUBSCRIBE');
    subs.adopt({ topic: 'a/#', qos: 1 });
    assert.ok(!isShared(subs.active as Map<unknown, unknown>));
    assert.equal(subs.active.get('a/#')?.qos, 1);
    assert.equal(emptyMap<string, unknown>().size, 0, 'nothing leaked into the shared Map');
  });

  it('sessions of one orchestrator share their deps and listeners; one before CONNECT keeps no Set or timer map', async () => {
    const orchestrator = new Orchestrator({
      routing: 'round-robin',
      brokers: [],
      log: createRootLogger({ level: 'silent' }),
    });
    try {
      const a = orchestrator.handle(new PassThrough());
      const b = orchestrator.handle(new PassThrough());
      assert.equal(a.deps, b.deps, 'one deps object (and its closures) for every session');
      assert.equal(a.log, b.log, 'one component logger');
      assert.equal(a.deps.events, b.deps.events, 'one events object');
      assert.equal(field(a, 'observers'), undefined, 'no listener table of its own');
      assert.ok(!('_events' in a), 'not an EventEmitter');
      const down = field(a, 'down') as { stream: PassThrough };
      const drains = [a, b].map((x) =>
        (field(x, 'down') as { stream: PassThrough }).stream.listeners('drain'),
      );
      assert.equal(drains[0]?.length, 1, "the client socket's one 'drain' listener");
      assert.equal(drains[0]?.[0], drains[1]?.[0], 'the same function for every session (no closure)');
      assert.ok(!('_events' in down), "the client's FramedStream is not an EventEmitter either");
      for (const name of ['clientPauses', 'upstreamPauses'])
        assert.ok(isShared(field(a, name) as Set<unknown>), `Session.${name}`);
      assert.ok(isShared(field(a.uplinks, 'reconnectTimers') as Map<unknown, unknown>));
      for (const name of ['early', 'earlyFromBrokers'])
        assert.equal(field(a.packets, name), emptyArray(), `PacketDispatch.${name}`);
      assert.equal(field(a.lazy, 'whileLinking'), emptyArray(), 'LazyLinks.whileLinking');
      // The keepalive runs on the process's 1-second clock (ticker.ts), not a timer per session.
      const timeouts = () =>
        Object.values(a.lifetime).filter(
          (v) => v !== null && typeof v === 'object' && v.constructor.name === 'Timeout',
        ).length;
      const [ownBefore, clockBefore] = [timeouts(), everySecond.size];
      a.lifetime.startKeepalive(30);
      assert.equal(timeouts(), ownBefore, 'no Timeout of its own for the keepalive');
      assert.equal(everySecond.size, clockBefore + 1, 'a member of the clock instead');
      a.close('abrupt', 'test');
      b.close('abrupt', 'test');
      assert.equal(everySecond.size, clockBefore, 'and not once closed');
    } finally {
      await orchestrator.close();
    }
  });
});
