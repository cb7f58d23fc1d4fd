// IdTable (id-table.ts), the packet-id map of the QoS 1/2 flows, against V8's Map: random adds,
// replacements and deletes give the same lookups and the same insertion-ordered entries; ids that all
// hash to one slot still work (backward-shift deletion across the table's end); the table grows and
// shrinks with its contents and allocates nothing while a steady number of ids come and go, nor for a
// client whose one id comes and goes every few seconds; its ordered and unordered walks see what a
// Map's would; and PacketIdSpace on top of it hands out every id once when full.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IDLE_TRIMS_TO_FREE, IdTable } from '../../orchestrator/protocol/id-table.ts';
import { PacketIdSpace } from '../../orchestrator/protocol/packet-ids.ts';
import { mulberry32 as random } from '../../workload/taxi-rome/random.ts';
import { field } from '../helpers/fake-session.ts';

/** A table's slot array (private): its length is the capacity, its identity says whether it was made again. */
function slotsOf(table: IdTable<unknown>): number[] {
  return field(table, 'keys') as number[];
}

function sameAs<V>(table: IdTable<V>, map: Map<number, V>, probes: readonly number[]): void {
  assert.equal(table.size, map.size);
  for (const id of probes) assert.equal(table.get(id), map.get(id), `id ${id}`);
  assert.deepEqual(table.entries(), [...map.entries()]);
}

/** Ids whose Fibonacci hash lands on `slot` of a table of `capacity` (id-table.ts `slot`). */
function idsAt(capacity: number, slot: number, count: number): number[] {
  const shift = 32 - Math.log2(capacity);
  const out: number[] = [];
  for (let id = 0; id < 65_536 && out.length < count; id++)
    if (Math.imul(id, 0x9e3779b1) >>> shift === slot) out.push(id);
  return out;
}

