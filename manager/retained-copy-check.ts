/**
 * Which copies of a retained move are known stored on their owner, so their source may be cleared (or,
 * on a drain, destroyed). Pure: the read-back is done by manager/retained-readback.ts.
 *
 * A QoS 0 publish has no acknowledgement: the copy can be lost after it was written (its connection
 * reset, the broker dropped it), and clearing the source then loses the value everywhere (review
 * finding 7). Such a copy counts as stored only when the owner, read back on the connection that wrote
 * it, holds the same payload. A QoS 1 or 2 copy was acknowledged, which a broker does once it stored it.
 */
export interface SentCopy {
  topic: string;
  payload: Buffer;
  /** The QoS the copy was published with (the value's own, capped by the owner's maximum). */
  qos: 0 | 1 | 2;
  /** The broker the copy went to (`host:port`). */
  owner: string;
}

/**
 * Splits the copies into stored ones and unconfirmed ones, given what each owner holds on the read-back
 * topics (`held`: owner → topic → payload; an owner absent or undefined: its read-back failed, none of
 * its QoS 0 copies is confirmed).
 * A different payload is unconfirmed too: the copy is made again (the fence holds client publishes).
 */
export function checkCopies<T extends SentCopy>(
  copies: readonly T[],
  held: ReadonlyMap<string, ReadonlyMap<string, Buffer> | undefined>,
): { stored: T[]; unconfirmed: T[] } {
  const stored: T[] = [];
  const unconfirmed: T[] = [];
  for (const c of copies) {
    if (c.qos > 0 || held.get(c.owner)?.get(c.topic)?.equals(c.payload) === true) stored.push(c);
    else unconfirmed.push(c);
  }
  return { stored, unconfirmed };
}
