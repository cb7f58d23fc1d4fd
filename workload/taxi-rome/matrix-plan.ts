import type { RoutingStrategyName } from '../../common/admin/contract.ts';
import { type ScenarioName, type ScenarioSpec, scenarioSpec } from './scenarios.ts';

/**
 * The paper's evaluation matrix as data, pure (issue #15): one s1 baseline per broker kind, s2 for
 * Mosquitto, RabbitMQ and the mixed pool × max replicas {6, 10} × thresholds {30-70, 30-90, 50-70,
 * 50-90} (the paper's 24 elastic runs), and s3. Each kind runs at its calibrated quota and boot budget.
 */
export const BROKER_KINDS = ['mosquitto', 'rabbitmq'] as const;
export type BrokerKind = (typeof BROKER_KINDS)[number];
export const MATRIX_MAX_REPLICAS = [6, 10] as const;
export const MATRIX_THRESHOLDS = ['30-70', '30-90', '50-70', '50-90'] as const;
export const ELASTIC_GROUPS = ['s2-mosquitto', 's2-rabbitmq', 's2-mixed'] as const;
export type MatrixGroup = 's1' | (typeof ELASTIC_GROUPS)[number] | 's3';
/**
 * --quick keeps, per elastic group, the paper's dearest and cheapest corners, and only the first for
 * s2-rabbitmq (each RabbitMQ run waits for a RabbitMQ boot: ~9 s on a quiet machine, ~30 s at load 10).
 */
export const QUICK_CORNERS: ReadonlyArray<readonly [number, string]> = [
  [6, '30-70'],
  [10, '50-90'],
];
export const QUICK_RABBITMQ_CORNERS = QUICK_CORNERS.slice(0, 1);

/** What the calibration chose for one broker kind (matrix-calibrate.ts). */
export interface KindSetting {
  kind: BrokerKind;
  cpuQuota: number;
  /** A replica not ready by then is failed (provider.local.bootTimeoutMs). */
  bootTimeoutMs: number;
}

export interface MatrixSize {
  /** A trace file; the seeded synthetic trace when absent. */
  file?: string;
  records: number;
  /** Fixes of s1-rabbitmq and s2-rabbitmq (a slower broker that boots in tens of seconds needs a longer run). Default `records`. */
  rabbitmqRecords?: number;
  publishers: number;
  subscribers: number;
  /** s3's load (the paper: twice s2's). */
  s3Records: number;
  s3Publishers: number;
  s3Subscribers: number;
  intervalSeconds: number;
}

export interface MatrixRunPlan {
  /** Unique, folder-safe: `s1-mosquitto`, `s2-rabbitmq-m10-t50-90`, `s3`. */
  key: string;
  group: MatrixGroup;
  kind: BrokerKind | 'mixed';
  maxReplicas: number | null;
  thresholds: string | null;
  /** The run whose time this one's reduction is against (same kind and load); null for a baseline. */
  baseline: string | null;
  bootTimeoutMs: number;
  spec: ScenarioSpec;
}

function thresholdsOf(text: string): { lower: number; upper: number } {
  const [lower, upper] = text.split('-').map((p) => Number(p) / 100);
  return { lower: lower ?? 0.3, upper: upper ?? 0.7 };
}

