// A client that publishes QoS 1 one message at a time (a device every second or few) must not make
// the publish flow's tables again for each message: such a table lives as long as the gap between two
// messages, outlives two young-generation collections, and piles up as old-generation garbage until a
// full collection (docs/data-plane.md, "Session 42": 42 → 12 MB of it in 12 s at 4,500 clients). The
// flow runs over fake links; the test reads the tables' storage objects before and after.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IDLE_TRIMS_TO_FREE, IdTable } from '../../orchestrator/protocol/id-table.ts';
import { fakeContext, fakeInbound, fakeLinks, field } from '../helpers/fake-session.ts';

describe('a client publishing one QoS 1 message at a time', () => {
  it('keeps its in-flight table, its broker window counts and its link id table across messages and ticks', () => {
    const { links, sent } = fakeLinks(['b1']);
    const link = links.get('b1');
    assert.ok(link);
    const acks: number[] = [];
    const ctx = fakeContext({
      sendDown: (p) => (p.cmd === 'puback' ? acks.push(p.messageId ?? 0) > 0 : true),
      link: (id) => links.get(id),
      publishTargets: () => [...links.values()],
      subscribeTargets: () => [...links.values()],
    });
    const inbound = fakeInbound(ctx);
    const inflight = field(inbound, 'inflight') as object;
    assert.ok(inflight instanceof IdTable, 'not a Map, which gets a new table when a delete empties it');
    const windows = field(field(inbound, 'routing') as object, 'windows') as object;
    const linkTable = (): object => field(link.ids, 'used') as object;
    let storage: unknown[] = [];
    for (let m = 1; m <= 50; m++) {
      inbound.onPublish({
        cmd: 'publish',
        topic: 'device/7/position',
        payload: Buffer.from(`fix ${m}`),
        qos: 1,
        messageId: m,
        retain: false,
        dup: false,
      });
      const upId = sent.get('b1')?.at(-1)?.messageId;
      inbound.onBrokerAck(link, { cmd: 'puback', messageId: upId }, m);
      assert.equal(inbound.size, 0, 'nothing left in flight');
      // The session's ticks until the next message: a few seconds, fewer than an idle table waits.
      for (let tick = 0; tick < IDLE_TRIMS_TO_FREE - 1; tick++) {
        inbound.trimIds();
        link.ids.trim();
      }
      const now: unknown[] = [field(inflight, 'keys'), field(windows, 'used'), field(linkTable(), 'keys')];
      if (m === 1) storage = now;
      else
        assert.deepEqual(
          now.map((o: unknown, i: number) => o === storage[i]),
          [true, true, true],
          `message ${m}`,
        );
    }
    assert.equal(acks.length, 50, 'every publish acknowledged to the client');
    assert.equal((field(inflight, 'keys') as number[]).length, 4, 'a table of the least size, kept');
    assert.deepEqual([...(field(windows, 'used') as Map<string, number>)], [['b1', 0]]);
    // Idle for IDLE_TRIMS_TO_FREE ticks: the id tables are given back.
    inbound.trimIds();
    link.ids.trim();
    assert.equal((field(inflight, 'keys') as number[]).length, 0);
    assert.equal((field(linkTable(), 'keys') as number[]).length, 0);
  });
});
