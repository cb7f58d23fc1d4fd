// Turns the orchestrator benchmark's measurements into per-message CPU, ratios and printed tables (pure).
import type { PhaseResult } from './load-generator.ts';
import { fmt, fmtInt, median, table } from './stats.ts';

export type ConfigKey = 'a' | 'h' | 'b' | 'c';

export const CONFIG_LABELS: Record<ConfigKey, string> = {
  a: 'a direct → 1 mosquitto',
  h: 'h haproxy → 1 mosquitto',
  b: 'b orchestrator → 1 mosquitto',
  c: 'c orchestrator → 3 mosquitto',
};

export interface Measurement {
  run: number;
  qos: 0 | 1;
  config: ConfigKey;
  /** CPU counter names of this configuration's Mosquitto replicas. */
  mosquittos: string[];
  /** A proxy (orchestrator or HAProxy) sits in front: its CPU is the `orchestrator` counter. */
  hasOrchestrator: boolean;
  max: PhaseResult;
  /** The half-load phase and the rate it was paced at. */
  halfTargetRate: number;
  half: PhaseResult;
  /**
   * When some configuration could not sustain the half load: a phase paced at the same fraction of
   * the slowest configuration's max rate, for a like-for-like latency comparison.
   */
  commonTargetRate: number | undefined;
  common: PhaseResult | undefined;
  /** Paced at a fixed rate (2,000 msg/s by default): the latency and CPU at a typical load. */
  fixedTargetRate: number | undefined;
  fixed: PhaseResult | undefined;
}

/** A paced phase that delivered less than this share of its target rate could not keep the pace. */
const KEPT_PACE = 0.95;

export function keptPace(result: PhaseResult, target: number): boolean {
  return result.rate >= KEPT_PACE * target;
}

export interface PhaseCpu {
  /** CPU µs per delivered message. */
  generatorUs: number;
  orchestratorUs: number;
  /** Share of the orchestrator's CPU spent in the kernel (system calls, loopback TCP). */
  orchestratorSysShare: number;
  /** All of the configuration's Mosquitto replicas together, and each one. */
  mosquittoUs: number;
  eachMosquittoUs: number[];
  /** Fractions of one core over the window. */
  generatorCores: number;
  orchestratorCores: number;
  mosquittoCores: number;
  /** Busy cores of the whole machine, and what of it the measured processes do not explain. */
  machineCores: number;
  otherCores: number;
}

export function phaseCpu(m: Measurement, phase: PhaseResult): PhaseCpu {
  const cpu = phase.cpuSeconds;
  const per = (s: number): number => (s / phase.delivered) * 1e6;
  const each = m.mosquittos.map((k) => cpu[k] ?? Number.NaN);
  const mosq = each.reduce((a, b) => a + b, 0);
  const gen = cpu.generator ?? Number.NaN;
  const orch = m.hasOrchestrator ? (cpu.orchestrator ?? Number.NaN) : Number.NaN;
  const machine = cpu.machine ?? Number.NaN;
  return {
    generatorUs: per(gen),
    orchestratorUs: per(orch),
    orchestratorSysShare: (cpu['orchestrator-sys'] ?? Number.NaN) / orch,
    mosquittoUs: per(mosq),
    eachMosquittoUs: each.map(per),
    generatorCores: gen / phase.seconds,
    orchestratorCores: orch / phase.seconds,
    mosquittoCores: mosq / phase.seconds,
    machineCores: machine / phase.seconds,
    otherCores: (machine - gen - (Number.isFinite(orch) ? orch : 0) - mosq) / phase.seconds,
  };
}

