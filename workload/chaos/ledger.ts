/**
 * Delivery accounting for the chaos run, pure (times are given, no clock): every publish with its
 * first send and its acknowledgement, every subscriber's connections and deliveries. What a subscriber
 * is owed follows MQTT: a persistent session is owed every acknowledged publish (the brokers keep its
 * messages while it is away); a clean session only those sent at least `settleMs` after it (re)connected
 * and acknowledged at least `settleMs` before it lost its connection (what is published while it is
 * away, or in flight when it goes, is not owed to a clean session [MQTT-3.1.2-6]).
 */
export interface SubscriberTally {
  name: string;
  persistent: boolean;
  owed: number;
  received: number;
  /** Owed, never received. */
  lost: number;
  /** Acknowledged publishes a clean session was not owed (sent while it was away), never received. */
  excused: number;
  duplicates: number;
  reordered: number;
  reconnects: number;
  /** Longest time without a new delivery between the first and the last publish. */
  longestStallMs: number;
  /** The first few lost messages: topic, seq, sent and acknowledged (ms after the first publish; ackAt epoch ms). */
  lostSample: Array<{ topic: string; seq: number; sentMs: number; ackMs: number; ackAt: number }>;
}

export interface LedgerSummary {
  sent: number;
  acked: number;
  /** Sent, never acknowledged (the publisher gave up): not owed to anyone, reported. */
  unacked: number;
  subscribers: SubscriberTally[];
  lost: number;
  duplicates: number;
  reordered: number;
  longestStallMs: number;
}

interface Publish {
  sentAt: number;
  ackAt: number | undefined;
}

interface Subscriber {
  name: string;
  persistent: boolean;
  /** Connected spans [from, to); `to` undefined while connected. */
  spans: Array<{ from: number; to: number | undefined }>;
  copies: Map<string, number>;
  highest: Map<string, number>;
  deliveries: number[];
  duplicates: number;
  reordered: number;
}

const key = (topic: string, seq: number) => `${topic}\u0000${seq}`;

export class Ledger {
  private readonly publishes = new Map<string, Publish>();
  private readonly subs: Subscriber[] = [];

  constructor(private readonly settleMs = 2_000) {}

  /** Registers a subscriber; returns its index for the other calls. */
  addSubscriber(name: string, persistent: boolean): number {
    this.subs.push({
      name,
      persistent,
      spans: [],
      copies: new Map(),
      highest: new Map(),
      deliveries: [],
      duplicates: 0,
      reordered: 0,
    });
    return this.subs.length - 1;
  }

  sent(topic: string, seq: number, at: number): void {
    const k = key(topic, seq);
    if (!this.publishes.has(k)) this.publishes.set(k, { sentAt: at, ackAt: undefined });
  }

  acked(topic: string, seq: number, at: number): void {
    const p = this.publishes.get(key(topic, seq));
    if (p && p.ackAt === undefined) p.ackAt = at;
  }

  connected(sub: number, at: number): void {
    const s = this.sub(sub);
    const last = s.spans.at(-1);
    if (last && last.to === undefined) return;
    s.spans.push({ from: at, to: undefined });
  }

  closed(sub: number, at: number): void {
    const last = this.sub(sub).spans.at(-1);
    if (last && last.to === undefined) last.to = at;
  }

  delivered(sub: number, topic: string, seq: number, at: number): void {
    const s = this.sub(sub);
    const k = key(topic, seq);
    const n = s.copies.get(k) ?? 0;
    s.copies.set(k, n + 1);
    if (n > 0) {
      s.duplicates += 1;
      return;
    }
    s.deliveries.push(at);
    const highest = s.highest.get(topic) ?? -1;
    if (seq < highest) s.reordered += 1;
    else s.highest.set(topic, seq);
  }

  private sub(i: number): Subscriber {
    const s = this.subs[i];
    if (!s) throw new RangeError(`no subscriber ${i}`);
    return s;
  }

  private owed(s: Subscriber, p: Publish): boolean {
    if (p.ackAt === undefined) return false;
    if (s.persistent) return true;
    const ackAt = p.ackAt;
    return s.spans.some(
      (span) =>
        p.sentAt >= span.from + this.settleMs && (span.to === undefined || ackAt + this.settleMs <= span.to),
    );
  }

  summary(): LedgerSummary {
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    let acked = 0;
    for (const p of this.publishes.values()) {
      first = Math.min(first, p.sentAt);
      last = Math.max(last, p.sentAt);
      if (p.ackAt !== undefined) acked += 1;
    }
    const subscribers = this.subs.map((s): SubscriberTally => {
      let owed = 0;
      let lost = 0;
      let excused = 0;
      const lostSample: SubscriberTally['lostSample'] = [];
      for (const [k, p] of this.publishes) {
        if (p.ackAt === undefined) continue;
        const got = (s.copies.get(k) ?? 0) > 0;
        if (this.owed(s, p)) {
          owed += 1;
          if (got) continue;
          lost += 1;
          if (lostSample.length >= 20) continue;
          const [topic = '', seq = ''] = k.split('\u0000');
          const ackMs = p.ackAt - first;
          lostSample.push({ topic, seq: Number(seq), sentMs: p.sentAt - first, ackMs, ackAt: p.ackAt });
        } else if (!got) excused += 1;
      }
      return {
        name: s.name,
        persistent: s.persistent,
        owed,
        received: s.deliveries.length,
        lost,
        excused,
        duplicates: s.duplicates,
        reordered: s.reordered,
        reconnects: Math.max(0, s.spans.length - 1),
        longestStallMs: longestGap(s.deliveries, first, last),
        lostSample,
      };
    });
    const sum = (f: (t: SubscriberTally) => number) => subscribers.reduce((a, t) => a + f(t), 0);
    return {
      sent: this.publishes.size,
      acked,
      unacked: this.publishes.size - acked,
      subscribers,
      lost: sum((t) => t.lost),
      duplicates: sum((t) => t.duplicates),
      reordered: sum((t) => t.reordered),
      longestStallMs: subscribers.reduce((m, t) => Math.max(m, t.longestStallMs), 0),
    };
  }
}

/** Longest gap between consecutive times within [from, to], counting from `from` and up to `to`. */
export function longestGap(times: readonly number[], from: number, to: number): number {
  if (!Number.isFinite(from) || !Number.isFinite(to)) return 0;
  const sorted = times.filter((t) => t <= to).sort((a, b) => a - b);
  let previous = from;
  let longest = 0;
  for (const t of sorted) {
    if (t < from) continue;
    longest = Math.max(longest, t - previous);
    previous = t;
  }
  return Math.max(longest, to - previous);
}
