/**
 * Issue #12's targets beside what a `bench:orchestrator` run measured, pure: the medians of the run's
 * per-run ratios (report.ts, runRatios) in, one verdict per target out, and the lines that print them.
 * A target whose figure the run did not measure (a configuration left out, no fixed phase) says so; a
 * comparison with HAProxy is made only when HAProxy ran.
 */
import { table } from './stats.ts';

/** The medians a run's summary holds per QoS (orchestrator.ts: `summary.qos0.median`). */
export type RatioMedians = Readonly<Record<string, number>>;

export interface TargetVerdict {
  qos: 0 | 1;
  what: string;
  /** The target as printed, e.g. "≥ ×0.90, not below HAProxy's". */
  target: string;
  /** The measured median, formatted; "–" when not measured. */
  measured: string;
  /** HAProxy's figure for the same target, formatted, when HAProxy ran and has one. */
  haproxy?: string;
  state: 'met' | 'missed' | 'not measured';
  /** How far from the limit a missed target is, formatted in its unit. */
  by?: string;
}

/** The rate issue #12's low-rate targets are stated at. */
export const TARGET_FIXED_RATE = 2000;

const THROUGHPUT_MIN: Record<0 | 1, number> = { 0: 0.7, 1: 0.9 };
const CPU_FULL_MAX = 1;
const CPU_FIXED_MAX = 2;
const P50_ADDED_MAX_MS = 0.2;
const P99_ADDED_MAX_MS = 2;

const known = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x);

/** At most `max` (a CPU ratio or an added latency). */
function atMost(
  qos: 0 | 1,
  what: string,
  value: number | undefined,
  max: number,
  format: (x: number) => string,
  haproxy: number | undefined,
): TargetVerdict {
  const base = {
    qos,
    what,
    target: `≤ ${format(max)}`,
    ...(known(haproxy) ? { haproxy: format(haproxy) } : {}),
  };
  if (!known(value)) return { ...base, measured: '–', state: 'not measured' };
  if (value <= max) return { ...base, measured: format(value), state: 'met' };
  return { ...base, measured: format(value), state: 'missed', by: format(value - max).replace(/^\+/, '') };
}

const ratio = (x: number) => x.toFixed(2);
const times = (x: number) => `×${x.toFixed(2)}`;
const ms = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(3)} ms`;

/** Throughput ÷ direct at full rate: at least the floor, and not below HAProxy's when it ran. */
function throughput(qos: 0 | 1, m: RatioMedians): TargetVerdict {
  const floor = THROUGHPUT_MIN[qos];
  const value = m.throughputBA;
  const haproxy = m.throughputHA;
  const base = {
    qos,
    what: 'throughput ÷ direct, full rate',
    target: `≥ ${times(floor)}, not below HAProxy's`,
    ...(known(haproxy) ? { haproxy: times(haproxy) } : {}),
  };
  if (!known(value)) return { ...base, measured: '–', state: 'not measured' };
  const limit = known(haproxy) ? Math.max(floor, haproxy) : floor;
  if (value >= limit) return { ...base, measured: times(value), state: 'met' };
  return { ...base, measured: times(value), state: 'missed', by: (limit - value).toFixed(2) };
}

/** Every data-plane target of issue #12 the main bench measures, per QoS, in the order. */
export function targetVerdicts(
  medians: ReadonlyArray<{ qos: 0 | 1; median: RatioMedians }>,
): TargetVerdict[] {
  const out: TargetVerdict[] = [];
  for (const { qos, median: m } of medians) {
    out.push(
      atMost(
        qos,
        'CPU per message ÷ Mosquitto, full rate',
        m.orchOverMosqB,
        CPU_FULL_MAX,
        ratio,
        m.haproxyOverMosqH,
      ),
      atMost(
        qos,
        'CPU per message ÷ Mosquitto, fixed rate',
        m.orchOverMosqFixedB,
        CPU_FIXED_MAX,
        ratio,
        undefined,
      ),
      throughput(qos, m),
      atMost(
        qos,
        'added latency p50, fixed rate',
        m.p50AddedFixedBA,
        P50_ADDED_MAX_MS,
        ms,
        m.p50AddedFixedHA,
      ),
      atMost(
        qos,
        'added latency p99, fixed rate',
        m.p99AddedFixedBA,
        P99_ADDED_MAX_MS,
        ms,
        m.p99AddedFixedHA,
      ),
    );
  }
  return out;
}

/** The verdicts as a table, headed with the runs and the fixed rate they were read at. */
export function renderTargets(verdicts: readonly TargetVerdict[], runs: number, fixedRate: number): string {
  const rateNote =
    fixedRate === TARGET_FIXED_RATE
      ? `fixed rate ${fixedRate.toLocaleString('en-US')} msg/s`
      : fixedRate > 0
        ? `fixed rate ${fixedRate.toLocaleString('en-US')} msg/s (the targets are stated at ${TARGET_FIXED_RATE.toLocaleString('en-US')})`
        : 'no fixed-rate phase';
  const rows = verdicts.map((v) => [
    `QoS ${v.qos} ${v.what}`,
    v.target,
    v.measured,
    v.haproxy ?? '–',
    v.state === 'missed' ? `MISSED by ${v.by}` : v.state,
  ]);
  const header = ['issue #12 target', 'target', `median of ${runs}`, 'HAProxy', 'state'];
  const count = (state: TargetVerdict['state']) => verdicts.filter((v) => v.state === state).length;
  const unmeasured = count('not measured');
  return [
    `Issue #12's targets (medians of the per-run ratios; ${rateNote}):`,
    table(header, rows),
    `${count('met')} met, ${count('missed')} missed` +
      (unmeasured > 0 ? ', some not measured (a configuration or phase left out)' : ''),
  ].join('\n');
}
