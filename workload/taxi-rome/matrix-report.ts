import { PAPER_BEST_MEAN_VMS } from './cost-target.ts';
import type { MatrixGroup, MatrixRunPlan } from './matrix-plan.ts';
import type { ScenarioReport } from './report.ts';
import type { ReplicaSample, SampleKey } from './timeline.ts';

/**
 * The matrix's views, pure (issue #15): one row per run and the paper's figures and tables computed from
 * the runs' reports: application time (Fig. 7), time reduction against the kind's s1 (Fig. 8),
 * resource-time per replica count (Table 2), load status per observation (Fig. 10), messages/s
 * (Fig. 11), cost and efficiency (Tables 3/4, Fig. 12), s3's replica profile (Table 5, Figs. 14/15).
 */
export const PAPER = {
  bestTimeReductionPercent: { 's2-mosquitto': 76.6, 's2-rabbitmq': 81.2 } as Record<string, number>,
  messagesPerSecond: {
    's2-mosquitto': { s1: 54.95, best: 235.29 },
    's2-rabbitmq': { s1: 38.02, best: 202.02 },
  } as Record<string, { s1: number; best: number }>,
  /** Mean VMs: the cheapest configuration (50/90, issue #14) and the dearest the paper reports. */
  meanVms: { cheapest: PAPER_BEST_MEAN_VMS, dearest: 8.51 },
  costOrder: { cheapest: '50-90', dearest: '30-70' },
} as const;

export type PlanRef = Pick<
  MatrixRunPlan,
  'key' | 'group' | 'kind' | 'maxReplicas' | 'thresholds' | 'baseline'
>;

export interface MatrixEntry {
  plan: PlanRef;
  report: ScenarioReport | null;
  /** Why the run has no report (it failed or was interrupted). */
  error?: string;
}

export interface LoadStatus {
  above: number;
  within: number;
  below: number;
}

export interface MatrixRow extends PlanRef {
  ok: boolean;
  error: string | null;
  records: number;
  applicationSeconds: number | null;
  messagesPerSecond: number | null;
  meanBrokers: number | null;
  maxBrokers: number | null;
  meanOrchestrators: number | null;
  /** Application time × mean replicas (both levels), replica-seconds (the paper's cost). */
  cost: number | null;
  messagesPerSecondPerReplica: number | null;
  timeReductionPercent: number | null;
  costRatio: number | null;
  parallelEfficiency: number | null;
  sent: number;
  received: number;
  lost: number;
  duplicates: number;
  complete: boolean;
  /** Table 2: seconds of the run spent with n brokers allocated (key n). */
  brokerSecondsAt: Record<string, number>;
  /** Mean raw load of each level over the run's observations (fraction of its CPU allocation): s1 shows the bottleneck. */
  meanLoad: { broker: number | null; orchestrator: number | null };
  /** Fig. 10: broker-level observations whose smoothed load was above, within or below the thresholds. */
  loadStatus: LoadStatus;
  addActions: number;
  removeActions: number;
}

export interface GroupSummary {
  group: MatrixGroup;
  baseline: string | null;
  baselineMessagesPerSecond: number | null;
  best: { key: string; timeReductionPercent: number; messagesPerSecond: number } | null;
  paperBestTimeReductionPercent: number | null;
  paperMessagesPerSecond: { s1: number; best: number } | null;
  /** Per max replicas: the thresholds from cheapest to dearest, and whether that agrees with the paper. */
  /** `agreesWithPaper` is null when fewer than two thresholds ran at that max. */
  costOrder: Array<{ maxReplicas: number; cheapestFirst: string[]; agreesWithPaper: boolean | null }>;
}

export interface S3Profile {
  key: string;
  meanBrokers: number;
  maxBrokers: number;
  meanOrchestrators: number;
  maxOrchestrators: number;
  brokerSecondsAt: Record<string, number>;
  orchestratorSecondsAt: Record<string, number>;
  actions: Array<{ t: number; level: string; action: string; outcome: string }>;
}

export interface Matrix {
  rows: MatrixRow[];
  groups: GroupSummary[];
  s3: S3Profile | null;
  totals: { runs: number; failed: number; sent: number; received: number; lost: number; duplicates: number };
}

/** Seconds in [0, to] spent at each count of `key`, for the step function the samples describe. */
export function secondsAtCount(
  samples: readonly ReplicaSample[],
  key: SampleKey,
  to: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  samples.forEach((s, i) => {
    const next = samples[i + 1];
    const start = Math.max(0, i === 0 ? Number.NEGATIVE_INFINITY : s.t);
    const end = Math.min(to, next ? next.t : Number.POSITIVE_INFINITY);
    if (end > start) out[String(s[key])] = (out[String(s[key])] ?? 0) + (end - start);
  });
  return out;
}

export function meanRawLoad(report: ScenarioReport, level: string): number | null {
  const loads = report.observations
    .filter((o) => o.level === level && o.rawLoad !== null && o.t >= 0 && o.t <= report.applicationSeconds)
    .map((o) => o.rawLoad as number);
  return loads.length > 0 ? loads.reduce((a, b) => a + b, 0) / loads.length : null;
}

export function loadStatus(report: ScenarioReport, level = 'broker'): LoadStatus {
  const status: LoadStatus = { above: 0, within: 0, below: 0 };
  for (const o of report.observations) {
    if (o.level !== level || o.load === null || o.t < 0 || o.t > report.applicationSeconds) continue;
    if (o.load > o.upper) status.above += 1;
    else if (o.load < o.lower) status.below += 1;
    else status.within += 1;
  }
  return status;
}

