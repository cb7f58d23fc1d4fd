import { costTarget, costTargetLine } from './cost-target.ts';
import type { ActionOutcome, Observation } from './decision-log-read.ts';
import type { DeliverySummary } from './measure.ts';
import {
  compactPlacement,
  type PlacementSample,
  type PlacementSummary,
  summarisePlacement,
} from './placement.ts';
import { lineChart, type Marker } from './svg.ts';
import { compactSamples, type LevelUsage, levelUsage, type ReplicaSample } from './timeline.ts';

/**
 * The scenario report, pure: report.json's shape, its derived numbers (application time, messages/s,
 * replica-seconds, cost = application time × mean replicas as in the paper, efficiency, reduction
 * against s1), report.md and the SVG figures, all computed from the same object.
 */
export interface RunFacts {
  name: string;
  label: string;
  description: string;
  records: number;
  publishers: number;
  subscribers: number;
  qos: number;
  settings: Record<string, unknown>;
  startedAt: string;
  /** Seconds since the application start (first publish) of the last delivery (or acknowledgement). */
  applicationSeconds: number;
  publish: {
    sent: number;
    acked: number;
    failed: number;
    seconds: number;
    reconnects: number;
    /** Publishes sent again after the client failed them unacknowledged. */
    resent?: number;
  };
  delivery: DeliverySummary;
  complete: boolean;
  samples: ReplicaSample[];
  observations: Observation[];
  actions: ActionOutcome[];
  machine: { cores: number; node: string };
  /** Subscribers per orchestrator over the run, and how many times one changed orchestrator (s3). */
  placement?: { samples: PlacementSample[]; moves: number };
}

export interface Baseline {
  label: string;
  records: number;
  applicationSeconds: number;
  messagesPerSecond: number;
  meanReplicas: number;
  cost: number;
}

export interface ScenarioReport extends Omit<RunFacts, 'samples' | 'placement'> {
  /** Subscribers per orchestrator over time (JSON series, subscribers.svg); null when not sampled. */
  placement: { summary: PlacementSummary; series: PlacementSample[] } | null;
  messagesPerSecond: number;
  replicas: { broker: LevelUsage; orchestrator: LevelUsage; total: LevelUsage };
  /** Application time × mean replicas (both levels): replica-seconds. */
  cost: number;
  efficiency: {
    /** Messages per second per replica (mean, both levels). */
    messagesPerSecondPerReplica: number;
    vsBaseline: {
      baseline: string;
      /** False when the baseline replayed another number of fixes: compare messages/s, not time. */
      sameLoad: boolean;
      timeReductionPercent: number;
      /** Messages/s against the baseline's, in percent (meaningful across loads). */
      throughputGainPercent: number;
      speedup: number;
      costRatio: number;
      /** Speedup ÷ (mean replicas ÷ baseline's mean replicas): 1 is perfectly linear. */
      parallelEfficiency: number;
    } | null;
  };
  decisions: Record<string, { add: number; remove: number; none: number }>;
  timeline: ReplicaSample[];
}

export function buildReport(facts: RunFacts, baseline?: Baseline): ScenarioReport {
  const { samples, placement, ...rest } = facts;
  const T = facts.applicationSeconds;
  const broker = levelUsage(samples, 'broker', 0, T);
  const orchestrator = levelUsage(samples, 'orchestrator', 0, T);
  const totalSamples = samples.map((s) => ({ ...s, broker: s.broker + s.orchestrator }));
  const total = levelUsage(totalSamples, 'broker', 0, T);
  const messagesPerSecond = T > 0 ? facts.delivery.received / T : 0;
  const cost = T * total.meanReplicas;
  const decisions: ScenarioReport['decisions'] = {};
  for (const o of facts.observations) {
    const d = decisions[o.level] ?? { add: 0, remove: 0, none: 0 };
    decisions[o.level] = d;
    if (o.decision === 'add' || o.decision === 'remove' || o.decision === 'none') d[o.decision] += 1;
  }
  const vsBaseline =
    baseline && baseline.applicationSeconds > 0 && T > 0
      ? {
          baseline: baseline.label,
          sameLoad: baseline.records === facts.records,
          timeReductionPercent: (1 - T / baseline.applicationSeconds) * 100,
          throughputGainPercent:
            baseline.messagesPerSecond > 0 ? (messagesPerSecond / baseline.messagesPerSecond - 1) * 100 : 0,
          speedup: baseline.applicationSeconds / T,
          costRatio: baseline.cost > 0 ? cost / baseline.cost : 0,
          parallelEfficiency:
            total.meanReplicas > 0
              ? baseline.applicationSeconds / T / (total.meanReplicas / baseline.meanReplicas)
              : 0,
        }
      : null;
  return {
    ...rest,
    messagesPerSecond,
    replicas: { broker, orchestrator, total },
    cost,
    efficiency: {
      messagesPerSecondPerReplica: total.meanReplicas > 0 ? messagesPerSecond / total.meanReplicas : 0,
      vsBaseline,
    },
    decisions,
    timeline: compactSamples(samples),
    placement: placement
      ? {
          summary: summarisePlacement(placement.samples, T, placement.moves),
          series: compactPlacement(placement.samples),
        }
      : null,
  };
}

