// A paired A/B of two orchestrators at a fixed rate, both measured in the same seconds: this checkout's
// (A) and --baseline-root's (B; `--baseline-root .` with --baseline-node-args A/Bs a node flag, and
// with neither flag it is an A/A run that shows the method's own spread). Each orchestrator is in front
// of its own Mosquitto with its own 20 publishers / 20 subscribers paced at --rate; the two loads start
// together, so their measured windows are the same seconds and both see the host's noise of those
// seconds. Sequential runs (bench:orchestrator --baseline-root) spread 10–30 % from one 5 s window to
// the next on this shared host (docs/data-plane.md, "Session 34"), more than a change of a few percent;
// the ratio of two processes measured at once does not carry that drift. Each round starts both
// orchestrators afresh and swaps which Mosquitto each one is in front of, which starts first, and
// whose load paces first in a tick (they take turns: lib/load-generator.ts SharedPacing); the ratios
// are scored in pairs of rounds, one in each order.
//
// With --direct, B is no orchestrator: B's clients connect straight to its Mosquitto, and A ÷ B is
// "orchestrator CPU per message ÷ Mosquitto's own" measured in the same seconds: steady within ±3 %
// where bench:orchestrator's 3 s windows one after the other swing ±15 % with the hour. Two stacks
// busy at once are not one alone, though: it read 12–27 % below issue #12's figure (each alone) on the
// same host (docs/data-plane.md, "Session 37").
//
// `npm run bench:ab -- --baseline-root DIR [--baseline-node-args='--flag …'] [--node-args='--flag …']
//   [--baseline-env='NAME=VALUE …' (B's environment over the replica's own, ORCHESTRATOR_ENV; NAME=
//   leaves it unset: `--baseline-root . --baseline-env='MALLOC_MMAP_THRESHOLD_= MALLOC_TOP_PAD_='`
//   A/Bs the malloc settings)]
//   or `npm run bench:ab -- --direct [--node-args='--flag …']`
//   [--rate 2000 (0: full rate, each publisher keeping 100 messages in flight)] [--seconds 10]
//   [--rounds 6 (even)] [--qos 0,1]
//   [--own-ticks (each load paced by a timer of its own, the first created leading every tick: shows
//   what the arrival pattern does to the CPU per message; not for A/Bs)]`
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchArgs, envAssignments, nodeFlags, num } from './lib/bench-args.ts';
import type { Target } from './lib/bench-client.ts';
import { startBenchProvider } from './lib/bench-provider.ts';
import { issue12Load, LoadGenerator, type PhaseResult, SharedPacing } from './lib/load-generator.ts';
import {
  type OrchestratorChild,
  processCpuSeconds,
  processSwitches,
  startOrchestratorChild,
} from './lib/processes.ts';
import { fmt, median, pairedGeometricMeans, table } from './lib/stats.ts';

const values = benchArgs(
  'bench:ab',
  "Two orchestrators A/B'd at a fixed rate in the same seconds (this checkout against --baseline-root).",
  {
    'baseline-root': { type: 'string' },
    'baseline-node-args': { type: 'string' },
    'node-args': { type: 'string' },
    'baseline-env': { type: 'string' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '6' },
    qos: { type: 'string', default: '0,1' },
    'own-ticks': { type: 'boolean', default: false },
    direct: { type: 'boolean', default: false },
  },
);
const direct = values.direct ?? false;
if (
  direct &&
  (values['baseline-root'] !== undefined ||
    values['baseline-node-args'] !== undefined ||
    values['baseline-env'] !== undefined)
)
  throw new Error(
    'bench:ab: --direct measures against Mosquitto itself: no --baseline-root, --baseline-node-args or --baseline-env',
  );
if (!direct && values['baseline-root'] === undefined)
  throw new Error(
    'bench:ab: --baseline-root DIR is required (`.` for a flag or an A/A run), or --direct to measure against Mosquitto itself',
  );
const rate = num('rate', values.rate, 0, 100_000);
const rateText = rate > 0 ? `${rate} msg/s` : 'full rate';
const measureMs = num('seconds', values.seconds, 1, 600) * 1000;
const rounds = num('rounds', values.rounds, 2, 50);
if (rounds % 2 !== 0)
  throw new Error(`--rounds: ${rounds} is odd (rounds are scored in pairs, one per order)`);
