// Elasticity quality on this machine (issue #14): a ramp, a spiky trace (bursts shorter than two
// observations) and a day curve from the Rome taxi trace's daily shape, each replayed for real through
// the reactive (α = 0.5), proactive and hpa policies on the local provider (Mosquitto at a CPU quota,
// one orchestrator). Prints the SPEC elasticity metrics per policy, the pairwise tournament and the
// reactive-vs-hpa target, and writes an SVG of demand vs supply per run.
// `npm run bench:elasticity [-- --short] [--seconds 60] [--curve capacity-curve.json] [--out DIR]
//   [--traces ramp,spiky,day] [--policies reactive,proactive,hpa] [--spike-every 8] [--spike-length 1.5]`.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { validate } from '../common/config/load.ts';
import { type BrokelConfigInput, configSchema } from '../common/config/schema.ts';
import {
  type CapacityCurve,
  demandFor,
  linearCurve,
  parseCapacityCurve,
} from '../manager/quality/capacity-curve.ts';
import {
  type ElasticityMetrics,
  elasticityMetrics,
  type MetricsInput,
  SCORED_METRICS,
} from '../manager/quality/metrics.ts';
import { metricsTable, reactiveVsHpa, tournamentTable } from '../manager/quality/report.ts';
import { compactSteps, type StepPoint } from '../manager/quality/step-series.ts';
import { type Entrant, tournament } from '../manager/quality/tournament.ts';
import { lineChart } from '../workload/taxi-rome/svg.ts';
import { benchArgs } from './lib/bench-args.ts';
import { modelRun } from './lib/elasticity-model.ts';
import { elasticityRun } from './lib/elasticity-run.ts';
import { traces } from './lib/elasticity-traces.ts';

const values = benchArgs(
  'bench:elasticity',
  'Issue #14: ramp, spiky and day traces through reactive, proactive and hpa; SPEC metrics, tournament, SVGs.',
  {
    short: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    interval: { type: 'string', default: '1' },
    peak: { type: 'string', default: '20000' },
    base: { type: 'string', default: '1000' },
    'broker-msgs': { type: 'string', default: '8000' },
    curve: { type: 'string' },
    'slo-ms': { type: 'string', default: '200' },
    traces: { type: 'string', default: 'ramp,spiky,day' },
    'spike-every': { type: 'string', default: '8' },
    'spike-length': { type: 'string', default: '1.5' },
    policies: { type: 'string', default: 'reactive,proactive,hpa' },
    out: { type: 'string', default: 'bench/results/elasticity' },
    model: { type: 'boolean', default: false },
    'boot-seconds': { type: 'string', default: '2' },
  },
);
const seconds = Number(values.seconds ?? (values.short ? 20 : 60));
const intervalSeconds = Number(values.interval);
const sloMs = Number(values['slo-ms']);
const curve: CapacityCurve = values.curve
  ? parseCapacityCurve(await readFile(values.curve, 'utf8'), values.curve)
  : linearCurve(Number(values['broker-msgs']), sloMs);
const bootSeconds = Number(values['boot-seconds']);
const policies = values.policies.split(',') as Array<'reactive' | 'proactive' | 'hpa'>;
const wanted = new Set(values.traces.split(','));
const all = traces({
  seconds,
  peak: Number(values.peak),
  base: Number(values.base),
  intervalSeconds,
  spikeEvery: Number(values['spike-every']),
  spikeLength: Number(values['spike-length']),
}).filter((t) => wanted.has(t.name));
// The HPA's times scaled to the observation interval as 15 s is to its defaults (300 s window = 20
// periods of 15 s), so the bench's 1 s observations meet the same algorithm at the same pace.
const hpaScale = intervalSeconds / 15;
const config: BrokelConfigInput = {
  deployment: `el${process.pid % 100000}`,
  monitor: { intervalSeconds, warmupObservations: 2 },
  smoothing: { alpha: 0.5 },
  hpa: { scaleDownStabilizationSeconds: 300 * hpaScale, scaleUpPeriodSeconds: 15 * hpaScale },
  levels: {
    brokers: { lower: 0.3, upper: 0.7, min: 1, max: 3, cpuQuota: 0.1 },
    orchestrators: { min: 1, max: 1 },
  },
  provider: { local: { addressBlock: '127.45' } },
  manager: { drainQuietSeconds: 0.5 },
};

