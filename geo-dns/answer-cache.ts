/** An encoded answer and what the metrics need to know of it. */
export interface CachedAnswer {
  bytes: Buffer;
  qtype: string;
  rcode: number;
  /** What an answer to the service name counts in the answer tally (same bytes, same client: same row). */
  tally?: { region: string; orchestrator: string };
}

/** Answers that fit a plain UDP response; bigger ones are encoded per query (and truncated per client). */
export const CACHEABLE_BYTES = 512;

/**
 * Encoded answers by the query's bytes after its id, and the source address (which places clients
 * that send no client subnet). An answer depends on nothing else but the records, so the cache is
 * emptied whenever their generation (the SOA serial) changes. Bounded; the oldest entry goes first.
 */
export class AnswerCache {
  private generation = Number.NaN;
  private readonly entries = new Map<string, CachedAnswer>();

  constructor(private readonly maxEntries = 4096) {}

  static key(query: Buffer, source: string): string {
    return `${source}|${query.toString('latin1', 2)}`;
  }

  get(key: string, generation: number): CachedAnswer | undefined {
    this.renew(generation);
    return this.entries.get(key);
  }

  set(key: string, generation: number, answer: CachedAnswer): void {
    if (answer.bytes.length > CACHEABLE_BYTES || this.maxEntries === 0) return;
    this.renew(generation);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, answer);
  }

  /** The answer for a query with this id: the cached bytes with the id written in. */
  static forQuery(answer: CachedAnswer, query: Buffer): Buffer {
    const bytes = Buffer.from(answer.bytes);
    query.copy(bytes, 0, 0, 2);
    return bytes;
  }

  get size(): number {
    return this.entries.size;
  }

  private renew(generation: number): void {
    if (generation === this.generation) return;
    this.entries.clear();
    this.generation = generation;
  }
}