export interface RunRatios {
  run: number;
  /** Throughput at max rate against direct. */
  throughputBA: number;
  throughputCA: number;
  /** Latency the orchestrator adds at half load, ms. */
  p50AddedBA: number;
  p99AddedBA: number;
  p99AddedCA: number;
  /** b and c kept the half-load pace (else their half-load latency is queueing at saturation). */
  halfKeptB: boolean;
  halfKeptC: boolean;
  /** Latency added at the common load (every configuration below its max), ms; NaN without that phase. */
  p50AddedCommonBA: number;
  p99AddedCommonBA: number;
  p99AddedCommonCA: number;
  /** Orchestrator CPU per message ÷ Mosquitto CPU per message, in b at max rate. */
  orchOverMosqB: number;
  /** HAProxy against direct, and HAProxy's CPU per message ÷ Mosquitto's. */
  throughputHA: number;
  p99AddedHA: number;
  haproxyOverMosqH: number;
  /** At the fixed rate: latency added (b−a, h−a), and CPU per message ÷ Mosquitto's in the same run. */
  p50AddedFixedBA: number;
  p99AddedFixedBA: number;
  p50AddedFixedHA: number;
  p99AddedFixedHA: number;
  orchOverMosqFixedB: number;
}

export function runRatios(ms: readonly Measurement[], qos: 0 | 1): RunRatios[] {
  const runs = [...new Set(ms.filter((m) => m.qos === qos).map((m) => m.run))];
  const out: RunRatios[] = [];
  for (const run of runs) {
    const get = (c: ConfigKey) => ms.find((m) => m.qos === qos && m.run === run && m.config === c);
    const a = get('a');
    const b = get('b');
    const c = get('c');
    const h = get('h');
    const bCpu = b ? phaseCpu(b, b.max) : undefined;
    const hCpu = h ? phaseCpu(h, h.max) : undefined;
    const bFixedCpu = b?.fixed ? phaseCpu(b, b.fixed) : undefined;
    const aFixedCpu = a?.fixed ? phaseCpu(a, a.fixed) : undefined;
    const added = (x: PhaseResult | undefined, y: PhaseResult | undefined, k: 'p50Ms' | 'p99Ms') =>
      (x?.[k] ?? Number.NaN) - (y?.[k] ?? Number.NaN);
    out.push({
      run,
      throughputBA: (b?.max.rate ?? Number.NaN) / (a?.max.rate ?? Number.NaN),
      throughputCA: (c?.max.rate ?? Number.NaN) / (a?.max.rate ?? Number.NaN),
      p50AddedBA: (b?.half.p50Ms ?? Number.NaN) - (a?.half.p50Ms ?? Number.NaN),
      p99AddedBA: (b?.half.p99Ms ?? Number.NaN) - (a?.half.p99Ms ?? Number.NaN),
      p99AddedCA: (c?.half.p99Ms ?? Number.NaN) - (a?.half.p99Ms ?? Number.NaN),
      halfKeptB: b ? keptPace(b.half, b.halfTargetRate) : true,
      halfKeptC: c ? keptPace(c.half, c.halfTargetRate) : true,
      p50AddedCommonBA: (b?.common?.p50Ms ?? Number.NaN) - (a?.common?.p50Ms ?? Number.NaN),
      p99AddedCommonBA: (b?.common?.p99Ms ?? Number.NaN) - (a?.common?.p99Ms ?? Number.NaN),
      p99AddedCommonCA: (c?.common?.p99Ms ?? Number.NaN) - (a?.common?.p99Ms ?? Number.NaN),
      orchOverMosqB: bCpu ? bCpu.orchestratorUs / bCpu.mosquittoUs : Number.NaN,
      throughputHA: (h?.max.rate ?? Number.NaN) / (a?.max.rate ?? Number.NaN),
      p99AddedHA: (h?.half.p99Ms ?? Number.NaN) - (a?.half.p99Ms ?? Number.NaN),
      haproxyOverMosqH: hCpu ? hCpu.orchestratorUs / hCpu.mosquittoUs : Number.NaN,
      p50AddedFixedBA: added(b?.fixed, a?.fixed, 'p50Ms'),
      p99AddedFixedBA: added(b?.fixed, a?.fixed, 'p99Ms'),
      p50AddedFixedHA: added(h?.fixed, a?.fixed, 'p50Ms'),
      p99AddedFixedHA: added(h?.fixed, a?.fixed, 'p99Ms'),
      // Against direct Mosquitto's own CPU per message at the same rate (the issue's "≤ 2× at 2,000 msg/s").
      orchOverMosqFixedB:
        bFixedCpu && aFixedCpu ? bFixedCpu.orchestratorUs / aFixedCpu.mosquittoUs : Number.NaN,
    });
  }
  return out;
}

