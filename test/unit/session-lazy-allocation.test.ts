// Memory per client (docs/data-plane.md, "Memory per client"): what an idle session does not allocate.
// A regression guard without timing: it reads the structures' fields, so it fails as soon as one of
// them allocates its collection up front again, or a session gets its own closures back.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createRootLogger } from '../../common/logger.ts';
import { Orchestrator } from '../../orchestrator/orchestrator.ts';
import { PacketIdSpace } from '../../orchestrator/protocol/packet-ids.ts';
import { AckOrder, type OrderedAck } from '../../orchestrator/session/ack-order.ts';
import { BrokerWindows } from '../../orchestrator/session/broker-windows.ts';
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
import { everySecond } from '../../orchestrator/session/ticker.ts';
import { TopicAliases } from '../../orchestrator/session/topic-alias.ts';

/** A private field, read for the test (element access is allowed on private members). */
function field(object: object, name: string): unknown {
  return (object as Record<string, unknown>)[name];
}

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
    assert.equal(ids.entries().next().done, true);
    assert.equal(ids.release(1), undefined);
    assert.equal(ids.allocate(7), 1);
    assert.deepEqual([...ids.entries()], [[1, 7]]);
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
      const down = field(a, 'down') as object;
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
