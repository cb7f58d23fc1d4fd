/**
 * A map from packet ids (0..65535) to values (pure), for the tables every QoS 1/2 message adds an id to
 * and removes it from: the id spaces of a link and of a client's deliveries, and the deliveries' (broker,
 * upstream id) index. V8's Map leaves a hole for each deleted entry and copies itself into a new table
 * once the holes fill it, so a Map that keeps ~100 ids while ids come and go reallocates its table every
 * few hundred messages: 12 % of the bytes the orchestrator allocated per QoS 1 message
 * (docs/data-plane.md, "Session 30"). Here: open addressing with linear probing over a power-of-two
 * table of Fibonacci-hashed ids, deletion by backward shift (no holes), grown when half full; shrunk
 * only by trim() (the session's 1-second tick), so ids that come and go allocate nothing: a table
 * that shrank as it emptied was reallocated again and again by a link whose few ids in flight came
 * and went (10 % of the bytes allocated per message in a first version). An empty table is given back
 * only once it has stayed unused for IDLE_TRIMS_TO_FREE trims: freed at the first empty tick, the
 * table of a client publishing every second or few was made again for each message and lived about
 * that second, long enough for V8 to move it to the old generation, where such garbage piled up until
 * the next full collection (docs/data-plane.md, "Session 42"). Since tables stay with their sessions,
 * their arrays are plain arrays of small integers: an Int32Array and a Float64Array cost an object,
 * an ArrayBuffer and a backing store each (a table of 8 slots with one id: 686 bytes, 421 now).
 *
 * Iteration (`entries`, `values`, `forEachInOrder`; cold: a broker lost, a session handed over) is in
 * insertion order, as a Map's; `forEach` and `someBefore` visit in table order and allocate nothing.
 */
/** 4 slots hold 2 ids: a client with one or two in flight at a time (most devices) needs no more. */
const MIN_CAPACITY = 4;
/** Trims (session ticks, 1 s) an empty table waits unused before its arrays are given back. */
export const IDLE_TRIMS_TO_FREE = 10;
const EMPTY = -1;
/**
 * What a table holds before its first id: shared, never written. Not frozen: a frozen array has another
 * elements kind, and each access site would see two.
 */
const NO_KEYS: readonly number[] = [];
const NO_SEQS: readonly number[] = [];
const NO_VALUES: never[] = [];

export class IdTable<V> {
  /** Ids by slot, EMPTY where none; no table until the first id (an idle link needs none). */
  private keys = NO_KEYS as number[];
  private vals: Array<V | undefined> = NO_VALUES;
  /** Insertion order, for entries() (small integers until 2^30 ids have been added: then doubles). */
  private seqs = NO_SEQS as number[];
  private shift = 32;
  private count = 0;
  private nextSeq = 0;
  /** Trims since the last id was added. */
  private idleTrims = 0;

  get size(): number {
    return this.count;
  }

  get(id: number): V | undefined {
    const at = this.find(id);
    return at < 0 ? undefined : this.vals[at];
  }

  has(id: number): boolean {
    return this.find(id) >= 0;
  }

  /** Adds id → value, or replaces the value of an id already here (which keeps its place in the order). */
  set(id: number, value: V): void {
    const at = this.find(id);
    if (at >= 0) {
      this.vals[at] = value;
      return;
    }
    if ((this.count + 1) * 2 > this.keys.length) this.resize(Math.max(MIN_CAPACITY, this.keys.length * 2));
    this.put(id, value, this.nextSeq++);
    this.count += 1;
    this.idleTrims = 0;
  }

  /** Removes id; returns its value (undefined when absent). */
  delete(id: number): V | undefined {
    const keys = this.keys;
    let i = this.find(id);
    if (i < 0) return undefined;
    const value = this.vals[i];
    const mask = keys.length - 1;
    // Backward shift: each following entry of the run that may sit at i (its home is not in (i, j])
    // moves there, so every lookup still finds its id before an empty slot.
    for (let j = (i + 1) & mask; keys[j] !== EMPTY; j = (j + 1) & mask) {
      const home = this.slot(keys[j] as number);
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      keys[i] = keys[j] as number;
      this.vals[i] = this.vals[j];
      this.seqs[i] = this.seqs[j] as number;
      i = j;
    }
    keys[i] = EMPTY;
    this.vals[i] = undefined;
    this.count -= 1;
    return value;
  }