const qosList = (values.qos ?? '').split(',').map((q) => num('qos', q, 0, 1) as 0 | 1);
/** An orchestrator from `root` with `nodeArgs`, or (root undefined) none: clients straight to Mosquitto. */
const sides = [
  {
    key: 'A',
    root: fileURLToPath(new URL('..', import.meta.url)),
    nodeArgs: nodeFlags(values['node-args']),
    env: {},
  },
  {
    key: 'B',
    root: direct ? undefined : values['baseline-root'],
    nodeArgs: [...nodeFlags(values['node-args']), ...nodeFlags(values['baseline-node-args'])],
    env: envAssignments('baseline-env', values['baseline-env']),
  },
] as const;

interface Side {
  /** The orchestrator; undefined on a direct side. */
  orch: OrchestratorChild | undefined;
  /** The process the clients connect to: the orchestrator, or Mosquitto on a direct side. */
  frontPid: number;
  mosqPid: number;
  load: LoadGenerator;
}

interface Measured {
  /** The front process's CPU per delivered message, µs (on a direct side, Mosquitto's). */
  us: number;
  /** The front process's wake-ups (its main thread's voluntary context switches) per delivered message. */
  wakes: number;
  /** Its main thread's preemptions (involuntary context switches) per delivered message. */
  preempted: number;
  mosqUs: number;
  rate: number;
  lost: number;
  p50: number;
}

function measured(r: PhaseResult): Measured {
  const us = (k: string) => ((r.cpuSeconds[k] ?? Number.NaN) / r.delivered) * 1e6;
  const per = (k: string) => (r.cpuSeconds[k] ?? Number.NaN) / r.delivered;
  return {
    us: us('orch'),
    wakes: per('wakes'),
    preempted: per('preempted'),
    mosqUs: us('mosq'),
    rate: r.rate,
    lost: r.lost,
    p50: r.p50Ms,
  };
}

/** Both loads paced together; each phase reads its own orchestrator and Mosquitto at its window's edges. */
async function runTogether(pair: readonly Side[]): Promise<Measured[]> {
  const pacing = values['own-ticks'] ? undefined : new SharedPacing();
  const results = await Promise.all(
    pair.map((s) =>
      s.load.runPhase({
        rate: rate > 0 ? rate : undefined,
        warmupMs: 2000,
        measureMs,
        maxMessages: 100_000_000,
        drainTimeoutMs: 3000,
        pacing,
        // Cumulative counters read at the window's edges: CPU seconds, and the front process's context
        // switches.
        cpu: () => {
          const switches = processSwitches(s.frontPid);
          return {
            orch: processCpuSeconds(s.frontPid),
            mosq: processCpuSeconds(s.mosqPid),
            wakes: switches.voluntary,
            preempted: switches.preempted,
          };
        },
      }),
    ),
  );
  return results.map(measured);
}

