import { emptyMap, writableMap } from './lazy-collections.ts';

/**
 * The order of one session's retained publishes, per topic (pure), so that a replay after a broker's
 * death (replay-window.ts) never puts back a retained value older than one the client published since.
 *
 * The race it closes (issue #10, found by the randomized pool-change test): a retained value `v1`
 * acknowledged by broker X stays in X's replay window; the client then publishes `v2` on the same topic
 * (acknowledged by X at QoS 2, which is never replayed; or by the topic's new owner after a join moved
 * it; or still in flight when X dies and re-sent first); X dies and the replay sends `v1` to the topic's
 * owner, after `v2`: the broker keeps `v1`, older than the last value the client had acknowledged.
 * Now each retained publish gets a sequence number when it arrives, and a replayed one is skipped when
 * a later retained publish arrived on its topic (that one is at a broker, or on its way to one).
 *
 * Bounded: beyond `bound` topics, those no longer referenced (by a replay window entry or a flow in
 * flight, which the caller lists) are forgotten; the bound then doubles the kept size (amortized).
 */
export class RetainedOrder {
  private last = 0;
  /** Allocated on the first retained publish (lazy-collections.ts). */
  private latest = emptyMap<string, number>();
  private bound = 64;

  constructor(
    /** Topics of the retained publishes the session still holds (replay windows, flows in flight). */
    private readonly inUse: () => Iterable<string>,
  ) {}

  get size(): number {
    return this.latest.size;
  }

  /** A retained publish arrived from the client: its sequence number. */
  arrive(topic: string): number {
    if (this.latest.size >= this.bound && !this.latest.has(topic)) this.prune();
    this.last += 1;
    this.latest = writableMap(this.latest);
    this.latest.set(topic, this.last);
    return this.last;
  }

  /** A later retained publish arrived on `topic` than the one numbered `seq`. */
  superseded(topic: string, seq: number): boolean {
    return (this.latest.get(topic) ?? seq) > seq;
  }

  private prune(): void {
    const keep = new Set(this.inUse());
    for (const topic of this.latest.keys()) if (!keep.has(topic)) this.latest.delete(topic);
    this.bound = Math.max(64, 2 * this.latest.size);
  }
}
