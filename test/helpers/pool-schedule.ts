/**
 * The randomized pool-change test's pure parts: a seeded random source, the schedule of pool changes
 * and publishes a seed stands for, and the oracle that judges what the clients saw (issue #10, "Tests").
 */
import { mulberry32 } from '../../workload/taxi-rome/random.ts';

/** mulberry32 (the project's seeded PRNG); the same seed gives the same run everywhere. */
export function rng(seed: number): () => number {
  // Consecutive seeds would start alike: spread them first (a multiplicative hash).
  return mulberry32(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b));
}

export type PoolEvent =
  /** A spare broker joins: `joining` until synced, then `active`. */
  | { kind: 'join'; atMs: number }
  /** An active broker drains until idle, leaves the pool and is stopped (SIGTERM). */
  | { kind: 'drain'; atMs: number }
  /** An active broker is killed with SIGKILL; the pool drops it a moment later, as the manager would. */
  | { kind: 'kill'; atMs: number }
  /** The persistent subscriber `sub` leaves, a spare broker joins meanwhile, and it comes back. */
  | { kind: 'away-join'; atMs: number; sub: number };

export interface PlannedPublish {
  publisher: number;
  seq: number;
  qos: 0 | 1 | 2;
  /** Retained publishes go to `r/<publisher>/<key>`, one at a time; the others to `m/<publisher>`. */
  retainKey: number | undefined;
  /** An empty retained publish: clears the topic. */
  clear: boolean;
  /** Pause before this publish. */
  gapMs: number;
}

export interface Schedule {
  seed: number;
  /** Indexes (into the shared broker set) of the first pool's brokers, all active. */
  initial: number[];
  events: PoolEvent[];
  publishes: PlannedPublish[][];
}

