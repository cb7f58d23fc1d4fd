import { lineChart, type Series } from './svg.ts';

/**
 * Where the subscribers are over a run, pure (issue #13): each sample counts the subscribers connected
 * to each orchestrator (every orchestrator serving then, with 0 when it has none) and those between
 * connections (being moved). Samples come from the clients' side: the address each one is connected to.
 */
export interface PlacementSample {
  /** Seconds since the run's application start. */
  t: number;
  perOrchestrator: Record<string, number>;
  /** Subscribers not connected at that moment (moving). */
  disconnected: number;
}

export interface PlacementSummary {
  /** The last sample at or before the end of the run (its application time). */
  atEnd: PlacementSample | null;
  /** Every orchestrator serving at the end had at least one subscriber. */
  everyOrchestratorAtEnd: boolean;
  /** Orchestrators that had a subscriber at some point. */
  orchestratorsUsed: string[];
  /** Times a subscriber connected to another orchestrator than before. */
  moves: number;
}

/** Which orchestrator serves each address (replica host), and each subscriber's address (undefined: not connected). */
export function placementSample(
  t: number,
  orchestrators: ReadonlyArray<{ id: string; host: string }>,
  subscriberHosts: ReadonlyArray<string | undefined>,
): PlacementSample {
  const perOrchestrator: Record<string, number> = {};
  const byHost = new Map<string, string>();
  for (const o of orchestrators) {
    perOrchestrator[o.id] = 0;
    byHost.set(o.host, o.id);
  }
  let disconnected = 0;
  for (const host of subscriberHosts) {
    const id = host === undefined ? undefined : (byHost.get(host) ?? host);
    if (id === undefined) disconnected += 1;
    else perOrchestrator[id] = (perOrchestrator[id] ?? 0) + 1;
  }
  return { t, perOrchestrator, disconnected };
}

/** Drops samples equal to the previous one (keeps the first and last): a smaller report. */
export function compactPlacement(samples: readonly PlacementSample[]): PlacementSample[] {
  const key = (s: PlacementSample) => JSON.stringify([s.perOrchestrator, s.disconnected]);
  return samples.filter(
    (s, i) => i === 0 || i === samples.length - 1 || key(s) !== key(samples[i - 1] as PlacementSample),
  );
}

export function summarisePlacement(
  samples: readonly PlacementSample[],
  endSeconds: number,
  moves: number,
): PlacementSummary {
  const atEnd = samples.filter((s) => s.t <= endSeconds).at(-1) ?? null;
  const used = new Set<string>();
  for (const s of samples) for (const [id, n] of Object.entries(s.perOrchestrator)) if (n > 0) used.add(id);
  const counts = atEnd ? Object.values(atEnd.perOrchestrator) : [];
  return {
    atEnd,
    everyOrchestratorAtEnd: counts.length > 0 && counts.every((n) => n > 0),
    orchestratorsUsed: [...used].sort(),
    moves,
  };
}

const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

/** Subscribers per orchestrator over the run, one step line each (and those moving, dashed). */
export function placementSvg(label: string, samples: readonly PlacementSample[], endSeconds: number): string {
  const ids = [...new Set(samples.flatMap((s) => Object.keys(s.perOrchestrator)))].sort();
  const series: Series[] = ids.map((id, i) => ({
    label: id,
    color: COLORS[i % COLORS.length] as string,
    step: true,
    points: samples.map((s) => [Math.max(0, s.t), s.perOrchestrator[id] ?? 0] as const),
  }));
  series.push({
    label: 'moving',
    color: '#777',
    step: true,
    dash: '4 3',
    points: samples.map((s) => [Math.max(0, s.t), s.disconnected] as const),
  });
  return lineChart({
    title: `${label}: subscribers per orchestrator`,
    xLabel: 'seconds since the first publish',
    yLabel: 'subscribers connected',
    integerY: true,
    yMin: 0,
    xMin: 0,
    xMax: Math.max(endSeconds, ...samples.map((s) => s.t)),
    series,
    markers: [{ x: endSeconds, label: 'end', color: '#555' }],
  });
}
