/**
 * Delivery accounting, pure: what each subscriber expected per topic against what arrived. A message
 * is identified by (topic, seq). Received counts distinct messages; a second copy is a duplicate; a
 * message whose seq is below the highest already seen on its topic is reordered; expected messages
 * never seen are lost. Latency is receive time − send time, over first copies.
 */
export interface DeliverySummary {
  expected: number;
  received: number;
  lost: number;
  duplicates: number;
  reordered: number;
  /** Messages on topics or with seqs nobody expected (should be 0). */
  unexpected: number;
  latencyMs: LatencySummary;
}

export interface LatencySummary {
  count: number;
  mean: number | null;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

interface TopicState {
  expected: number;
  seen: Uint8Array;
  received: number;
  highest: number;
}

export class DeliveryTracker {
  private readonly topics = new Map<string, TopicState>();
  private latencies = new Float64Array(1024);
  private latencyCount = 0;
  private duplicates = 0;
  private reordered = 0;
  private unexpected = 0;
  private receivedTotal = 0;
  private expectedTotal = 0;
  /** Receive time of the last first-copy, epoch ms (for application time). */
  lastReceiveAt: number | undefined;

  expect(topic: string, count: number): void {
    const prev = this.topics.get(topic);
    if (prev) throw new Error(`topic ${topic} expected twice`);
    this.topics.set(topic, { expected: count, seen: new Uint8Array(count), received: 0, highest: -1 });
    this.expectedTotal += count;
  }

  record(topic: string, seq: number, sentAt: number, receivedAt: number): void {
    const state = this.topics.get(topic);
    if (!state || !Number.isInteger(seq) || seq < 0 || seq >= state.expected) {
      this.unexpected += 1;
      return;
    }
    if (state.seen[seq]) {
      this.duplicates += 1;
      return;
    }
    state.seen[seq] = 1;
    state.received += 1;
    this.receivedTotal += 1;
    if (seq < state.highest) this.reordered += 1;
    else state.highest = seq;
    this.lastReceiveAt = receivedAt;
    if (this.latencyCount === this.latencies.length) {
      const bigger = new Float64Array(this.latencies.length * 2);
      bigger.set(this.latencies);
      this.latencies = bigger;
    }
    this.latencies[this.latencyCount++] = receivedAt - sentAt;
  }

  get received(): number {
    return this.receivedTotal;
  }

  get expected(): number {
    return this.expectedTotal;
  }

  complete(): boolean {
    return this.receivedTotal === this.expectedTotal;
  }

  latencySamples(): Float64Array {
    return this.latencies.subarray(0, this.latencyCount);
  }

  summary(): DeliverySummary {
    return {
      expected: this.expectedTotal,
      received: this.receivedTotal,
      lost: this.expectedTotal - this.receivedTotal,
      duplicates: this.duplicates,
      reordered: this.reordered,
      unexpected: this.unexpected,
      latencyMs: summariseLatency(this.latencySamples()),
    };
  }
}

/** Nearest-rank percentile of sorted values (p in [0, 100]). */
export function percentile(sorted: ArrayLike<number>, p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] ?? null;
}

export function summariseLatency(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  if (sorted.length === 0) return { count: 0, mean: null, p50: null, p99: null, max: null };
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    mean: sum / sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? null,
  };
}

/** Merges several subscribers' summaries (latency from all their samples together). */
export function mergeDelivery(trackers: readonly DeliveryTracker[]): DeliverySummary {
  const parts = trackers.map((t) => t.summary());
  const sum = (f: (s: DeliverySummary) => number) => parts.reduce((a, s) => a + f(s), 0);
  const all: number[] = [];
  for (const t of trackers) for (const v of t.latencySamples()) all.push(v);
  return {
    expected: sum((s) => s.expected),
    received: sum((s) => s.received),
    lost: sum((s) => s.lost),
    duplicates: sum((s) => s.duplicates),
    reordered: sum((s) => s.reordered),
    unexpected: sum((s) => s.unexpected),
    latencyMs: summariseLatency(all),
  };
}
