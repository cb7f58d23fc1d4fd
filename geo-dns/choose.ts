import { type GeoLocation, greatCircleKm } from './geo.ts';
import type { OrchestratorRecord } from './records.ts';

export interface ChoiceOptions {
  /** Orchestrators within this many km of the nearest count as equally near. */
  tieKm: number;
  /** How many records to return, best first. */
  topK: number;
}

const byLoad = (a: OrchestratorRecord, b: OrchestratorRecord) => a.load - b.load || a.id.localeCompare(b.id);

/**
 * The orchestrators to answer with, best first: ready ones only (never a draining one). With a
 * client location: the nearest by great-circle distance, and among those within `tieKm` of it the
 * least loaded; then the others by distance. Orchestrators of unknown location come last. Without a
 * client location (or when no orchestrator has one): the least loaded.
 */
export function chooseOrchestrators(
  records: readonly OrchestratorRecord[],
  client: GeoLocation | undefined,
  options: ChoiceOptions,
): OrchestratorRecord[] {
  const ready = records.filter((r) => r.state === 'ready');
  const placed = client ? ready.filter((r) => r.location !== undefined) : [];
  if (!client || placed.length === 0) return [...ready].sort(byLoad).slice(0, options.topK);
  const distance = new Map(placed.map((r) => [r.id, greatCircleKm(client, r.location as GeoLocation)]));
  const km = (r: OrchestratorRecord) => distance.get(r.id) ?? Number.POSITIVE_INFINITY;
  const nearest = Math.min(...placed.map(km));
  const near = placed.filter((r) => km(r) <= nearest + options.tieKm).sort(byLoad);
  const far = placed
    .filter((r) => km(r) > nearest + options.tieKm)
    .sort((a, b) => km(a) - km(b) || byLoad(a, b));
  const unplaced = ready.filter((r) => r.location === undefined).sort(byLoad);
  return [...near, ...far, ...unplaced].slice(0, options.topK);
}
