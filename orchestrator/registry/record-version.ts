import type { RegisteredSubscription, RegistryEntry } from './reserved.ts';

/**
 * Versions of the session registry's records (pure; review finding 5).
 *
 * Every broker of the pool keeps its own copy of a client's record; a broker that was unreachable
 * when the record changed keeps the old one. Each record therefore carries `writtenAt`: the writer's
 * clock in ms, raised past the last version the writer wrote or read, so a session's own writes only
 * go up. Readers take the newest copy among the brokers that answer. A session that ended while a
 * broker missed it leaves a tombstone (a record saying "ended at T"), so the stale copy on that broker
 * is older than something, and loses.
 */
export interface RegistryTombstone {
  clientId: string;
  ended: true;
  writtenAt: number;
}

export type RegistryRecord = RegistryEntry | RegistryTombstone;

export function isTombstone(record: RegistryRecord): record is RegistryTombstone {
  return (record as RegistryTombstone).ended === true;
}

/** The record when it is a live one; undefined for a tombstone (the session ended) or none. */
export function liveRecord(record: RegistryRecord | undefined): RegistryEntry | undefined {
  return record && !isTombstone(record) ? record : undefined;
}

/** A record's version; a record from before versions (no `writtenAt`) is the oldest of all. */
export function versionOf(record: RegistryRecord): number {
  return record.writtenAt ?? Number.NEGATIVE_INFINITY;
}

/**
 * The newest record among copies read from several brokers, in the order they were asked (undefined:
 * a broker without the record, or one that did not answer). Ties go to the earlier broker in the
 * order (the caller lists the brokers it trusts most first). Undefined when no broker had one.
 */
export function newestRecord(copies: ReadonlyArray<RegistryRecord | undefined>): RegistryRecord | undefined {
  let best: RegistryRecord | undefined;
  for (const copy of copies) if (copy && (!best || versionOf(copy) > versionOf(best))) best = copy;
  return best;
}

/**
 * The subscriptions of live copies older than `newest` that `newest` does not have: what a broker that
 * missed a change may still hold in its own session of the client (one filter once, the first seen).
 */
export function staleSubscriptions(
  copies: ReadonlyArray<RegistryRecord | undefined>,
  newest: RegistryRecord | undefined,
): RegisteredSubscription[] {
  const keep = new Set(newest && !isTombstone(newest) ? newest.subscriptions.map((s) => s.topic) : []);
  const out = new Map<string, RegisteredSubscription>();
  for (const copy of copies) {
    if (!copy || copy === newest || isTombstone(copy)) continue;
    for (const sub of copy.subscriptions)
      if (!keep.has(sub.topic) && !out.has(sub.topic)) out.set(sub.topic, sub);
  }
  return [...out.values()];
}

/** The next version a writer stamps: its clock, but always above `last` (what it wrote or read). */
export function nextVersion(now: number, last: number): number {
  return Math.max(Math.floor(now), Math.floor(last) + 1);
}

export function encodeTombstone(tombstone: RegistryTombstone): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, ...tombstone }));
}

/** A tombstone, from a parsed record; undefined when it is not one (or malformed). */
export function tombstoneOf(raw: Record<string, unknown>): RegistryTombstone | undefined {
  if (raw.v !== 1 || raw.ended !== true || typeof raw.clientId !== 'string') return undefined;
  if (typeof raw.writtenAt !== 'number' || !Number.isFinite(raw.writtenAt)) return undefined;
  return { clientId: raw.clientId, ended: true, writtenAt: raw.writtenAt };
}

/** `writtenAt` of a parsed record when it is a finite number; absent otherwise (an older record). */
export function parsedVersion(raw: Record<string, unknown>): { writtenAt?: number } {
  return typeof raw.writtenAt === 'number' && Number.isFinite(raw.writtenAt)
    ? { writtenAt: raw.writtenAt }
    : {};
}