describe('IdTable', () => {
  it('matches a Map over 200,000 random adds, replacements and deletes, in sequential and random ids', () => {
    for (const [seed, spread] of [
      [1, 300],
      [2, 65_536],
      [3, 40],
    ] as const) {
      const next = random(seed);
      const table = new IdTable<number>();
      const map = new Map<number, number>();
      let sequential = 0;
      for (let op = 0; op < 200_000 / 3; op++) {
        const r = next();
        const id =
          seed === 1 ? (sequential + Math.floor(next() * spread)) & 0xffff : Math.floor(next() * spread);
        if (r < 0.5) {
          table.set(id, op);
          map.set(id, op);
          sequential = (sequential + 1) & 0xffff;
        } else {
          assert.equal(table.delete(id), map.get(id), `delete ${id} at op ${op}`);
          map.delete(id);
        }
        if (op % 997 === 0) sameAs(table, map, [id, (id + 1) & 0xffff, ...map.keys()].slice(0, 200));
      }
      sameAs(table, map, [...map.keys()]);
    }
  });

  it('finds and removes ids of runs that wrap round the end of the table, whatever is deleted first', () => {
    // Capacity 16 holds 8: homes 14, 14, 14, 15, 15, 0, 0, 1 fill slots 14, 15, 0, ..., 5.
    const ids = [...idsAt(16, 14, 3), ...idsAt(16, 15, 2), ...idsAt(16, 0, 2), ...idsAt(16, 1, 1)];
    const next = random(7);
    for (let round = 0; round < 40; round++) {
      const table = new IdTable<string>();
      const map = new Map<number, string>();
      for (const id of ids) {
        table.set(id, `v${id}`);
        map.set(id, `v${id}`);
      }
      assert.equal(slotsOf(table).length, 16);
      const order = [...ids].sort(() => next() - 0.5);
      for (const id of order.slice(0, 6)) {
        assert.equal(table.delete(id), `v${id}`);
        map.delete(id);
        sameAs(table, map, ids);
      }
    }
  });

  it('grows when half full, keeps its arrays while ids come and go, and shrinks only when trimmed', () => {
    const table = new IdTable<number>();
    const capacity = (): number => slotsOf(table).length;
    assert.equal(capacity(), 0, 'no table before the first id');
    for (let id = 1; id <= 100; id++) table.set(id, id);
    assert.equal(capacity(), 256);
    const keys = slotsOf(table);
    // 100 in flight, 100,000 times one finished and one more taken: the same table throughout.
    for (let id = 101; id <= 100_100; id++) {
      table.delete(((id - 101) % 65_535) + 1);
      table.set(((id - 1) % 65_535) + 1, id);
    }
    assert.equal(table.size, 100);
    assert.equal(slotsOf(table), keys, 'no table reallocated');
    // Down to 10 and back to 0, three times over: nothing shrinks until trim().
    for (let round = 0; round < 3; round++) {
      for (const [id] of table.entries().slice(10)) table.delete(id);
      assert.equal(table.size, 10);
      for (const [id] of table.entries()) table.delete(id);
      for (let id = 1; id <= 100; id++) table.set(id, id);
    }
    assert.equal(slotsOf(table), keys, 'still the same table');
    for (const [id] of table.entries().slice(10)) table.delete(id);
    table.trim();
    assert.equal(capacity(), 64, 'halved while under an eighth full');
    assert.deepEqual(
      table.entries().map(([id]) => table.get(id)),
      table.entries().map(([id]) => id),
    );
    for (const [id] of table.entries()) table.delete(id);
    // The trim that halved it was the first since the last id was added.
    for (let trim = 2; trim < IDLE_TRIMS_TO_FREE; trim++) table.trim();
    assert.equal(
      capacity(),
      64,
      'an empty table is kept until it has been unused for IDLE_TRIMS_TO_FREE trims',
    );
    table.trim();
    assert.equal(capacity(), 0, 'an empty table gives back its arrays');
    table.set(5, 5);
    assert.deepEqual([table.get(5), capacity()], [5, 4]);
  });

  it('keeps the arrays of a table that empties and is used again every few trims (a client publishing every few seconds)', () => {
    const table = new IdTable<number>();
    table.set(1, 1);
    const keys = slotsOf(table);
    for (let message = 2; message < 200; message++) {
      table.delete(message - 1);
      // Trims while nothing is in flight: fewer than IDLE_TRIMS_TO_FREE between two messages.
      for (let trim = 0; trim < IDLE_TRIMS_TO_FREE - 1; trim++) table.trim();
      table.set(message, message);
    }
    assert.equal(slotsOf(table), keys, 'no table made again');
    table.delete(199);
    for (let trim = 0; trim < IDLE_TRIMS_TO_FREE; trim++) table.trim();
    assert.equal(slotsOf(table).length, 0, 'then given back once idle');
  });

  it('values, forEach and someBefore see what a Map walked in insertion order sees, over random adds and deletes', () => {
    const next = random(11);
    const table = new IdTable<number>();
    const map = new Map<number, number>();
    for (let op = 0; op < 20_000; op++) {
      const id = 1 + Math.floor(next() * 64);
      if (next() < 0.55) {
        table.set(id, op);
        map.set(id, op);
      } else {
        table.delete(id);
        map.delete(id);
      }
      if (op % 7 !== 0) continue;
      assert.deepEqual(table.values(), [...map.values()]);
      const seen: number[] = [];
      table.forEach((v) => {
        seen.push(v);
      });
      assert.deepEqual(
        seen.sort((a, b) => a - b),
        [...map.values()].sort((a, b) => a - b),
      );
      // Some value added before `probe`'s is odd: a walk of the Map up to `probe` (all of it when absent).
      const probe = 1 + Math.floor(next() * 64);
      let expected = false;
      for (const [k, v] of map) {
        if (k === probe) break;
        if (v % 2 === 1) expected = true;
      }
      assert.equal(
        table.someBefore(probe, (v) => v % 2 === 1),
        expected,
        `someBefore ${probe} at op ${op}`,
      );
    }
  });

  it('forEachInOrder walks in insertion order and skips what its visitor deleted, as a Map walk does', () => {
    const table = new IdTable<string>();
    const map = new Map<number, string>();
    for (const id of [9, 3, 40, 17, 5]) {
      table.set(id, `v${id}`);
      map.set(id, `v${id}`);
    }
    // Visiting 3 deletes 17 (not yet visited) and 9 (already visited); visiting 40 deletes itself.
    const effects = (from: { delete(id: number): unknown }, value: string): void => {
      if (value === 'v3') {
        from.delete(17);
        from.delete(9);
      }
      if (value === 'v40') from.delete(40);
    };
    const walked: string[] = [];
    table.forEachInOrder((v) => {
      walked.push(v);
      effects(table, v);
    });
    const mapWalked: string[] = [];
    for (const v of map.values()) {
      mapWalked.push(v);
      effects(map, v);
    }
    assert.deepEqual(walked, ['v9', 'v3', 'v40', 'v5']);
    assert.deepEqual(walked, mapWalked);
    assert.deepEqual(table.values(), [...map.values()]);
  });

  it('PacketIdSpace hands out all 65,535 ids once, none twice, then none until one is released', () => {
    const ids = new PacketIdSpace<number>();
    const seen = new Set<number>();
    for (let i = 0; i < 65_535; i++) {
      const id = ids.allocate(i);
      assert.ok(id !== undefined && id >= 1 && id <= 65_535 && !seen.has(id));
      seen.add(id);
    }
    assert.equal(ids.allocate(-1), undefined);
    assert.equal(ids.release(40_000), 40_000 - 1);
    assert.equal(ids.allocate(7), 40_000);
    assert.equal(ids.get(40_000), 7);
    assert.equal(ids.entries().length, 65_535);
  });
});
