import type { AnswerCount } from '../common/dns-answers.ts';
import type { Located } from './locator.ts';

export type { AnswerCount };

/** The orchestrator label of an answer with no orchestrator in it (none registered, or none ready). */
export const NO_ORCHESTRATOR = 'none';
/** Client regions kept per orchestrator; any further one is counted as `other` (a bounded label set). */
export const MAX_CLIENT_REGIONS = 256;

/**
 * The region a client was placed in, as a metric label: the location's region name (a static entry's
 * `region`, a GeoIP country code), `unnamed` for a location without one, `unknown` when nowhere.
 */
export function clientRegion(located: Located): string {
  if (!located.location) return 'unknown';
  return located.location.region ?? 'unnamed';
}

/**
 * Answers to the service name, counted by (client region, orchestrator answered first), pure: plain
 * numbers on the query path, read by the metrics registry on a scrape and by the dashboard. The rows
 * follow the directory: an orchestrator that left is forgotten (`keepOnly`), so the label set is
 * bounded by the orchestrators registered × MAX_CLIENT_REGIONS.
 */
export class AnswerTally {
  private readonly counts = new Map<string, Map<string, number>>();

  count(region: string, orchestrator: string): void {
    let perRegion = this.counts.get(orchestrator);
    if (!perRegion) {
      perRegion = new Map();
      this.counts.set(orchestrator, perRegion);
    }
    const key = perRegion.has(region) || perRegion.size < MAX_CLIENT_REGIONS ? region : 'other';
    perRegion.set(key, (perRegion.get(key) ?? 0) + 1);
  }

  /** Forgets the orchestrators not in `ids` (the `none` row stays). */
  keepOnly(ids: ReadonlySet<string>): void {
    for (const id of this.counts.keys()) if (id !== NO_ORCHESTRATOR && !ids.has(id)) this.counts.delete(id);
  }

  /** Every row, by orchestrator then client region. */
  rows(): AnswerCount[] {
    const out: AnswerCount[] = [];
    for (const [orchestrator, perRegion] of this.counts)
      for (const [region, answers] of perRegion) out.push({ clientRegion: region, orchestrator, answers });
    return out.sort(
      (a, b) => a.orchestrator.localeCompare(b.orchestrator) || a.clientRegion.localeCompare(b.clientRegion),
    );
  }
}
