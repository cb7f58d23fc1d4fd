import type { ElasticityMetrics } from './metrics.ts';
import { SCORED_METRICS } from './metrics.ts';
import { type Entrant, tournament } from './tournament.ts';

/** Text tables of elasticity metrics per policy and their tournament (pure; simulate and bench print them). */
const ROWS: ReadonlyArray<[keyof ElasticityMetrics, string, (v: number) => string]> = [
  ['thetaU', 'θU under-provisioning accuracy %', (v) => v.toFixed(2)],
  ['thetaO', 'θO over-provisioning accuracy %', (v) => v.toFixed(2)],
  ['tauU', 'τU under-provisioned time %', (v) => v.toFixed(2)],
  ['tauO', 'τO over-provisioned time %', (v) => v.toFixed(2)],
  ['instability', 'υ instability %', (v) => v.toFixed(3)],
  ['jitterPerMinute', 'j jitter /min', (v) => v.toFixed(3)],
  ['scalingActions', 'scaling actions (replicas)', (v) => v.toFixed(0)],
  ['replicaSeconds', 'cost (replica-hours)', (v) => (v / 3600).toPrecision(4)],
  ['meanSupply', 'mean supply (replicas)', (v) => v.toFixed(2)],
  ['meanDemand', 'mean demand (replicas)', (v) => v.toFixed(2)],
  ['sloViolationSeconds', 'SLO violation (s)', (v) => v.toFixed(0)],
];

export function metricsTable(entrants: readonly Entrant[]): string {
  const width = 34;
  const col = Math.max(12, ...entrants.map((e) => e.name.length + 2));
  const head = `${'metric'.padEnd(width)}${entrants.map((e) => e.name.padStart(col)).join('')}`;
  const lines = ROWS.map(
    ([key, label, fmt]) =>
      `${label.padEnd(width)}${entrants.map((e) => fmt(e.metrics[key]).padStart(col)).join('')}`,
  );
  return [head, ...lines].join('\n');
}

export function tournamentTable(entrants: readonly Entrant[]): string {
  const r = tournament(entrants);
  const lines = r.pairs.map((p) => {
    const detail = SCORED_METRICS.map(
      (k) => `${k}:${p.outcomes[k] === 'draw' ? '=' : p.outcomes[k] === 'a' ? p.a : p.b}`,
    );
    return `  ${p.a} ${p.pointsA} – ${p.pointsB} ${p.b}   (${detail.join(' ')})`;
  });
  const totals = Object.entries(r.totals)
    .sort((a, b) => b[1] - a[1])
    .map(([name, points]) => `${name} ${points}`)
    .join(', ');
  return [
    `tournament (per metric: win 1, draw 0.5, loss 0; lower is better, |j| for jitter):`,
    ...lines,
    `  totals: ${totals}`,
  ].join('\n');
}

/** The target: reactive beats hpa on ≥ 4 of the 6 metrics with no more SLO violations. */
export function reactiveVsHpa(entrants: readonly Entrant[]): string | undefined {
  const reactive = entrants.find((e) => e.name === 'reactive');
  const hpa = entrants.find((e) => e.name === 'hpa');
  if (!reactive || !hpa) return undefined;
  const pair = tournament([reactive, hpa]).pairs[0];
  if (!pair) return undefined;
  const wins = SCORED_METRICS.filter((k) => pair.outcomes[k] === 'a');
  const losses = SCORED_METRICS.filter((k) => pair.outcomes[k] === 'b');
  const sloOk = reactive.metrics.sloViolationSeconds <= hpa.metrics.sloViolationSeconds;
  const met = wins.length >= 4 && sloOk;
  return (
    `target: reactive beats hpa on ≥ 4 of 6 metrics with no more SLO violations — ` +
    `measured: wins ${wins.length} (${wins.join(', ') || 'none'}), losses ${losses.length} (${losses.join(', ') || 'none'}), ` +
    `SLO ${reactive.metrics.sloViolationSeconds.toFixed(0)} s vs ${hpa.metrics.sloViolationSeconds.toFixed(0)} s: ${met ? 'MET' : 'NOT MET'}`
  );
}
