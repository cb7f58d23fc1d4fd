import { benchArgs } from '../../bench/lib/bench-args.ts';
import { formatReport } from './report.ts';
import { QUICK_SCHEDULE, runChaos } from './run.ts';
import { FAULT_KINDS, type FaultKind } from './schedule.ts';

/**
 * `npm run chaos [-- --seed S --minutes M --rate R --stop-seconds T --faults K,K --quick --out DIR]`
 * (docs/chaos.md):
 * one seeded chaos run; prints the report, writes it as JSON and text; exits 1 when anything was
 * lost (or left unacknowledged, orphaned, or created twice), 2 on bad arguments.
 */
function number(name: string, value: string | undefined, fallback: number, min = Number.MIN_VALUE): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) {
    console.error(`chaos: --${name} ${JSON.stringify(value)} is not a positive number`);
    process.exit(2);
  }
  return n;
}

const values = benchArgs(
  'chaos',
  'Faults (kill, stop, partition, slow) while QoS 1 traffic flows through brokel up; counts lost, duplicated, reordered.',
  {
    seed: { type: 'string' },
    minutes: { type: 'string' },
    rate: { type: 'string' },
    'stop-seconds': { type: 'string' },
    out: { type: 'string' },
    faults: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
);
const kinds = values.faults?.split(',').map((k) => {
  if (!FAULT_KINDS.includes(k as FaultKind)) {
    console.error(`chaos: --faults: ${JSON.stringify(k)} is not one of ${FAULT_KINDS.join(', ')}`);
    process.exit(2);
  }
  return k as FaultKind;
});
const report = await runChaos({
  ...(kinds ? { kinds } : {}),
  ...(values.quick ? { schedule: QUICK_SCHEDULE } : {}),
  seed: Math.floor(number('seed', values.seed, 1, 0)),
  minutes: number('minutes', values.minutes, 2),
  ratePerSecond: number('rate', values.rate, 100),
  stopSeconds: number('stop-seconds', values['stop-seconds'], 50),
  out: values.out,
  log: (line) => console.error(line),
});
process.stdout.write(formatReport(report));
process.exit(report.failures.length === 0 ? 0 : 1);