export function baselineOf(report: ScenarioReport): Baseline {
  return {
    label: report.label,
    records: report.records,
    applicationSeconds: report.applicationSeconds,
    messagesPerSecond: report.messagesPerSecond,
    meanReplicas: report.replicas.total.meanReplicas,
    cost: report.cost,
  };
}

const f = (n: number | null | undefined, digits: number) =>
  n === null || n === undefined ? '–' : n.toFixed(digits);

/** The main table's columns, in order (the CI test parses report.md back through these). */
export const TABLE_COLUMNS = [
  'Scenario',
  'Time (s)',
  'Messages/s',
  'Mean brokers',
  'Mean orchestrators',
  'Cost (replica·s)',
  'Msg/s per replica',
  'Time reduction vs s1 (%)',
  'Msg/s gain vs s1 (%)',
  'Parallel efficiency',
] as const;

export function tableRow(r: ScenarioReport): string[] {
  const vs = r.efficiency.vsBaseline;
  return [
    r.label,
    f(r.applicationSeconds, 2),
    f(r.messagesPerSecond, 1),
    f(r.replicas.broker.meanReplicas, 2),
    f(r.replicas.orchestrator.meanReplicas, 2),
    f(r.cost, 1),
    f(r.efficiency.messagesPerSecondPerReplica, 1),
    vs ? f(vs.timeReductionPercent, 1) : '–',
    vs ? f(vs.throughputGainPercent, 1) : '–',
    vs ? f(vs.parallelEfficiency, 2) : '–',
  ];
}

function table(header: readonly string[], rows: string[][]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * Issue #14's cost target beside this run's value (cost-target.ts), for an s2 run (broker-level
 * elasticity, what the target is about); undefined for s1 and s3. report.md and `brokel scenario run`.
 */
export function costTargetNote(r: ScenarioReport): string | undefined {
  if (!r.name.startsWith('s2')) return undefined;
  return costTargetLine(
    costTarget({ meanBrokers: r.replicas.broker.meanReplicas, complete: r.complete, lost: r.delivery.lost }),
  );
}

/** Monitoring intervals an elastic run must last for its time reduction to say much (shortRunNote). */
export const SHORT_RUN_INTERVALS = 10;

/**
 * An elastic scenario's run (s2, s3) that lasted fewer than SHORT_RUN_INTERVALS monitoring intervals:
 * the manager decides once an interval, so it had little time to add replicas, and the time reduction
 * says more about the host than about elasticity (s2 took ~3 intervals on a host where a 0.25-core
 * Mosquitto carries 25,000 msg/s). Says so, with how many fixes would last about twice that; undefined
 * for s1 and for a run long enough. report.md and `brokel scenario run`.
 */
export function shortRunNote(r: ScenarioReport): string | undefined {
  const interval = r.settings.monitorIntervalSeconds;
  if (r.name === 's1' || typeof interval !== 'number' || !(interval > 0) || !(r.applicationSeconds > 0))
    return undefined;
  const intervals = r.applicationSeconds / interval;
  if (intervals >= SHORT_RUN_INTERVALS) return undefined;
  const records = Math.ceil((r.records * (2 * SHORT_RUN_INTERVALS)) / intervals / 100_000) * 100_000;
  return (
    `short run: ${intervals.toFixed(1)} monitoring intervals of ${interval} s, too few for the manager to ` +
    `scale much, so the time reduction says little about elasticity; about --records ${records} would ` +
    `last ${2 * SHORT_RUN_INTERVALS} intervals here`
  );
}

