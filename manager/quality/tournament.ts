import { type ElasticityMetrics, SCORED_METRICS, type ScoredMetric, scoreOf } from './metrics.ts';

/**
 * The pairwise tournament (issue #14): every pair of policies meets on every scored metric; the
 * lower value wins 1, a draw (within `drawTolerance`, relative, or 1e-9 absolute) gives 0.5 each.
 * Pure.
 */
export interface Entrant {
  name: string;
  metrics: ElasticityMetrics;
}

export interface PairResult {
  a: string;
  b: string;
  /** Points of a and b over the scored metrics (they sum to the number of metrics). */
  pointsA: number;
  pointsB: number;
  /** Per metric: 'a', 'b' or 'draw'. */
  outcomes: Record<ScoredMetric, 'a' | 'b' | 'draw'>;
}

export interface TournamentResult {
  pairs: PairResult[];
  /** Total points per policy. */
  totals: Record<string, number>;
}

export function compare(a: number, b: number, drawTolerance: number): 'a' | 'b' | 'draw' {
  if (Math.abs(a - b) <= Math.max(1e-9, drawTolerance * Math.max(Math.abs(a), Math.abs(b)))) return 'draw';
  return a < b ? 'a' : 'b';
}

export function tournament(entrants: readonly Entrant[], drawTolerance = 0.01): TournamentResult {
  const totals: Record<string, number> = Object.fromEntries(entrants.map((e) => [e.name, 0]));
  const pairs: PairResult[] = [];
  for (let i = 0; i < entrants.length; i++) {
    for (let j = i + 1; j < entrants.length; j++) {
      const a = entrants[i] as Entrant;
      const b = entrants[j] as Entrant;
      const outcomes = {} as Record<ScoredMetric, 'a' | 'b' | 'draw'>;
      let pointsA = 0;
      for (const key of SCORED_METRICS) {
        const o = compare(scoreOf(a.metrics, key), scoreOf(b.metrics, key), drawTolerance);
        outcomes[key] = o;
        pointsA += o === 'a' ? 1 : o === 'draw' ? 0.5 : 0;
      }
      const pointsB = SCORED_METRICS.length - pointsA;
      totals[a.name] = (totals[a.name] ?? 0) + pointsA;
      totals[b.name] = (totals[b.name] ?? 0) + pointsB;
      pairs.push({ a: a.name, b: b.name, pointsA, pointsB, outcomes });
    }
  }
  return { pairs, totals };
}
