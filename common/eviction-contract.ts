/**
 * The manager → orchestrator eviction contract (`POST /evict`, and `eviction` in `GET /status`):
 * types only, shared so neither side imports the other (ARCHITECTURE.md, "Moving clients").
 */

/** Send `count` sessions away, MQTT 5 ones with this Server Reference (MQTT 5 §3.14.2.2.2). */
export interface EvictMove {
  count: number;
  serverReference?: string | undefined;
}

export interface EvictRequest {
  /** Handled together at one rate, one session at a time from each move in turn; [] cancels. */
  moves: EvictMove[];
  /** At most this many sessions sent away per second (rebalance.evictPerSecond). */
  perSecond: number;
  /**
   * Sessions connected for less than this are left alone: a client moved here (or anywhere) less
   * than rebalance.cooldownSeconds ago is never moved again. 0 for an evacuation.
   */
  minAgeSeconds: number;
  /** Evacuation: stop accepting clients (listeners closed, /healthz 503) before sending them away. */
  stopAccepting?: boolean | undefined;
}

export interface EvictionStatus {
  /** False once every move is done, or no session could be chosen, or it was cancelled. */
  active: boolean;
  requested: number;
  evicted: number;
  perSecond: number;
  minAgeSeconds: number;
  startedAt: string;
  finishedAt?: string;
  /** Why it ended: done, no eligible session left, cancelled, replaced (by a newer request). */
  outcome?: 'done' | 'exhausted' | 'cancelled' | 'replaced';
  moves: Array<{ serverReference?: string | undefined; count: number; evicted: number }>;
}
