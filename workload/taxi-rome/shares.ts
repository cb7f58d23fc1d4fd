import type { TaxiRecord } from './record.ts';

/**
 * How a replay splits the trace among P publishers (paper's Algorithm 3) and S subscribers
 * (Algorithm 4), pure. The unit is the taxi: every fix of one taxi goes through one publisher, in
 * trace order, and each taxi topic is subscribed by exactly one subscriber, so a topic's messages
 * have one order to check and each message is expected exactly once. Taxis are dealt round-robin in
 * order of first appearance, which balances the shares.
 */
export function assignTaxis(records: readonly TaxiRecord[], parts: number): Map<number, number> {
  if (!Number.isInteger(parts) || parts < 1)
    throw new RangeError(`parts: ${parts} is not a positive integer`);
  const owner = new Map<number, number>();
  for (const r of records) if (!owner.has(r.taxi)) owner.set(r.taxi, owner.size % parts);
  return owner;
}

/** The records of share `index` of `parts`, in trace order. */
export function shareOf(records: readonly TaxiRecord[], parts: number, index: number): TaxiRecord[] {
  const owner = assignTaxis(records, parts);
  return records.filter((r) => owner.get(r.taxi) === index);
}

/** All shares at once: shares[i] holds share i's records in trace order. */
export function splitShares(records: readonly TaxiRecord[], parts: number): TaxiRecord[][] {
  const owner = assignTaxis(records, parts);
  const shares: TaxiRecord[][] = Array.from({ length: parts }, () => []);
  for (const r of records) shares[owner.get(r.taxi) ?? 0]?.push(r);
  return shares;
}

export function taxiTopic(taxi: number): string {
  return `taxi/${taxi}`;
}

/** Per topic, how many messages a replay of `records` publishes (what a subscriber must receive). */
export function expectedPerTopic(records: readonly TaxiRecord[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of records) {
    const topic = taxiTopic(r.taxi);
    counts.set(topic, (counts.get(topic) ?? 0) + 1);
  }
  return counts;
}
