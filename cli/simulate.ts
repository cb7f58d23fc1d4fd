import { fork } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadConfig, validate } from '../common/config/load.ts';
import { type BrokelConfig, configSchema } from '../common/config/schema.ts';
import { ConfigError } from '../common/errors.ts';
import { tsxExecArgv } from '../common/tsx-child.ts';
import { type CapacityCurve, linearCurve, parseCapacityCurve } from '../manager/quality/capacity-curve.ts';
import { metricsTable, reactiveVsHpa, tournamentTable } from '../manager/quality/report.ts';
import type { CapacityModel, SimulationResult } from '../manager/quality/simulator.ts';
import { type RateSeries, syntheticMonth } from '../workload/elasticity/demand-trace.ts';
import { traceRate } from '../workload/elasticity/trace-rate.ts';
import { parseCommandArgs, positive } from './args.ts';
import type { SimulateJob } from './simulate-worker.ts';

export const SIMULATE_USAGE = `simulate [--days 30] [--peak MSG/S] [--file TRACE] [--max-brokers 500] [--max-orchestrators 50]
               [--policies reactive,proactive,hpa] [--boot-seconds 60] [--curve FILE] [--max-add N] [--json] [-c FILE]
                           the policies over the 30-day Rome trace on a capacity model (no processes):
                           SPEC elasticity metrics per policy and their tournament; --max-add N: a reactive or
                           proactive scale-out may add up to N replicas per level (levels.*.maxAddPerAction)`;

/** Mosquitto at 0.25 core, QoS 1 (FIELD-NOTES): what one broker carries at 100 % of its quota. */
const BROKER_FULL_MSGS = 16_300;
/** The SLO holds up to this CPU (the capacity curve without a calibration file). */
const SLO_CPU = 0.8;
const POLICIES = ['reactive', 'proactive', 'hpa'] as const;

