import type { RoutingStrategyName } from '../../common/admin/contract.ts';
import type { BrokelConfigInput } from '../../common/config/schema.ts';

/**
 * The paper's scenarios as data, pure: what each one runs (levels, elasticity, load) on the local
 * provider. s1: 1 broker, 1 orchestrator, no elasticity; s2-*: broker-level elasticity (Mosquitto,
 * RabbitMQ, or both in turn); s3: both levels elastic at twice the load.
 */
export const SCENARIO_NAMES = ['s1', 's2-mosquitto', 's2-rabbitmq', 's2-mixed', 's3'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface Thresholds {
  lower: number;
  upper: number;
}

export interface ScenarioOptions {
  records?: number;
  publishers?: number;
  subscribers?: number;
  /** Broker level's max replicas (s2/s3). Default 6. */
  maxReplicas?: number;
  thresholds?: Thresholds;
  intervalSeconds?: number;
  /** Cores per broker replica (a VM's size): small enough that one broker saturates. */
  brokerCpuQuota?: number;
  /** Cores per orchestrator replica in s3 (elsewhere the orchestrator is unconstrained). */
  orchestratorCpuQuota?: number;
  orchestratorMax?: number;
  /** Brokers one scale-out may add (config levels.brokers.maxAddPerAction); 1, the paper's, by default. */
  maxAddPerAction?: number;
  /** How the orchestrators route publishes; round-robin, the paper's, by default. */
  routing?: RoutingStrategyName;
}

/** What an elastic run's label says of a routing strategy other than the paper's. */
export const ROUTING_LABELS: Record<RoutingStrategyName, string> = {
  'round-robin': '',
  'least-outstanding': '-lo',
  'client-affinity': '-ca',
  'topic-affinity': '-ta',
};

export interface ScenarioSpec {
  name: ScenarioName;
  /** Folder-safe label with the variant (e.g. `s2-mosquitto-m6-t30-70`). */
  label: string;
  description: string;
  records: number;
  publishers: number;
  subscribers: number;
  /**
   * s3: clients reach the orchestrators as devices would (issue #13): through the service name at the
   * run's geo-dns, following the manager's rebalance (a v5 Server Reference, or a new DNS answer after
   * a plain close); subscribers keep persistent sessions, so a move loses nothing.
   */
  clientsViaDns: boolean;
  config: BrokelConfigInput;
}

/** FIELD-NOTES: Mosquitto at 0.25 core carries ~16k QoS 1 msg/s at 20/20; at 0.05 core one replica is the bottleneck behind one orchestrator here. */
export const DEFAULT_BROKER_CPU_QUOTA = 0.05;
export const DEFAULT_ORCHESTRATOR_CPU_QUOTA = 0.5;

/**
 * s3's rebalance settings (config `rebalance`, docs/rebalancing.md). The defaults suit thousands of
 * devices connected for days: with `absThreshold` 100, s3's 80 sessions (40 publishers, 40
 * subscribers) count as balanced all on one orchestrator, and `cooldownSeconds` 60 protects every
 * client of a run shorter than a minute, so nobody would move. Here the orchestrators are balanced
 * within 4 sessions (or 10 %), a client may move once it has been connected 3 s, each orchestrator
 * sends away at most 20 per second, and moved clients get 2 s to come back before the next count.
 */
export const S3_REBALANCE = {
  absThreshold: 4,
  relThreshold: 1.1,
  cooldownSeconds: 3,
  evictPerSecond: 20,
  settleSeconds: 2,
} as const;

export function isScenarioName(name: string): name is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(name);
}

/** `30-70` → { lower: 0.3, upper: 0.7 } (percent, as the paper writes them). */
export function parseThresholds(text: string): Thresholds {
  const m = /^(\d{1,3})-(\d{1,3})$/.exec(text.trim());
  const lower = Number(m?.[1]) / 100;
  const upper = Number(m?.[2]) / 100;
  if (!m || !(lower < upper) || upper > 1)
    throw new RangeError(`--thresholds: ${text} is not LOWER-UPPER in percent, lower < upper ≤ 100`);
  return { lower, upper };
}

function percent(t: Thresholds): string {
  return `${Math.round(t.lower * 100)}-${Math.round(t.upper * 100)}`;
}

export function scenarioSpec(name: ScenarioName, o: ScenarioOptions = {}): ScenarioSpec {
  const double = name === 's3';
  const records = o.records ?? (double ? 800_000 : 400_000);
  const publishers = o.publishers ?? (double ? 40 : 20);
  const subscribers = o.subscribers ?? (double ? 40 : 20);
  const thresholds = o.thresholds ?? { lower: 0.3, upper: 0.7 };
  const maxReplicas = o.maxReplicas ?? 6;
  const brokerCpuQuota = o.brokerCpuQuota ?? DEFAULT_BROKER_CPU_QUOTA;
  const elastic = name !== 's1';
  const addStep = o.maxAddPerAction ?? 1;
  const template =
    name === 's2-rabbitmq' ? 'rabbitmq' : name === 's2-mixed' ? ['mosquitto', 'rabbitmq'] : 'mosquitto';
  const orchestratorMax = double ? (o.orchestratorMax ?? 3) : 1;
  const brokers = {
    ...thresholds,
    min: 1,
    max: elastic ? maxReplicas : 1,
    template,
    cpuQuota: brokerCpuQuota,
    ...(elastic && addStep > 1 ? { maxAddPerAction: addStep } : {}),
  };
  const orchestrators = double
    ? {
        ...thresholds,
        min: 1,
        max: orchestratorMax,
        cpuQuota: o.orchestratorCpuQuota ?? DEFAULT_ORCHESTRATOR_CPU_QUOTA,
      }
    : { min: 1, max: 1 };
  const routing = o.routing ?? 'round-robin';
  const step = `${addStep > 1 ? `-a${addStep}` : ''}${ROUTING_LABELS[routing]}`;
  const label = elastic ? `${name}-m${maxReplicas}-t${percent(thresholds)}${step}` : name;
  const descriptions: Record<ScenarioName, string> = {
    s1: '1 broker, 1 orchestrator, elasticity off',
    's2-mosquitto': `broker-level elasticity, Mosquitto, up to ${maxReplicas} brokers, thresholds ${percent(thresholds)} %`,
    's2-rabbitmq': `broker-level elasticity, RabbitMQ, up to ${maxReplicas} brokers, thresholds ${percent(thresholds)} %`,
    's2-mixed': `broker-level elasticity, Mosquitto and RabbitMQ in turn, up to ${maxReplicas} brokers, thresholds ${percent(thresholds)} %`,
    s3: `both levels elastic (up to ${maxReplicas} brokers, ${orchestratorMax} orchestrators), thresholds ${percent(thresholds)} %, twice the load`,
  };
  return {
    name,
    label,
    description: descriptions[name],
    records,
    publishers,
    subscribers,
    clientsViaDns: double,
    config: {
      monitor: { intervalSeconds: o.intervalSeconds ?? 2, warmupObservations: 2 },
      smoothing: { alpha: 0.5 },
      levels: { brokers, orchestrators },
      sla: { maxReplicas: brokers.max + orchestrators.max },
      routing,
      ...(double ? { rebalance: { ...S3_REBALANCE } } : {}),
    },
  };
}