export function renderMarkdown(r: ScenarioReport, baseline?: ScenarioReport): string {
  const d = r.delivery;
  const lat = d.latencyMs;
  const rows = baseline && baseline.label !== r.label ? [tableRow(baseline), tableRow(r)] : [tableRow(r)];
  const actions = r.actions.map((a) => [f(a.t, 1), a.level, a.action, a.outcome, f(a.seconds, 1)]);
  const costNote = costTargetNote(r);
  const shortNote = shortRunNote(r);
  return `# Scenario ${r.label}

${r.description}. ${r.records} fixes, ${r.publishers} publishers, ${r.subscribers} subscribers, QoS ${r.qos};
started ${r.startedAt} on ${r.machine.cores} cores (Node ${r.machine.node}). ${r.complete ? 'Every expected message arrived.' : '**Not every expected message arrived.**'}

## Time, cost and efficiency

${table(TABLE_COLUMNS, rows)}

Time is the application time: first publish to last delivery. Cost = time × mean replicas (both levels),
as in the paper. Parallel efficiency = speedup against ${baseline ? baseline.label : 's1'} ÷ ratio of mean replicas.${
    r.efficiency.vsBaseline && !r.efficiency.vsBaseline.sameLoad
      ? `\n**${r.efficiency.vsBaseline.baseline} replayed ${baseline?.records ?? 'another number of'} fixes and this run ${r.records}:` +
        ' the time reduction compares different loads; compare messages/s.**'
      : ''
  }${costNote === undefined ? '' : `\n\n${costNote}.`}${shortNote === undefined ? '' : `\n\n**${shortNote}.**`}

## Delivery

${table(
  [
    'Sent',
    'Acknowledged',
    'Received',
    'Lost',
    'Duplicates',
    'Reordered',
    'Unexpected',
    'Latency p50 (ms)',
    'Latency p99 (ms)',
    'Latency max (ms)',
  ],
  [
    [
      String(r.publish.sent),
      String(r.publish.acked),
      String(d.received),
      String(d.lost),
      String(d.duplicates),
      String(d.reordered),
      String(d.unexpected),
      f(lat.p50, 2),
      f(lat.p99, 2),
      f(lat.max, 2),
    ],
  ],
)}

${placementSection(r)}## Replicas

${table(
  ['Level', 'Mean', 'Max', 'Replica-seconds'],
  (['broker', 'orchestrator', 'total'] as const).map((k) => [
    k,
    f(r.replicas[k].meanReplicas, 2),
    String(r.replicas[k].maxReplicas),
    f(r.replicas[k].replicaSeconds, 1),
  ]),
)}

Decisions: ${
    Object.entries(r.decisions)
      .map(([level, c]) => `${level} ${c.add} add, ${c.remove} remove, ${c.none} none`)
      .join('; ') || 'none logged'
  }.

${actions.length > 0 ? table(['At (s)', 'Level', 'Action', 'Outcome', 'Took (s)'], actions) : 'No scaling action.'}

Figures: [replicas per level](replicas.svg), [broker level load](load-broker.svg)${
    r.observations.some((o) => o.level === 'orchestrator')
      ? ', [orchestrator level load](load-orchestrator.svg)'
      : ''
  }.
`;
}

function placementSection(r: ScenarioReport): string {
  const p = r.placement?.summary;
  if (!p) return '';
  const end = p.atEnd ? Object.entries(p.atEnd.perOrchestrator) : [];
  return `## Subscribers per orchestrator

${table(
  ['Orchestrator', 'Subscribers at the end'],
  end.map(([id, n]) => [id, String(n)]),
)}

${p.everyOrchestratorAtEnd ? 'Every orchestrator serving at the end had subscribers.' : '**Not every orchestrator serving at the end had subscribers.**'}
Subscribers changed orchestrator ${p.moves} times; orchestrators that had subscribers: ${p.orchestratorsUsed.join(', ') || 'none'}.
Over time: [subscribers.svg](subscribers.svg) and \`placement.series\` in report.json.

`;
}

/** Replicas per level over the run (allocated, and serving). */
export function replicasSvg(r: ScenarioReport): string {
  const pts = (key: 'broker' | 'orchestrator' | 'brokerReady' | 'orchestratorReady') =>
    r.timeline.map((s) => [Math.max(0, s.t), s[key]] as const);
  return lineChart({
    title: `${r.label}: replicas per level`,
    xLabel: 'seconds since the first publish',
    yLabel: 'replicas',
    integerY: true,
    yMin: 0,
    xMin: 0,
    xMax: Math.max(r.applicationSeconds, ...r.timeline.map((s) => s.t)),
    series: [
      { label: 'brokers', points: pts('broker'), color: '#1f77b4', step: true },
      { label: 'brokers active', points: pts('brokerReady'), color: '#1f77b4', step: true, dash: '5 4' },
      { label: 'orchestrators', points: pts('orchestrator'), color: '#d62728', step: true },
      {
        label: 'orchestrators ready',
        points: pts('orchestratorReady'),
        color: '#d62728',
        step: true,
        dash: '5 4',
      },
    ],
    markers: [{ x: r.applicationSeconds, label: 'end', color: '#555' }],
  });
}

/** A level's load (raw and smoothed) against its thresholds at each observation (paper's Figs. 14/15). */
export function loadSvg(r: ScenarioReport, level: string): string {
  const obs = r.observations.filter((o) => o.level === level);
  const series = (key: 'rawLoad' | 'load' | 'lower' | 'upper') =>
    obs.filter((o) => o[key] !== null).map((o) => [o.t, (o[key] as number) * 100] as const);
  const markers: Marker[] = obs
    .filter((o) => o.decision === 'add' || o.decision === 'remove')
    .map((o) => ({
      x: o.t,
      label: o.decision === 'add' ? '+1' : '−1',
      color: o.decision === 'add' ? '#2ca02c' : '#9467bd',
    }));
  return lineChart({
    title: `${r.label}: ${level} level load and thresholds`,
    xLabel: 'seconds since the first publish',
    yLabel: 'load (% of the level’s CPU allocation)',
    yMin: 0,
    yMax: Math.max(100, ...obs.map((o) => (o.rawLoad ?? 0) * 100)),
    series: [
      { label: 'raw load', points: series('rawLoad'), color: '#ff7f0e', dots: true },
      { label: 'smoothed load', points: series('load'), color: '#1f77b4', dots: true },
      { label: 'upper threshold', points: series('upper'), color: '#d62728', step: true, dash: '6 4' },
      { label: 'lower threshold', points: series('lower'), color: '#2ca02c', step: true, dash: '6 4' },
    ],
    markers,
  });
}