export interface ScheduleOptions {
  brokers: number;
  publishers: number;
  perPublisher: number;
  /** Whether SIGKILL events are drawn (they need H3's fixes to be judged fully). */
  kills: boolean;
  /** Persistent subscribers (indexes) that may go away around a join. */
  persistentSubs: readonly number[];
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

/** The run a seed stands for (pure). Events are 250–450 ms apart; publishes 10–40 ms apart. */
export function makeSchedule(seed: number, o: ScheduleOptions): Schedule {
  const r = rng(seed);
  const all = Array.from({ length: o.brokers }, (_, i) => i);
  const first = pick(r, all);
  const second = pick(
    r,
    all.filter((i) => i !== first),
  );
  const initial = [first, second];
  const events: PoolEvent[] = [];
  let atMs = 150;
  let active = 2;
  let spare = o.brokers - 2;
  const count = 2 + Math.floor(r() * 2);
  for (let i = 0; i < count; i++) {
    atMs += 250 + Math.floor(r() * 200);
    const kinds: PoolEvent['kind'][] = [];
    if (spare > 0) kinds.push('join', 'join');
    if (spare > 0 && o.persistentSubs.length > 0 && !events.some((e) => e.kind === 'away-join'))
      kinds.push('away-join');
    if (active >= 2) kinds.push('drain');
    if (active >= 2 && o.kills) kinds.push('kill');
    if (kinds.length === 0) break;
    const kind = pick(r, kinds);
    if (kind === 'away-join') events.push({ kind, atMs, sub: pick(r, o.persistentSubs) });
    else events.push({ kind, atMs });
    // Drained and killed brokers come back as spares (restarted with no state) only in the next seed.
    if (kind === 'join' || kind === 'away-join') {
      active += 1;
      spare -= 1;
    } else active -= 1;
  }
  const publishes = Array.from({ length: o.publishers }, (_, publisher) =>
    Array.from({ length: o.perPublisher }, (_, seq): PlannedPublish => {
      const retained = r() < 0.3;
      const qos = retained ? (pick(r, [1, 2]) as 1 | 2) : (pick(r, [0, 1, 2]) as 0 | 1 | 2);
      return {
        publisher,
        seq,
        qos,
        retainKey: retained ? Math.floor(r() * 3) : undefined,
        clear: retained && r() < 0.2,
        gapMs: 10 + Math.floor(r() * 30),
      };
    }),
  );
  return { seed, initial, events, publishes };
}

/** The payload of a planned publish (`p<publisher>:<seq>:<qos>`), empty for a clear. */
export function payloadOf(p: PlannedPublish): string {
  return p.clear ? '' : `p${p.publisher}:${p.seq}:${p.qos}`;
}

export interface Observed {
  /** Acknowledged publishes (payloads of QoS 1/2 ones whose PUBACK / PUBCOMP came). */
  acknowledged: ReadonlySet<string>;
  /** Per subscriber: how often each payload arrived. */
  received: ReadonlyArray<ReadonlyMap<string, number>>;
  /** Retained messages a fresh subscriber got: topic → payloads. */
  retained: ReadonlyMap<string, readonly string[]>;
  /** When (ms from the start) the last SIGKILL was sent, if any: read just before the signal. */
  lastKillSentAtMs: number | undefined;
  /**
   * When (ms from the start) each retained publish could first be stored by a broker, by payload
   * (clearId for a clear): its client sent the PUBLISH (QoS 1) or the PUBREL (QoS 2: Mosquitto stores
   * a QoS 2 message at PUBREL). A broker killed before that moment never held it.
   */
  storableAtMs: ReadonlyMap<string, number>;
}

export interface Checks {
  acknowledgements: boolean;
  qos2ExactlyOnce: boolean;
  retained: boolean;
}

/**
 * The oracle (pure): every QoS 1/2 publish acknowledged; delivered at least once to every subscriber
 * (QoS 2 exactly once); every retained topic holds its last value, none after a clear. A broker
 * killed after a topic's last write could be stored takes that value with it (retained messages live
 * on one broker; a QoS 2 one is never replayed): then "none" is accepted too, a stale value never.
 * "After" is judged from the client's side of the flow, not from its acknowledgement: a broker that
 * stored the value and sent PUBCOMP just before its SIGKILL may have that PUBCOMP reach the client
 * after the test saw the broker's exit (pool-change-random seed 5: the orchestrator read the dead
 * broker's sockets up to 40 ms after the signal, the exit event among them). A value whose PUBLISH
 * (QoS 1) or PUBREL (QoS 2) left the client after the signal was never on the killed broker: it must
 * be there. Returns the problems found, empty when none.
 */
export function judge(schedule: Schedule, seen: Observed, checks: Checks, subs: readonly string[]): string[] {
  const problems: string[] = [];
  const all = schedule.publishes.flat();
  for (const p of all) {
    if (p.qos === 0) continue;
    const payload = payloadOf(p);
    const acked = seen.acknowledged.has(payload) || (p.clear && seen.acknowledged.has(clearId(p)));
    if (!acked) {
      if (checks.acknowledgements)
        problems.push(
          `publisher p${p.publisher} never got the acknowledgement of seq ${p.seq} (QoS ${p.qos})`,
        );
      continue;
    }
    if (p.clear) continue;
    seen.received.forEach((got, i) => {
      const n = got.get(payload) ?? 0;
      if (n === 0) problems.push(`${subs[i]} never received ${payload}`);
      else if (p.qos === 2 && n > 1 && checks.qos2ExactlyOnce)
        problems.push(`${subs[i]} received QoS 2 ${payload} ${n} times`);
    });
  }
  if (!checks.retained) return problems;
  const last = new Map<string, PlannedPublish>();
  for (const p of all) if (p.retainKey !== undefined) last.set(retainTopic(schedule.seed, p), p);
  const topics = new Set([...last.keys(), ...seen.retained.keys()]);
  for (const topic of topics) {
    const want = last.get(topic);
    const got = seen.retained.get(topic) ?? [];
    const expected = want && !want.clear ? payloadOf(want) : undefined;
    const storableAt = want ? seen.storableAtMs.get(want.clear ? clearId(want) : payloadOf(want)) : undefined;
    const kill = seen.lastKillSentAtMs;
    // Same millisecond: the order is not known, so the broker may have had it.
    const killedAfter = kill !== undefined && (storableAt === undefined || kill >= storableAt);
    if (got.length > 1) problems.push(`${topic}: ${got.length} retained values (${got.join(', ')})`);
    else if (got.length === 1 && got[0] !== expected)
      problems.push(`${topic}: stale retained ${got[0]}, last was ${expected ?? 'a clear'}`);
    else if (got.length === 0 && expected !== undefined && !killedAfter)
      problems.push(
        `${topic}: retained ${expected} missing (storable at ${storableAt} ms, last kill ${kill ?? 'none'})`,
      );
  }
  return problems;
}

/** A clear's acknowledgement key (its payload is empty). */
export function clearId(p: PlannedPublish): string {
  return `clear:p${p.publisher}:${p.seq}`;
}

export function retainTopic(seed: number, p: PlannedPublish): string {
  return `s${seed}/r/p${p.publisher}/${p.retainKey}`;
}

export function messageTopic(seed: number, p: PlannedPublish): string {
  return p.retainKey === undefined ? `s${seed}/m/p${p.publisher}` : retainTopic(seed, p);
}