export function planMatrix(o: {
  quick: boolean;
  size: MatrixSize;
  settings: Record<BrokerKind, KindSetting>;
  /** Brokers one scale-out may add in the elastic runs (1: the paper's model). */
  maxAddPerAction?: number;
  /** How the elastic runs' orchestrators route publishes (round-robin: the paper's model). */
  routing?: RoutingStrategyName;
}): MatrixRunPlan[] {
  const { size, settings } = o;
  const load = {
    records: size.records,
    publishers: size.publishers,
    subscribers: size.subscribers,
    intervalSeconds: size.intervalSeconds,
  };
  const runs: MatrixRunPlan[] = [];
  const loadOf = (kind: BrokerKind | 'mixed') =>
    kind === 'rabbitmq' ? { ...load, records: size.rabbitmqRecords ?? size.records } : load;
  for (const kind of BROKER_KINDS) {
    const s = settings[kind];
    const spec = scenarioSpec('s1', { ...loadOf(kind), brokerCpuQuota: s.cpuQuota });
    const brokers = { ...spec.config.levels?.brokers, template: kind };
    const key = `s1-${kind}`;
    runs.push({
      key,
      group: 's1',
      kind,
      maxReplicas: null,
      thresholds: null,
      baseline: null,
      bootTimeoutMs: s.bootTimeoutMs,
      spec: {
        ...spec,
        label: key,
        description: `${spec.description}, ${kind}`,
        config: { ...spec.config, levels: { ...spec.config.levels, brokers } },
      },
    });
  }
  const all = MATRIX_MAX_REPLICAS.flatMap((m) => MATRIX_THRESHOLDS.map((t) => [m, t] as const));
  const mosquitto = settings.mosquitto;
  const rabbitmq = settings.rabbitmq;
  for (const group of ELASTIC_GROUPS) {
    const kind = group === 's2-mosquitto' ? 'mosquitto' : group === 's2-rabbitmq' ? 'rabbitmq' : 'mixed';
    const corners = !o.quick ? all : kind === 'rabbitmq' ? QUICK_RABBITMQ_CORNERS : QUICK_CORNERS;
    for (const [maxReplicas, t] of corners) {
      // The mixed pool starts with a Mosquitto broker (templates in turn), so s1-mosquitto is its reference.
      const own = kind === 'rabbitmq' ? rabbitmq : mosquitto;
      const spec = scenarioSpec(group as ScenarioName, {
        ...loadOf(kind),
        maxReplicas,
        thresholds: thresholdsOf(t),
        brokerCpuQuota: own.cpuQuota,
        maxAddPerAction: o.maxAddPerAction,
        routing: o.routing,
      });
      if (kind === 'mixed' && spec.config.levels?.brokers)
        spec.config.levels.brokers.cpuQuotaByTemplate = { rabbitmq: rabbitmq.cpuQuota };
      runs.push({
        key: spec.label,
        group,
        kind,
        maxReplicas,
        thresholds: t,
        baseline: kind === 'rabbitmq' ? 's1-rabbitmq' : 's1-mosquitto',
        bootTimeoutMs:
          kind === 'mixed' ? Math.max(mosquitto.bootTimeoutMs, rabbitmq.bootTimeoutMs) : own.bootTimeoutMs,
        spec,
      });
    }
  }
  const s3 = scenarioSpec('s3', {
    records: size.s3Records,
    publishers: size.s3Publishers,
    subscribers: size.s3Subscribers,
    intervalSeconds: size.intervalSeconds,
    brokerCpuQuota: mosquitto.cpuQuota,
    maxAddPerAction: o.maxAddPerAction,
    routing: o.routing,
  });
  // Labelled like the s2 runs with --max-add or --routing, so --reuse never takes another s3 for it.
  const s3Key = s3.label.replace(/-m\d+-t\d+-\d+/, '');
  runs.push({
    key: s3Key,
    group: 's3',
    kind: 'mosquitto',
    maxReplicas: 6,
    thresholds: '30-70',
    baseline: 's1-mosquitto',
    bootTimeoutMs: mosquitto.bootTimeoutMs,
    spec: { ...s3, label: s3Key },
  });
  return runs;
}

/**
 * The runs of `only` (plan keys) and the baselines they are compared with, in plan order; the whole plan
 * when `only` is absent. An unknown key is an error that lists the known ones.
 */
export function selectRuns(plan: readonly MatrixRunPlan[], only?: readonly string[]): MatrixRunPlan[] {
  if (only === undefined) return [...plan];
  const known = new Set(plan.map((r) => r.key));
  const unknown = only.filter((k) => !known.has(k));
  if (unknown.length > 0)
    throw new RangeError(`--only: no run ${unknown.join(', ')} in the plan (runs: ${[...known].join(', ')})`);
  const wanted = new Set(only);
  for (const r of plan) if (wanted.has(r.key) && r.baseline) wanted.add(r.baseline);
  return plan.filter((r) => wanted.has(r.key));
}

/** How a kind's setting was chosen: the candidates tried, in order, with what each measured. */
export interface KindCalibration extends KindSetting {
  tried: Array<{ cpuQuota: number; bootMs: number | null; note: string }>;
}

export interface CalibrationResult {
  /** The rule, in words (matrix.md states it). */
  rule: string;
  kinds: KindCalibration[];
}