await mkdir(values.out, { recursive: true });
console.log(
  `bench:elasticity — ${seconds} s per run, observation every ${intervalSeconds} s, Mosquitto at 0.1 core (1–3), ` +
    `demand: ${values.curve ? `curve ${values.curve}` : `${values['broker-msgs']} msg/s per broker (model; --curve for a measured one)`}, SLO p99 ${sloMs} ms`,
);
const spikyEntrants: Entrant[] = [];
for (const trace of all) {
  const entrants: Entrant[] = [];
  const demand = compactSteps(demandSeries(trace.rateAt, seconds, curve));
  for (const policy of policies) {
    const run = values.model
      ? modelRun({
          rateAt: trace.rateAt,
          seconds,
          config: validate(configSchema, { ...config, policy }),
          perBrokerMsgs: Number(values['broker-msgs']),
          bootSeconds,
        })
      : await elasticityRun({
          name: `${trace.name}-${policy}`,
          policy,
          seconds,
          rateAt: trace.rateAt,
          config,
        });
    const supply = compactSteps(run.supply);
    const input = { demand, supply, billed: compactSteps(run.billed), from: 0, to: seconds };
    const metrics =
      'p99Ms' in run ? elasticityMetrics({ ...input, p99Ms: run.p99Ms, sloMs }) : modelledMetrics(input);
    entrants.push({ name: policy, metrics });
    await writeFile(
      join(values.out, `${trace.name}-${policy}.svg`),
      demandSupplyChart(trace.name, policy, demand, supply),
    );
    if ('sent' in run) console.log(`  ${trace.name} / ${policy}: sent ${run.sent}, received ${run.received}`);
  }
  console.log(`\n${trace.name} — ${trace.describe}\n${metricsTable(entrants)}\n${tournamentTable(entrants)}`);
  if (trace.name === 'spiky') {
    spikyEntrants.push(...entrants);
    // The ceiling of the target: a policy that never scales (the most a smoothing policy can do to
    // ignore the bursts) scored against hpa's run, over the same demand.
    const flat = [{ t: 0, v: config.levels?.brokers?.min ?? 1 }];
    const never = modelledMetrics({ demand, supply: flat, from: 0, to: seconds });
    const hpa = entrants.find((e) => e.name === 'hpa');
    if (hpa)
      console.log(`reference, never scaling (min brokers) against hpa: ${headToHead(never, hpa.metrics)}`);
  }
}
const target = reactiveVsHpa(spikyEntrants);
if (target) console.log(`\nspiky trace ${target}`);
console.log(`SVGs in ${values.out}/`);

/** A modelled run has no delivery p99: the SLO is taken as violated while supply is below demand. */
function modelledMetrics(input: MetricsInput): ElasticityMetrics {
  const m = elasticityMetrics(input);
  return { ...m, sloViolationSeconds: (m.tauU / 100) * m.seconds };
}

function headToHead(a: ElasticityMetrics, b: ElasticityMetrics): string {
  const pair = tournament([
    { name: 'a', metrics: a },
    { name: 'b', metrics: b },
  ]).pairs[0];
  const wins = SCORED_METRICS.filter((k) => pair?.outcomes[k] === 'a');
  const draws = SCORED_METRICS.filter((k) => pair?.outcomes[k] === 'draw');
  return `wins ${wins.length} (${wins.join(', ') || 'none'}), draws ${draws.length} (${draws.join(', ') || 'none'}), SLO ${a.sloViolationSeconds.toFixed(0)} s (modelled: under-provisioned) vs ${b.sloViolationSeconds.toFixed(0)} s`;
}

function demandSupplyChart(trace: string, policy: string, demand: StepPoint[], supply: StepPoint[]): string {
  return lineChart({
    title: `${trace}: demand vs supply, ${policy}${values.model ? ' (model)' : ''}`,
    xLabel: 'seconds',
    yLabel: 'brokers',
    integerY: true,
    series: [
      {
        label: 'demand',
        points: demand.map((p) => [p.t, p.v] as const),
        color: '#888',
        step: true,
        dash: '4 3',
      },
      {
        label: `supply (${policy})`,
        points: supply.map((p) => [p.t, p.v] as const),
        color: '#c33',
        step: true,
      },
    ],
  });
}

/** Demand per second: the smallest broker count that carries the offered load (the capacity curve). */
function demandSeries(rateAt: (s: number) => number, seconds: number, c: CapacityCurve): StepPoint[] {
  const out: StepPoint[] = [];
  for (let s = 0; s < seconds; s++) {
    let sum = 0;
    for (let k = 0; k < 10; k++) sum += rateAt(s + k / 10);
    out.push({ t: s, v: Math.max(1, demandFor(c, sum / 10)) });
  }
  return out;
}
