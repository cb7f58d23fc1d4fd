import { createHash } from 'node:crypto';

/**
 * Rendezvous (highest-random-weight) hashing: the owner of a key among candidates is the one with
 * the highest hash(candidate, key). Adding or removing a candidate moves only the keys it owns, and
 * every orchestrator replica computes the same owner without talking to the others (pure).
 */
export function rendezvousOwner(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1n;
  for (const candidate of candidates) {
    const weight = createHash('sha1').update(candidate).update('\0').update(key).digest().readBigUInt64BE(0);
    if (weight > bestWeight || (weight === bestWeight && best !== undefined && candidate < best)) {
      best = candidate;
      bestWeight = weight;
    }
  }
  return best;
}

/**
 * The broker that keeps a topic's retained value among the active brokers. Shared by the orchestrator
 * (where a retained publish goes) and the manager (where retained messages move on a pool change).
 */
export function retainedOwner(topic: string, brokers: readonly string[]): string | undefined {
  return rendezvousOwner(`topic:${topic}`, brokers);
}