/** One line while the benchmark runs. */
export function progressLine(m: Measurement, runs: number): string {
  const cpu = phaseCpu(m, m.max);
  const pct = (x: number): string => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : '–');
  return (
    `run ${m.run}/${runs} QoS ${m.qos} ${CONFIG_LABELS[m.config].padEnd(29)} ` +
    `max ${fmtInt(m.max.rate).padStart(7)} msg/s (lost ${m.max.lost}) ` +
    `CPU gen ${pct(cpu.generatorCores)} orch ${pct(cpu.orchestratorCores)} mosq ${pct(cpu.mosquittoCores)} ` +
    `machine ${fmt(cpu.machineCores, 2)} cores | half ${fmtInt(m.half.rate)}/${fmtInt(m.halfTargetRate)} msg/s ` +
    `p50 ${fmt(m.half.p50Ms, 3)} p99 ${fmt(m.half.p99Ms, 3)} ms (lost ${m.half.lost})`
  );
}

/** One line per common-load phase while the benchmark runs. */
export function commonLine(m: Measurement, runs: number): string {
  const r = m.common;
  if (!r) return '';
  const cpu = phaseCpu(m, r);
  return (
    `run ${m.run}/${runs} QoS ${m.qos} ${CONFIG_LABELS[m.config].padEnd(29)} ` +
    `common load ${fmtInt(r.rate)}/${fmtInt(m.commonTargetRate ?? Number.NaN)} msg/s ` +
    `p50 ${fmt(r.p50Ms, 3)} p99 ${fmt(r.p99Ms, 3)} ms (lost ${r.lost}) ` +
    `CPU µs/msg gen ${fmt(cpu.generatorUs, 1)} orch ${fmt(cpu.orchestratorUs, 1)} mosq ${fmt(cpu.mosquittoUs, 1)}`
  );
}

const SATURATED_CORES = 0.9;

const pct = (x: number): string => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : '–');

/** Rows of a paced phase's table (medians over runs); `*` marks a rate short of its target. */
function pacedRows(
  rowsByConfig: ReadonlyArray<readonly Measurement[]>,
  pick: (m: Measurement) => { result: PhaseResult; target: number } | undefined,
): string[][] {
  const out: string[][] = [];
  for (const rows of rowsByConfig) {
    const first = rows[0];
    const phases = rows.flatMap((m) => {
      const p = pick(m);
      return p ? [{ m, ...p, cpu: phaseCpu(m, p.result) }] : [];
    });
    if (!first || phases.length === 0) continue;
    const short = phases.some((p) => !keptPace(p.result, p.target));
    out.push([
      CONFIG_LABELS[first.config],
      fmtInt(median(phases.map((p) => p.target))),
      `${fmtInt(median(phases.map((p) => p.result.rate)))}${short ? '*' : ' '}`,
      fmtInt(median(phases.map((p) => p.result.lost))),
      fmt(median(phases.map((p) => p.result.p50Ms)), 3),
      fmt(median(phases.map((p) => p.result.p99Ms)), 3),
      fmt(median(phases.map((p) => p.cpu.generatorUs)), 1),
      fmt(median(phases.map((p) => p.cpu.orchestratorUs)), 1),
      fmt(median(phases.map((p) => p.cpu.mosquittoUs)), 1),
    ]);
  }
  return out;
}

const PACED_HEADER = [
  'config',
  'target/s',
  'msg/s',
  'lost',
  'p50 ms',
  'p99 ms',
  'gen µs',
  'proxy µs',
  'mosq µs',
];

