/**
 * Collections a session allocates only once it puts something in them (docs/data-plane.md, "Memory
 * per client"): an empty Map costs ~180 bytes with its hash table, and a session held about twenty of
 * them, most never used by an idle client; an empty array 32 bytes, and a session and its links held
 * about a dozen. A field starts as the shared empty one, which every read sees as empty, and is swapped
 * for its own collection by the first write: `this.used = writableMap(this.used); this.used.set(…)`.
 * A write to the shared one throws, so a write path that forgot the swap fails loudly instead of
 * leaking entries between sessions.
 */

class SharedEmptyMap extends Map<never, never> {
  override set(): this {
    throw new Error('the shared empty Map is read-only (writableMap first)');
  }
}

class SharedEmptySet extends Set<never> {
  override add(): this {
    throw new Error('the shared empty Set is read-only (writableSet first)');
  }
}

const EMPTY_MAP = Object.freeze(new SharedEmptyMap());
const EMPTY_SET = Object.freeze(new SharedEmptySet());
/** Frozen: a push, splice or length change on it throws (strict mode). */
const EMPTY_ARRAY: readonly never[] = Object.freeze([]);

/** The shared empty Map, typed for a field that becomes its own Map on the first write. */
export function emptyMap<K, V>(): Map<K, V> {
  return EMPTY_MAP as unknown as Map<K, V>;
}

/** The shared empty Set, typed for a field that becomes its own Set on the first write. */
export function emptySet<T>(): Set<T> {
  return EMPTY_SET as unknown as Set<T>;
}

/** The shared empty array, typed for a field that becomes its own array on the first write. */
export function emptyArray<T>(): T[] {
  return EMPTY_ARRAY as unknown as T[];
}

/** `array` itself, or a new array in place of the shared empty one. */
export function writableArray<T>(array: T[]): T[] {
  return (array as unknown) === EMPTY_ARRAY ? [] : array;
}

/** Everything in `array`, taken out (splice(0)): `array` is left empty, and the shared one alone. */
export function takeAll<T>(array: T[]): T[] {
  return array.length === 0 ? (EMPTY_ARRAY as unknown as T[]) : array.splice(0);
}

/** `map` itself, or a new Map in place of the shared empty one. */
export function writableMap<K, V>(map: Map<K, V>): Map<K, V> {
  return (map as unknown) === EMPTY_MAP ? new Map<K, V>() : map;
}

/** `set` itself, or a new Set in place of the shared empty one. */
export function writableSet<T>(set: Set<T>): Set<T> {
  return (set as unknown) === EMPTY_SET ? new Set<T>() : set;
}

/** Whether the collection is still the shared empty one (nothing was ever allocated for it). */
export function isShared(collection: Map<unknown, unknown> | Set<unknown>): boolean {
  return (collection as unknown) === EMPTY_MAP || (collection as unknown) === EMPTY_SET;
}