  /**
   * Gives back what the table no longer needs: all of it when it has been empty and unused for
   * IDLE_TRIMS_TO_FREE trims (an idle link keeps no table), else it is halved while under an eighth full.
   */
  trim(): void {
    const capacity = this.keys.length;
    this.idleTrims += 1;
    if (this.count === 0) {
      if (capacity > 0 && this.idleTrims >= IDLE_TRIMS_TO_FREE) this.clear();
      return;
    }
    let target = capacity;
    while (target > MIN_CAPACITY && this.count * 8 < target) target /= 2;
    if (target < capacity) this.resize(target);
  }

  /** The values, a snapshot in insertion order. */
  values(): V[] {
    return this.entries().map((entry) => entry[1]);
  }

  /**
   * Each value in insertion order, from a snapshot; `visit` may add and delete ids. One deleted before its
   * turn (or whose id holds another value by then) is skipped, as a Map's walk skips a deleted entry;
   * one added during the walk is not visited.
   */
  forEachInOrder(visit: (value: V) => void): void {
    for (const [id, value] of this.entries()) if (this.get(id) === value) visit(value);
  }

  /** Each value, in table order (not insertion order); `visit` must not add or delete ids. */
  forEach(visit: (value: V) => void): void {
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) visit(this.vals[i] as V);
  }

  /**
   * Whether `test` holds for a value added before id's (for any value when id is absent, as a walk of a
   * Map up to it would go); `test` must not add or delete ids.
   */
  someBefore(id: number, test: (value: V) => boolean): boolean {
    const at = this.find(id);
    const seq = at < 0 ? Number.POSITIVE_INFINITY : (this.seqs[at] as number);
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++)
      if (keys[i] !== EMPTY && (this.seqs[i] as number) < seq && test(this.vals[i] as V)) return true;
    return false;
  }

  /** A snapshot, in insertion order. */
  entries(): Array<[number, V]> {
    const keys = this.keys;
    const slots: number[] = [];
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) slots.push(i);
    slots.sort((a, b) => (this.seqs[a] as number) - (this.seqs[b] as number));
    return slots.map((i) => [keys[i] as number, this.vals[i] as V]);
  }

  clear(): void {
    this.keys = NO_KEYS as number[];
    this.vals = NO_VALUES;
    this.seqs = NO_SEQS as number[];
    this.shift = 32;
    this.count = 0;
    this.idleTrims = 0;
  }

  private slot(id: number): number {
    return Math.imul(id, 0x9e3779b1) >>> this.shift;
  }

  /** The slot holding id, or -1. */
  private find(id: number): number {
    const keys = this.keys;
    if (this.count === 0) return -1;
    const mask = keys.length - 1;
    for (let i = this.slot(id); ; i = (i + 1) & mask) {
      const key = keys[i];
      if (key === id) return i;
      if (key === EMPTY) return -1;
    }
  }

  /** Into the first empty slot of id's run (id is not here, and there is room). */
  private put(id: number, value: V, seq: number): void {
    const keys = this.keys;
    const mask = keys.length - 1;
    let i = this.slot(id);
    while (keys[i] !== EMPTY) i = (i + 1) & mask;
    keys[i] = id;
    this.vals[i] = value;
    this.seqs[i] = seq;
  }

  private resize(capacity: number): void {
    const keys = this.keys;
    const values = this.vals;
    const seqs = this.seqs;
    this.keys = new Array<number>(capacity).fill(EMPTY);
    this.vals = new Array<V | undefined>(capacity).fill(undefined);
    this.seqs = new Array<number>(capacity).fill(0);
    this.shift = 32 - Math.log2(capacity);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as number;
      if (key !== EMPTY) this.put(key, values[i] as V, seqs[i] as number);
    }
  }
}