function row(entry: MatrixEntry): MatrixRow {
  const r = entry.report;
  const vs = r?.efficiency.vsBaseline ?? null;
  const T = r?.applicationSeconds ?? 0;
  return {
    ...entry.plan,
    ok: r?.complete === true && r.delivery.lost === 0,
    error: entry.error ?? (r && !r.complete ? 'not every expected message arrived' : null),
    records: r?.records ?? 0,
    applicationSeconds: r ? T : null,
    messagesPerSecond: r?.messagesPerSecond ?? null,
    meanBrokers: r?.replicas.broker.meanReplicas ?? null,
    maxBrokers: r?.replicas.broker.maxReplicas ?? null,
    meanOrchestrators: r?.replicas.orchestrator.meanReplicas ?? null,
    cost: r?.cost ?? null,
    messagesPerSecondPerReplica: r?.efficiency.messagesPerSecondPerReplica ?? null,
    timeReductionPercent: vs?.sameLoad ? vs.timeReductionPercent : null,
    costRatio: vs?.sameLoad ? vs.costRatio : null,
    parallelEfficiency: vs?.sameLoad ? vs.parallelEfficiency : null,
    sent: r?.publish.sent ?? 0,
    received: r?.delivery.received ?? 0,
    lost: r?.delivery.lost ?? 0,
    duplicates: r?.delivery.duplicates ?? 0,
    complete: r?.complete ?? false,
    brokerSecondsAt: r ? secondsAtCount(r.timeline, 'broker', T) : {},
    meanLoad: {
      broker: r ? meanRawLoad(r, 'broker') : null,
      orchestrator: r ? meanRawLoad(r, 'orchestrator') : null,
    },
    loadStatus: r ? loadStatus(r) : { above: 0, within: 0, below: 0 },
    addActions: r?.decisions.broker?.add ?? 0,
    removeActions: r?.decisions.broker?.remove ?? 0,
  };
}

function group(name: MatrixGroup, rows: readonly MatrixRow[]): GroupSummary {
  const mine = rows.filter((r) => r.group === name);
  const baseline = mine[0]?.baseline ?? null;
  const base = rows.find((r) => r.key === baseline);
  let best: GroupSummary['best'] = null;
  for (const r of mine)
    if (
      r.ok &&
      r.timeReductionPercent !== null &&
      (!best || r.timeReductionPercent > best.timeReductionPercent)
    )
      best = {
        key: r.key,
        timeReductionPercent: r.timeReductionPercent,
        messagesPerSecond: r.messagesPerSecond ?? 0,
      };
  const maxes = [...new Set(mine.map((r) => r.maxReplicas).filter((m): m is number => m !== null))];
  const costOrder = maxes.map((maxReplicas) => {
    const ranked = mine
      .filter((r) => r.maxReplicas === maxReplicas && r.cost !== null && r.thresholds !== null)
      .sort((a, b) => (a.cost as number) - (b.cost as number))
      .map((r) => r.thresholds as string);
    const agrees =
      ranked.length < 2
        ? null
        : (!ranked.includes(PAPER.costOrder.cheapest) || ranked[0] === PAPER.costOrder.cheapest) &&
          (!ranked.includes(PAPER.costOrder.dearest) || ranked.at(-1) === PAPER.costOrder.dearest);
    return { maxReplicas, cheapestFirst: ranked, agreesWithPaper: agrees };
  });
  return {
    group: name,
    baseline,
    baselineMessagesPerSecond: base?.messagesPerSecond ?? null,
    best,
    paperBestTimeReductionPercent: PAPER.bestTimeReductionPercent[name] ?? null,
    paperMessagesPerSecond: PAPER.messagesPerSecond[name] ?? null,
    costOrder,
  };
}

function s3Profile(entries: readonly MatrixEntry[]): S3Profile | null {
  const e = entries.find((x) => x.plan.group === 's3' && x.report);
  const r = e?.report;
  if (!e || !r) return null;
  return {
    key: e.plan.key,
    meanBrokers: r.replicas.broker.meanReplicas,
    maxBrokers: r.replicas.broker.maxReplicas,
    meanOrchestrators: r.replicas.orchestrator.meanReplicas,
    maxOrchestrators: r.replicas.orchestrator.maxReplicas,
    brokerSecondsAt: secondsAtCount(r.timeline, 'broker', r.applicationSeconds),
    orchestratorSecondsAt: secondsAtCount(r.timeline, 'orchestrator', r.applicationSeconds),
    actions: r.actions.map((a) => ({ t: a.t, level: a.level, action: a.action, outcome: a.outcome })),
  };
}

export function buildMatrix(entries: readonly MatrixEntry[]): Matrix {
  const rows = entries.map(row);
  const groups = (['s2-mosquitto', 's2-rabbitmq', 's2-mixed'] as const)
    .filter((g) => rows.some((r) => r.group === g))
    .map((g) => group(g, rows));
  const sum = (k: 'sent' | 'received' | 'lost' | 'duplicates') => rows.reduce((a, r) => a + r[k], 0);
  return {
    rows,
    groups,
    s3: s3Profile(entries),
    totals: {
      runs: rows.length,
      failed: rows.filter((r) => !r.ok).length,
      sent: sum('sent'),
      received: sum('received'),
      lost: sum('lost'),
      duplicates: sum('duplicates'),
    },
  };
}