const provider = await startBenchProvider('bench-ab', '127.47');
try {
  const brokers = [];
  for (let i = 0; i < 2; i++) {
    const created = await provider.create('broker', 'mosquitto');
    const b = await provider.waitReady(created.id, 30_000);
    brokers.push({
      url: b.url,
      target: { host: b.host, port: b.port },
      pid: provider.details(b.id)?.pid ?? -1,
    });
  }
  const named = (side: (typeof sides)[number]): string => {
    if (side.root === undefined) return 'no orchestrator (clients straight to Mosquitto)';
    const extra = [...side.nodeArgs, ...Object.entries(side.env).map(([k, v]) => `${k}=${v}`)];
    return `${side.root}${extra.length ? ` (${extra.join(' ')})` : ''}`;
  };
  console.log(
    `bench:ab: A ${named(sides[0])} against B ${named(sides[1])}; ` +
      `${rateText} each, at the same time, 20 publishers / 20 subscribers each, ${measureMs / 1000} s ` +
      `windows, ${rounds} rounds; load average ${loadavg()[0]?.toFixed(2)}`,
  );
  for (const qos of qosList) {
    const got: Measured[][] = [];
    for (let round = 0; round < rounds; round++) {
      const started: Side[] = [];
      try {
        // Round by round, A and B swap Mosquittos and which of them starts first.
        const order = round % 2 === 0 ? [0, 1] : [1, 0];
        const bySide: Side[] = [];
        for (const i of order) {
          const side = sides[i] as (typeof sides)[number];
          const broker = brokers[(i + round) % 2] as (typeof brokers)[number];
          const orch =
            side.root === undefined
              ? undefined
              : await startOrchestratorChild({
                  repoRoot: side.root,
                  brokerUrls: [broker.url],
                  readyTimeoutMs: 30_000,
                  nodeArgs: side.nodeArgs,
                  env: side.env,
                });
          const target: Target = orch ? { host: '127.0.0.1', port: orch.port } : broker.target;
          const load = await LoadGenerator.connect(
            target,
            issue12Load(qos, `ab${process.pid}${side.key}${round}q${qos}`),
          ).catch(async (err: unknown) => {
            await orch?.stop();
            throw err;
          });
          const s = { orch, frontPid: orch?.pid ?? broker.pid, mosqPid: broker.pid, load };
          started.push(s);
          bySide[i] = s;
        }
        // Both loads pace on one tick and take turns going first (SharedPacing; with --own-ticks the
        // one whose phase starts first leads); the rounds alternate which starts its phase first and
        // are scored in pairs (below).
        const first = round % 2 === 0 ? bySide : [...bySide].reverse();
        const results = await runTogether(first);
        const [a, b] = round % 2 === 0 ? results : [...results].reverse();
        if (a === undefined || b === undefined) throw new Error('bench:ab: a side did not report');
        got.push([a, b]);
        console.log(
          `QoS ${qos} round ${round + 1}: A ${fmt(a.us, 1)} µs, ${fmt(a.wakes, 2)} wake-ups, ` +
            `${fmt(a.preempted, 3)} preempted (mosquitto ${fmt(a.mosqUs, 1)} µs), B ${fmt(b.us, 1)} µs, ` +
            `${fmt(b.wakes, 2)} wake-ups, ${fmt(b.preempted, 3)} preempted (mosquitto ` +
            `${fmt(b.mosqUs, 1)} µs), A ÷ B ${fmt(a.us / b.us, 3)}; ` +
            `${a.rate.toFixed(0)} / ${b.rate.toFixed(0)} msg/s, lost ${a.lost} / ${b.lost}`,
        );
      } finally {
        for (const s of started) {
          await s.load.close().catch(() => undefined);
          await s.orch?.stop();
        }
      }
    }
    const perRound = got.map(([a, b]) => (a?.us ?? Number.NaN) / (b?.us ?? Number.NaN));
    const ratios = pairedGeometricMeans(perRound);
    const col = (k: keyof Measured, side: 0 | 1) => median(got.map((m) => m[side]?.[k] ?? Number.NaN));
    console.log(`\nQoS ${qos} at ${rateText}, medians of ${rounds} rounds:`);
    console.log(
      table(
        [
          'side',
          direct ? 'front µs/msg (B: Mosquitto direct)' : 'orchestrator µs/msg',
          'its wake-ups/msg',
          'its preemptions/msg',
          'its mosquitto µs/msg',
          'msg/s',
          'p50 ms',
          'lost',
        ],
        ([0, 1] as const).map((i) => [
          sides[i].key,
          fmt(col('us', i), 1),
          fmt(col('wakes', i), 2),
          fmt(col('preempted', i), 3),
          fmt(col('mosqUs', i), 1),
          fmt(col('rate', i), 0),
          fmt(col('p50', i), 3),
          String(got.reduce((n, m) => n + (m[i]?.lost ?? 0), 0)),
        ]),
      ),
    );
    const lower = (xs: readonly number[]) => xs.filter((r) => r < 1).length;
    console.log(
      `A ÷ B per pair of rounds (geometric mean of the two orders): median ${fmt(median(ratios), 3)}, ` +
        `${fmt(Math.min(...ratios), 3)}–${fmt(Math.max(...ratios), 3)}; A lower in ${lower(ratios)} of ` +
        `${ratios.length} pairs, ${lower(perRound)} of ${perRound.length} rounds\n`,
    );
    if (direct)
      console.log(
        `Orchestrator CPU per message ÷ Mosquitto's own (direct), measured in the same seconds: ` +
          `${fmt(median(ratios), 2)}. Steady from round to round, so it shows a change; not issue #12's ` +
          `reading (≤ 2 at 2,000 msg/s): that one measures each alone (bench:orchestrator, ` +
          `bench:node-floor) and read higher in session 37 (docs/data-plane.md)\n`,
      );
  }
} finally {
  await provider.stop();
}
