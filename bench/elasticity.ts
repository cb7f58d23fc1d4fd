// Elasticity quality on this machine (issue #14): a ramp, a spiky trace (bursts shorter than two
// observations) and a day curve from the Rome taxi trace's daily shape, each replayed for real through
// the reactive (α = 0.5), proactive and hpa policies on the local provider (Mosquitto at a CPU quota,
// one orchestrator). Prints the SPEC elasticity metrics per policy, the pairwise tournament and the
// reactive-vs-hpa target, and writes an SVG of demand vs supply per run.
// `npm run bench:elasticity [-- --short] [--seconds 60] [--curve capacity-curve.json] [--out DIR]`.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { BrokelConfigInput } from '../common/config/schema.ts';
import {
  type CapacityCurve,
  demandFor,
  linearCurve,
  parseCapacityCurve,
} from '../manager/quality/capacity-curve.ts';
import { elasticityMetrics } from '../manager/quality/metrics.ts';
import { metricsTable, reactiveVsHpa, tournamentTable } from '../manager/quality/report.ts';
import { compactSteps, type StepPoint } from '../manager/quality/step-series.ts';
import { lineChart } from '../workload/taxi-rome/svg.ts';
import { elasticityRun } from './lib/elasticity-run.ts';
import { traces } from './lib/elasticity-traces.ts';

const { values } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    interval: { type: 'string', default: '1' },
    peak: { type: 'string', default: '20000' },
    base: { type: 'string', default: '1000' },
    'broker-msgs': { type: 'string', default: '8000' },
    curve: { type: 'string' },
    'slo-ms': { type: 'string', default: '200' },
    traces: { type: 'string', default: 'ramp,spiky,day' },
    policies: { type: 'string', default: 'reactive,proactive,hpa' },
    out: { type: 'string', default: 'bench/results/elasticity' },
  },
});
const seconds = Number(values.seconds ?? (values.short ? 20 : 60));
const intervalSeconds = Number(values.interval);
const sloMs = Number(values['slo-ms']);
const curve: CapacityCurve = values.curve
  ? parseCapacityCurve(await readFile(values.curve, 'utf8'), values.curve)
  : linearCurve(Number(values['broker-msgs']), sloMs);
const policies = values.policies.split(',') as Array<'reactive' | 'proactive' | 'hpa'>;
const wanted = new Set(values.traces.split(','));
const all = traces({ seconds, peak: Number(values.peak), base: Number(values.base), intervalSeconds }).filter(
  (t) => wanted.has(t.name),
);
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
const spikyEntrants: Array<{ name: string; metrics: ReturnType<typeof elasticityMetrics> }> = [];
for (const trace of all) {
  const entrants = [];
  for (const policy of policies) {
    const run = await elasticityRun({
      name: `${trace.name}-${policy}`,
      policy,
      seconds,
      rateAt: trace.rateAt,
      config,
    });
    const demand = compactSteps(demandSeries(trace.rateAt, seconds, curve));
    const metrics = elasticityMetrics({
      demand,
      supply: compactSteps(run.supply),
      billed: compactSteps(run.billed),
      p99Ms: run.p99Ms,
      sloMs,
      from: 0,
      to: seconds,
    });
    entrants.push({ name: policy, metrics });
    const svg = lineChart({
      title: `${trace.name}: demand vs supply, ${policy}`,
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
          points: compactSteps(run.supply).map((p) => [p.t, p.v] as const),
          color: '#c33',
          step: true,
        },
      ],
    });
    await writeFile(join(values.out, `${trace.name}-${policy}.svg`), svg);
    console.log(`  ${trace.name} / ${policy}: sent ${run.sent}, received ${run.received}`);
  }
  console.log(`\n${trace.name} — ${trace.describe}\n${metricsTable(entrants)}\n${tournamentTable(entrants)}`);
  if (trace.name === 'spiky') spikyEntrants.push(...entrants);
}
const target = reactiveVsHpa(spikyEntrants);
if (target) console.log(`\nspiky trace ${target}`);
console.log(`SVGs in ${values.out}/`);

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