export async function runSimulate(argv: string[]): Promise<number> {
  const started = performance.now(); // the target is the whole command: trace, processes, metrics
  const { values } = parseCommandArgs('simulate', argv, {
    config: { type: 'string', short: 'c' },
    days: { type: 'string' },
    peak: { type: 'string' },
    file: { type: 'string' },
    'max-brokers': { type: 'string' },
    'max-orchestrators': { type: 'string' },
    policies: { type: 'string' },
    'boot-seconds': { type: 'string' },
    'drain-seconds': { type: 'string' },
    'broker-msgs': { type: 'string' },
    'orchestrator-msgs': { type: 'string' },
    curve: { type: 'string' },
    'max-add': { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean', default: false },
    serial: { type: 'boolean', default: false },
  });
  const days = positive('--days', values.days, 'number', 30);
  const maxBrokers = positive('--max-brokers', values['max-brokers'], 'integer', 500);
  const maxOrchestrators = positive('--max-orchestrators', values['max-orchestrators'], 'integer', 50);
  const policies = (values.policies ?? POLICIES.join(',')).split(',').map((p) => p.trim());
  for (const p of policies)
    if (!(POLICIES as readonly string[]).includes(p))
      throw new ConfigError([{ path: '--policies', message: `${p} is not one of ${POLICIES.join(', ')}` }]);
  const curve: CapacityCurve | undefined = values.curve
    ? parseCapacityCurve(await readFile(values.curve, 'utf8'), values.curve)
    : undefined;
  const brokerFull = positive(
    '--broker-msgs',
    values['broker-msgs'],
    'number',
    fullFromCurve(curve) ?? BROKER_FULL_MSGS,
  );
  // An orchestrator replica is modelled as fronting ten brokers (cores sized to that; an assumption).
  const orchestratorFull = positive(
    '--orchestrator-msgs',
    values['orchestrator-msgs'],
    'number',
    10 * brokerFull,
  );
  const brokerCurve = curve ?? linearCurve(brokerFull * SLO_CPU);
  const bootSeconds = positive('--boot-seconds', values['boot-seconds'], 'number', 60);
  const model: CapacityModel = {
    fullMsgPerSecond: { broker: brokerFull, orchestrator: orchestratorFull },
    curves: { broker: brokerCurve, orchestrator: linearCurve(orchestratorFull * SLO_CPU) },
    bootSeconds: { broker: bootSeconds, orchestrator: bootSeconds },
    drainSeconds: positive('--drain-seconds', values['drain-seconds'], 'number', 10),
  };
  // Default peak: 70 % of what the broker level's max carries under the SLO.
  const peak = positive('--peak', values.peak, 'number', 0.7 * maxBrokers * brokerFull * SLO_CPU);
  const base = await loadConfig(values.config);
  const maxAdd =
    values['max-add'] === undefined ? undefined : positive('--max-add', values['max-add'], 'integer', 1);
  const seed = positive('--seed', values.seed, 'integer', 1);
  const rates: RateSeries = values.file
    ? scale(await traceRate(values.file, days), peak)
    : syntheticMonth({ days, peak, seed });
  const jobs = policies.map((policy) => ({
    config: withLimits(base, policy as BrokelConfig['policy'], maxBrokers, maxOrchestrators, maxAdd),
    model,
    rates: Array.from(rates.rates),
    stepSeconds: rates.stepSeconds,
  }));
  const results = values.serial ? await serial(jobs) : await Promise.all(jobs.map(inChild));
  const seconds = (performance.now() - started) / 1000;
  if (values.json) {
    for (const r of results) console.log(JSON.stringify(summary(r)));
    return 0;
  }
  const entrants = results.map((r) => ({ name: r.policy, metrics: r.levels.broker.metrics }));
  console.log(
    `brokel simulate: ${days} days (${values.file ?? "synthetic month, the trace's daily shape"}), peak ${Math.round(peak)} msg/s, ` +
      `interval ${base.monitor.intervalSeconds} s, up to ${maxBrokers} brokers / ${maxOrchestrators} orchestrators, boot ${bootSeconds} s, ` +
      `up to ${jobs[0]?.config.levels.brokers.maxAddPerAction ?? 1} brokers per reactive or proactive scale-out`,
  );
  console.log(
    `model: a broker carries ${brokerFull} msg/s at 100 % CPU; demand = ${curve ? `curve ${values.curve}` : `${brokerFull * SLO_CPU} msg/s per broker (SLO held to ${SLO_CPU * 100} % CPU)`}; ` +
      `SLO violation = seconds some level has less supply than demand (modelled)`,
  );
  console.log(`\nbroker level:\n${metricsTable(entrants)}`);
  const orchestrators = results.map((r) => ({ name: r.policy, metrics: r.levels.orchestrator.metrics }));
  console.log(`\norchestrator level:\n${metricsTable(orchestrators)}`);
  console.log(
    `\nmax replicas: ${results.map((r) => `${r.policy} ${r.levels.broker.maxSupply} brokers / ${r.levels.orchestrator.maxSupply} orchestrators`).join('; ')}`,
  );
  console.log(`\n${tournamentTable(entrants)}`);
  const target = reactiveVsHpa(entrants);
  if (target) console.log(target);
  console.log(
    `target: < 60 s for --days 30 --max-brokers 500 — measured: ${seconds.toFixed(1)} s (${days} days, ${maxBrokers} brokers, ${results.length} policies${values.serial ? ', one after the other' : ', in parallel processes'})`,
  );
  return 0;
}

function fullFromCurve(curve: CapacityCurve | undefined): number | undefined {
  const last = curve?.points.at(-1);
  return last?.cpu ? last.msgPerSecond / last.brokers / last.cpu : undefined;
}

function scale(series: RateSeries, peak: number): RateSeries {
  const max = Math.max(...series.rates);
  return {
    stepSeconds: series.stepSeconds,
    rates: series.rates.map((r) => (max > 0 ? (r * peak) / max : 0)),
  };
}

/** The config a policy's simulation runs with: the CLI's limits over the file's (or default) config. */
export function withLimits(
  base: BrokelConfig,
  policy: BrokelConfig['policy'],
  brokers: number,
  orchestrators: number,
  maxAddPerAction?: number,
): BrokelConfig {
  const add = maxAddPerAction === undefined ? {} : { maxAddPerAction };
  return validate(configSchema, {
    ...base,
    policy,
    levels: {
      brokers: { ...base.levels.brokers, max: brokers, ...add },
      orchestrators: { ...base.levels.orchestrators, max: orchestrators, ...add },
    },
    sla: { maxReplicas: brokers + orchestrators },
  });
}

/** One object per policy for --json: its metrics per level and its replica peaks. */
function summary(r: SimulationResult) {
  const level = (l: SimulationResult['levels']['broker']) => ({
    ...l.metrics,
    maxSupply: l.maxSupply,
    adds: l.adds,
    removes: l.removes,
  });
  return {
    policy: r.policy,
    seconds: r.seconds,
    observations: r.observations,
    broker: level(r.levels.broker),
    orchestrator: level(r.levels.orchestrator),
  };
}

async function serial(jobs: SimulateJob[]): Promise<SimulationResult[]> {
  const { runJob } = await import('./simulate-worker.ts');
  return jobs.map(runJob);
}

/** Each policy in its own process: they are independent, and a machine has more than one core. */
function inChild(job: SimulateJob): Promise<SimulationResult> {
  const worker = fileURLToPath(new URL('./simulate-worker.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = fork(worker, [], {
      execArgv: tsxExecArgv(),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: SimulationResult | undefined;
    child.once('message', (m) => {
      result = m as SimulationResult;
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      result ? resolve(result) : reject(new Error(`simulation process exited with ${code}`)),
    );
    child.send(job);
  });
}