/** The per-QoS summary: medians over runs for a/b/c, then the ratios per run and their median. */
export function qosSummary(ms: readonly Measurement[], qos: 0 | 1): string {
  const mine = ms.filter((m) => m.qos === qos);
  const runCount = new Set(mine.map((m) => m.run)).size;
  const byConfig = (['a', 'h', 'b', 'c'] as const)
    .map((key) => mine.filter((m) => m.config === key))
    .filter((rows) => rows.length > 0);
  const lines: string[] = [];
  const maxRows: string[][] = [];
  const notes: string[] = [];
  for (const rows of byConfig) {
    const key = rows[0]?.config ?? 'a';
    const cpu = rows.map((m) => phaseCpu(m, m.max));
    const replicas = rows[0]?.mosquittos.length ?? 0;
    const each =
      replicas > 1
        ? Array.from({ length: replicas }, (_, i) =>
            fmt(median(cpu.map((c) => c.eachMosquittoUs[i] ?? Number.NaN)), 1),
          ).join('+')
        : '';
    maxRows.push([
      CONFIG_LABELS[key],
      fmtInt(median(rows.map((m) => m.max.rate))),
      fmtInt(median(rows.map((m) => m.max.lost))),
      fmt(median(cpu.map((c) => c.generatorUs)), 1),
      fmt(median(cpu.map((c) => c.orchestratorUs)), 1),
      fmt(median(cpu.map((c) => c.mosquittoUs)), 1),
      each,
      pct(median(cpu.map((c) => c.generatorCores))),
      pct(median(cpu.map((c) => c.orchestratorCores))),
      pct(median(cpu.map((c) => c.orchestratorSysShare))),
      pct(median(cpu.map((c) => c.mosquittoCores))),
      fmt(median(cpu.map((c) => c.machineCores)), 2),
      fmt(median(cpu.map((c) => c.otherCores)), 2),
    ]);
    const genCores = median(cpu.map((c) => c.generatorCores));
    const orchCores = median(cpu.map((c) => c.orchestratorCores));
    const mosqCores = median(cpu.map((c) => c.mosquittoCores / Math.max(1, replicas)));
    const machine = median(cpu.map((c) => c.machineCores));
    const who: string[] = [];
    if (genCores >= SATURATED_CORES) who.push(`the load generator (${pct(genCores)} of a core)`);
    if (orchCores >= SATURATED_CORES) who.push(`the orchestrator (${pct(orchCores)} of a core)`);
    if (mosqCores >= SATURATED_CORES)
      who.push(`Mosquitto (${pct(mosqCores)} of a core${replicas > 1 ? ' each' : ''})`);
    const busy = machine >= 1.85 ? `; the machine's 2 cores were busy (${fmt(machine, 2)} cores)` : '';
    if (who.length > 0 || busy)
      notes.push(`  ${key}: ${who.length > 0 ? `${who.join(', ')}` : 'no single process'} at ≥90 %${busy}.`);
  }
  lines.push(
    `QoS ${qos}: max rate (medians of ${runCount} run${runCount === 1 ? '' : 's'}; CPU µs per delivered message, ×0.1 = CPU-s per 100k; % of one core; proxy = orchestrator or HAProxy; proxy sys: kernel share of its CPU)`,
  );
  lines.push(
    table(
      [
        'config',
        'msg/s',
        'lost',
        'gen µs',
        'proxy µs',
        'mosq µs',
        '(each)',
        'gen %',
        'proxy %',
        'proxy sys',
        'mosq %',
        'machine',
        'other',
      ],
      maxRows,
    ),
  );
  if (notes.length > 0) lines.push('Saturated at max rate:', ...notes);
  lines.push('');
  lines.push(`QoS ${qos}: half load (paced at ½ of a's max rate of the same run; latency send → delivery)`);
  const halfRows = pacedRows(byConfig, (m) => ({ result: m.half, target: m.halfTargetRate }));
  lines.push(table(PACED_HEADER, halfRows));
  if (halfRows.some((r) => (r[2] ?? '').endsWith('*'))) {
    lines.push(
      "* short of the target in some run: that configuration's max rate is below the half load, so its latency",
      '  there is queueing at saturation (bounded by the window: publishers × window ÷ rate), not per-message delay.',
    );
  }
  const commonRows = pacedRows(byConfig, (m) =>
    m.common && m.commonTargetRate !== undefined
      ? { result: m.common, target: m.commonTargetRate }
      : undefined,
  );
  if (commonRows.length > 0) {
    lines.push('');
    lines.push(
      `QoS ${qos}: common load (paced at ½ of the slowest configuration's max rate, when below half load)`,
    );
    lines.push(table(PACED_HEADER, commonRows));
  }
  const fixedRows = pacedRows(byConfig, (m) =>
    m.fixed && m.fixedTargetRate !== undefined ? { result: m.fixed, target: m.fixedTargetRate } : undefined,
  );
  if (fixedRows.length > 0) {
    lines.push('');
    lines.push(`QoS ${qos}: fixed load (paced at the same rate for every configuration)`);
    lines.push(table(PACED_HEADER, fixedRows));
  }
  const ratios = runRatios(ms, qos);
  const ratioRow = (label: string, pick: (r: RunRatios) => number, digits: number): string[] => [
    label,
    ...ratios.map((r) => fmt(pick(r), digits)),
    fmt(median(ratios.map(pick)), digits),
  ];
  lines.push('');
  lines.push(
    table(
      [`QoS ${qos} ratios`, ...ratios.map((r) => `run ${r.run}`), 'median'],
      [
        ratioRow('throughput b/a (max rate)', (r) => r.throughputBA, 2),
        ratioRow('throughput c/a (max rate)', (r) => r.throughputCA, 2),
        ratioRow('p50 added b−a, ms (half load)', (r) => r.p50AddedBA, 3),
        ratioRow('p99 added b−a, ms (half load)', (r) => r.p99AddedBA, 3),
        ratioRow('p99 added c−a, ms (half load)', (r) => r.p99AddedCA, 3),
        ...(ratios.some((r) => Number.isFinite(r.p99AddedCommonBA))
          ? [
              ratioRow('p50 added b−a, ms (common load)', (r) => r.p50AddedCommonBA, 3),
              ratioRow('p99 added b−a, ms (common load)', (r) => r.p99AddedCommonBA, 3),
              ratioRow('p99 added c−a, ms (common load)', (r) => r.p99AddedCommonCA, 3),
            ]
          : []),
        ratioRow('orch µs/msg ÷ mosq µs/msg (b, max rate)', (r) => r.orchOverMosqB, 2),
        ratioRow('throughput h/a (max rate)', (r) => r.throughputHA, 2),
        ratioRow('p99 added h−a, ms (half load)', (r) => r.p99AddedHA, 3),
        ratioRow('haproxy µs/msg ÷ mosq µs/msg (h, max rate)', (r) => r.haproxyOverMosqH, 2),
        ratioRow('p50 added b−a, ms (fixed load)', (r) => r.p50AddedFixedBA, 3),
        ratioRow('p99 added b−a, ms (fixed load)', (r) => r.p99AddedFixedBA, 3),
        ratioRow('p50 added h−a, ms (fixed load)', (r) => r.p50AddedFixedHA, 3),
        ratioRow('p99 added h−a, ms (fixed load)', (r) => r.p99AddedFixedHA, 3),
        ratioRow('orch µs/msg (b) ÷ mosq µs/msg (a), fixed load', (r) => r.orchOverMosqFixedB, 2),
      ],
    ),
  );
  const unkept = ratios.filter((r) => !r.halfKeptB || !r.halfKeptC);
  if (unkept.length > 0) {
    lines.push(
      `(half load not sustained by ${[...new Set(unkept.flatMap((r) => [...(r.halfKeptB ? [] : ['b']), ...(r.halfKeptC ? [] : ['c'])]))].join(' and ')} ` +
        `in ${unkept.length} of ${ratios.length} run(s): its "added" half-load latency is saturation queueing)`,
    );
  }
  return lines.join('\n');
}
