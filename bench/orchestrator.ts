// What the orchestrator costs: (a) clients direct to one Mosquitto, (h) through HAProxy in `mode tcp`
// to it (the reference a TCP proxy sets), (b) through one orchestrator to it, (c) through one
// orchestrator to three. Taxi-like 100-byte messages, 20 publishers / 20 subscribers,
// each message delivered to exactly one subscriber; QoS 0 and 1. Per configuration: throughput at max
// rate, p50/p99 at half load and at a fixed 2,000 msg/s, CPU per message of every process; then a
// CPU profile of the orchestrator at full-rate QoS 1 (top 15 functions by self time). Runs interleave (a b c a b c …) since
// throughput drifts on this machine; ratios are per run, then their median.
//
// When b or c cannot sustain the half load, a second pass (a b c again) paces all three at the same
// fraction of the slowest one's max rate ("common load"), so the latency the orchestrator adds is also
// measured below saturation.
//
// `npm run bench:orchestrator [-- flags]`; results also go to bench/results/orchestrator-<time>.json.
//   --runs N (3)  --publishers N (20)  --subscribers N (20)  --payload BYTES (100)  --qos 0,1
//   --configs a,h,b,c  --fixed-rate N (2000 msg/s; 0: no fixed phase)  --fixed-seconds S (3)
//   --profile-seconds S (4; 0: no QoS 1 profile)
//   --scale-clients N|auto (auto: per routing, as many as the orchestrator's open-file limit allows, in
//     steps of 500: 4,500 round-robin, 8,500 client-affinity at 20,000 files; 0: no connection-scale run)
//   --scale-workers N (4)  --scale-seconds S (10)
//   --scale-routing R,R (round-robin,client-affinity: one connection-scale run per routing)
//   --scale-marginal (each routing also at half the clients, first: prints the RSS per added client)
//   --scale-settle-seconds S (0; also the RSS per client S seconds after connecting, before publishing)
//   --scale-idle-seconds S (15; also the idle RSS S seconds after the orchestrator was ready, once V8's
//     memory reducer shrank what start-up grew; 0: not read)
//   --scale-only (only the connection-scale runs: no throughput, latency or profile phases)
//   --scale-heap-snapshots DIR (heap snapshots of the connection-scale orchestrator, idle, connected and
//     half-way through publishing: prints the live JS heap per client by constructor, connected and
//     publishing; each snapshot pauses it for seconds)
//   --window N (100 messages in flight per publisher at max rate)
//   --warmup-seconds S (1)  --max-seconds S (4)  --half-seconds S (2.5)  --max-messages N (per phase)
//   --half-fraction F (0.5)  --quick (one short run, for development)
//   --profile-orchestrator DIR (V8 CPU profiles of the orchestrators, written when they stop)
//   --orchestrator-node-args='--flag ...' (extra node flags for the orchestrator processes)
//   --orchestrator-env='NAME=VALUE ...' (their environment over a replica's own, ORCHESTRATOR_ENV;
//     NAME= leaves it unset)
//   --orchestrator-root DIR (run the orchestrators from another checkout: A/B against older code)
//   --baseline-root DIR (config c becomes an orchestrator from DIR → 1 mosquitto: an interleaved A/B of
//     this checkout's orchestrator (b) against DIR's (c) in one run; read the c/a rows beside b/a)
//   --baseline-node-args='--flag ...' (with --baseline-root: node flags for c only, after
//     --orchestrator-node-args; `--baseline-root .` then A/Bs a flag against the same code)
//   --baseline-env='NAME=VALUE ...' (with --baseline-root: config c's environment, over
//     --orchestrator-env; `--baseline-root . --baseline-env='MALLOC_MMAP_THRESHOLD_= MALLOC_TOP_PAD_='`
//     A/Bs the replica's malloc settings)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isRoutingStrategy } from '../common/admin/contract.ts';
import { benchArgs, envAssignments, nodeFlags, num } from './lib/bench-args.ts';
import { PAYLOAD_HEADER_BYTES, type Target } from './lib/bench-client.ts';
import { startBenchProvider } from './lib/bench-provider.ts';
import { connectionScale, marginalRssKb, scaleSummary } from './lib/connection-scale.ts';
import { atBenchExit } from './lib/exit-cleanup.ts';
import { startHaproxy } from './lib/haproxy.ts';
import { LoadGenerator, type PhaseResult } from './lib/load-generator.ts';
import {
  machineBusySeconds,
  processCpuSeconds,
  processSysSeconds,
  selfCpuSeconds,
  startOrchestratorChild,
} from './lib/processes.ts';
import { profileQos1 } from './lib/profile-qos1.ts';
import {
  CONFIG_LABELS,
  type ConfigKey,
  commonLine,
  keptPace,
  type Measurement,
  progressLine,
  qosSummary,
  runRatios,
} from './lib/report.ts';
import { clientsForFileLimit, hardFileLimit } from './lib/scale-size.ts';
import { median } from './lib/stats.ts';
import { renderTargets, targetVerdicts } from './lib/targets.ts';

const values = benchArgs(
  'bench:orchestrator',
  'Issue #12: direct Mosquitto, HAProxy, one orchestrator (b) and over three brokers (c), interleaved; ratios, then a connection-scale run.',
  {
    runs: { type: 'string' },
    publishers: { type: 'string', default: '20' },
    subscribers: { type: 'string', default: '20' },
    payload: { type: 'string', default: '100' },
    qos: { type: 'string', default: '0,1' },
    configs: { type: 'string', default: 'a,h,b,c' },
    'fixed-rate': { type: 'string', default: '2000' },
    'fixed-seconds': { type: 'string' },
    'profile-seconds': { type: 'string' },
    'scale-clients': { type: 'string' },
    'scale-workers': { type: 'string', default: '4' },
    'scale-seconds': { type: 'string' },
    'scale-routing': { type: 'string', default: 'round-robin,client-affinity' },
    'scale-only': { type: 'boolean', default: false },
    'scale-marginal': { type: 'boolean', default: false },
    'scale-settle-seconds': { type: 'string' },
    'scale-idle-seconds': { type: 'string' },
    'scale-heap-snapshots': { type: 'string' },
    window: { type: 'string', default: '100' },
    'warmup-seconds': { type: 'string' },
    'max-seconds': { type: 'string' },
    'half-seconds': { type: 'string' },
    'max-messages': { type: 'string', default: '3000000' },
    'half-fraction': { type: 'string', default: '0.5' },
    'profile-orchestrator': { type: 'string' },
    'orchestrator-node-args': { type: 'string' },
    'orchestrator-env': { type: 'string' },
    'orchestrator-root': { type: 'string' },
    'baseline-root': { type: 'string' },
    'baseline-node-args': { type: 'string' },
    'baseline-env': { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
);

const quick = values.quick ?? false;
const scaleClientsArg = values['scale-clients'] ?? (quick ? '300' : 'auto');
const settings = {
  runs: num('runs', values.runs ?? (quick ? '1' : '3'), 1, 50),
  publishers: num('publishers', values.publishers, 1, 1000),
  subscribers: num('subscribers', values.subscribers, 1, 999),
  payloadBytes: num('payload', values.payload, PAYLOAD_HEADER_BYTES, 100_000),
  qos: (values.qos ?? '').split(',').map((q) => num('qos', q, 0, 1) as 0 | 1),
  configs: (values.configs ?? '').split(',').map((c): ConfigKey => {
    if (c === 'a' || c === 'h' || c === 'b' || c === 'c') return c;
    throw new Error(`--configs: ${JSON.stringify(c)} is not one of a, h, b, c`);
  }),
  windowPerPublisher: num('window', values.window, 1, 10_000),
  warmupMs: num('warmup-seconds', values['warmup-seconds'] ?? (quick ? '0.5' : '1'), 0, 60) * 1000,
  maxMs: num('max-seconds', values['max-seconds'] ?? (quick ? '1.5' : '4'), 0.1, 120) * 1000,
  halfMs: num('half-seconds', values['half-seconds'] ?? (quick ? '1' : '2.5'), 0.1, 120) * 1000,
  maxMessages: num('max-messages', values['max-messages'], 1000, 100_000_000),
  halfFraction: num('half-fraction', values['half-fraction'], 0.01, 1),
  fixedRate: num('fixed-rate', values['fixed-rate'], 0, 1_000_000),
  fixedMs: num('fixed-seconds', values['fixed-seconds'] ?? (quick ? '1' : '3'), 0.1, 120) * 1000,
  scaleClients:
    scaleClientsArg === 'auto' ? ('auto' as const) : num('scale-clients', scaleClientsArg, 0, 100_000),
  scaleWorkers: num('scale-workers', values['scale-workers'], 1, 64),
  scaleMs: num('scale-seconds', values['scale-seconds'] ?? (quick ? '3' : '10'), 1, 600) * 1000,
  scaleRouting: (values['scale-routing'] ?? '').split(',').map((r) => {
    if (!isRoutingStrategy(r))
      throw new Error(`--scale-routing: ${JSON.stringify(r)} is not a routing strategy`);
    return r;
  }),
  scaleOnly: values['scale-only'] ?? false,
  scaleMarginal: values['scale-marginal'] ?? false,
  scaleSettleMs: num('scale-settle-seconds', values['scale-settle-seconds'] ?? '0', 0, 600) * 1000,
  scaleIdleSettleMs: num('scale-idle-seconds', values['scale-idle-seconds'] ?? '15', 0, 600) * 1000,
  scaleHeapSnapshotDir: values['scale-heap-snapshots'],
  profileMs: num('profile-seconds', values['profile-seconds'] ?? (quick ? '1.5' : '4'), 0, 120) * 1000,
  profileDir: values['profile-orchestrator'],
  orchestratorNodeArgs: nodeFlags(values['orchestrator-node-args']),
  orchestratorEnv: envAssignments('orchestrator-env', values['orchestrator-env']),
  orchestratorRoot: values['orchestrator-root'],
  baselineRoot: values['baseline-root'],
  baselineNodeArgs: nodeFlags(values['baseline-node-args']),
  baselineEnv: envAssignments('baseline-env', values['baseline-env']),
  quick,
};
const scaleRuns = settings.scaleClients !== 0;
if (settings.scaleOnly && !scaleRuns) throw new Error('--scale-only with --scale-clients 0');
if (settings.baselineNodeArgs.length > 0 && settings.baselineRoot === undefined)
  throw new Error("--baseline-node-args without --baseline-root (they are config c's flags)");
if (Object.keys(settings.baselineEnv).length > 0 && settings.baselineRoot === undefined)
  throw new Error("--baseline-env without --baseline-root (it is config c's environment)");
if (!settings.configs.includes('a'))
  throw new Error('--configs must include a (the half-load rate and the ratios come from it)');

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
/** Mosquitto replicas: three when c or the connection scale is measured (a, h and b use the first). */
const BROKERS = (settings.configs.includes('c') && settings.baselineRoot === undefined) || scaleRuns ? 3 : 1;
if (settings.baselineRoot !== undefined)
  CONFIG_LABELS.c = `c baseline orch${settings.baselineNodeArgs.length > 0 ? ` (${settings.baselineNodeArgs.join(' ')})` : ''} → 1 mosquitto`;
const DRAIN_TIMEOUT_MS = 3000;

/**
 * The open-file limit the connection-scale orchestrator runs under: this process's hard limit (a child
 * inherits it, and Node raises its soft limit to it), at most 20,000 (this machine's; a larger one
 * would ask for more clients than the load generators here can hold).
 */
function scaleFileLimit(): number {
  return Math.min(hardFileLimit(readFileSync('/proc/self/limits', 'utf8')) ?? 20_000, 20_000);
}

const provider = await startBenchProvider('bench-orch', '127.44');
const children: Array<{ stop(): Promise<void> }> = [];
let cleaning: Promise<void> | undefined;
const cleanup = (): Promise<void> => {
  cleaning ??= (async () => {
    await Promise.allSettled(children.map((c) => c.stop()));
    await provider.stop();
  })();
  return cleaning;
};
// Whatever ends this process, the replicas and the orchestrators go with it (exit-cleanup.ts).
atBenchExit(cleanup);

const measurements: Measurement[] = [];
const startedAt = new Date();
try {
  const mosquittos: { url: string; target: Target; pid: number }[] = [];
  for (let i = 0; i < BROKERS; i++) {
    const created = await provider.create('broker', 'mosquitto');
    const r = await provider.waitReady(created.id, 30_000);
    const pid = provider.details(r.id)?.pid;
    if (pid === undefined) throw new Error(`no pid for ${r.id}`);
    mosquittos.push({ url: r.url, target: { host: r.host, port: r.port }, pid });
  }
  const nodeArgs = [
    ...(settings.profileDir ? ['--cpu-prof', '--cpu-prof-dir', settings.profileDir] : []),
    ...settings.orchestratorNodeArgs,
  ];
  const start = (
    urls: string[],
    root = settings.orchestratorRoot ?? repoRoot,
    extraNodeArgs: string[] = [],
    extraEnv: Record<string, string> = {},
  ) =>
    startOrchestratorChild({
      repoRoot: root,
      brokerUrls: urls,
      readyTimeoutMs: 30_000,
      nodeArgs: [...nodeArgs, ...extraNodeArgs],
      env: { ...settings.orchestratorEnv, ...extraEnv },
    }).then((c) => {
      children.push(c);
      return c;
    });
  const first = mosquittos[0];
  if (!first) throw new Error('no broker');
  // Two long-lived orchestrators (warm, as in production); each is idle while the other is measured.
  // --scale-only: none of a, h, b, c is measured, so none of their proxies is started.
  const compared = settings.scaleOnly ? [] : settings.configs;
  const orchB = compared.includes('b') ? await start([first.url]) : undefined;
  const orchC = !compared.includes('c')
    ? undefined
    : settings.baselineRoot !== undefined
      ? await start([first.url], settings.baselineRoot, settings.baselineNodeArgs, settings.baselineEnv)
      : await start(mosquittos.map((m) => m.url));
  const haproxy = compared.includes('h') ? await startHaproxy(first.target, 10_000) : undefined;
  if (haproxy) children.push(haproxy);
  // `orch` is the proxy in front (an orchestrator, or HAProxy): its CPU is the `orchestrator` counter.
  const setups: Record<ConfigKey, { target: Target; orch: { pid: number } | undefined; replicas: number }> = {
    a: { target: first.target, orch: undefined, replicas: 1 },
    h: { target: { host: '127.0.0.1', port: haproxy?.port ?? 0 }, orch: haproxy, replicas: 1 },
    b: { target: { host: '127.0.0.1', port: orchB?.port ?? 0 }, orch: orchB, replicas: 1 },
    c: {
      target: { host: '127.0.0.1', port: orchC?.port ?? 0 },
      orch: orchC,
      replicas: settings.baselineRoot !== undefined ? 1 : BROKERS,
    },
  };

  console.log(
    `bench:orchestrator: ${settings.publishers} publishers / ${settings.subscribers} subscribers, ` +
      `${settings.payloadBytes}-byte payloads, QoS ${settings.qos.join(',')}, ${settings.runs} run(s) of ` +
      `${settings.configs.join(' ')}; max rate ${settings.maxMs / 1000} s + half load ${settings.halfMs / 1000} s ` +
      `each (after ${settings.warmupMs / 1000} s warm-up); window ${settings.windowPerPublisher}/publisher; ` +
      `${availableParallelism()} cores, load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  console.log(
    `  mosquitto ${mosquittos.map((m) => `${m.url} (pid ${m.pid})`).join(', ')}; ` +
      `orchestrator b pid ${orchB?.pid ?? '–'} port ${orchB?.port ?? '–'}, c pid ${orchC?.pid ?? '–'} port ${orchC?.port ?? '–'}, ` +
      `haproxy pid ${haproxy?.pid ?? '–'} port ${haproxy?.port ?? '–'}`,
  );

  const cpuOf = (orch: { pid: number } | undefined) => (): Record<string, number> => {
    const out: Record<string, number> = {
      generator: selfCpuSeconds(),
      orchestrator: orch ? processCpuSeconds(orch.pid) : Number.NaN,
      'orchestrator-sys': orch ? processSysSeconds(orch.pid) : Number.NaN,
      machine: machineBusySeconds(),
    };
    mosquittos.forEach((m, i) => {
      out[`mosquitto-${i + 1}`] = processCpuSeconds(m.pid);
    });
    return out;
  };
  /** Connects a fresh set of clients to one configuration, runs `phases` in order, disconnects. */
  const measure = async (
    target: { target: Target; orch: { pid: number } | undefined },
    qos: 0 | 1,
    tag: string,
    phases: ReadonlyArray<{ rate: (previous: PhaseResult[]) => number | undefined; measureMs: number }>,
  ): Promise<PhaseResult[]> => {
    const setup = target;
    const load = await LoadGenerator.connect(setup.target, {
      publishers: settings.publishers,
      subscribers: settings.subscribers,
      payloadBytes: settings.payloadBytes,
      qos,
      windowPerPublisher: settings.windowPerPublisher,
      maxSamples: 2_000_000,
      clientIdPrefix: `bench${process.pid}-${tag}`,
      connectTimeoutMs: 10_000,
    });
    try {
      const results: PhaseResult[] = [];
      for (const phase of phases) {
        results.push(
          await load.runPhase({
            rate: phase.rate(results),
            warmupMs: settings.warmupMs,
            measureMs: phase.measureMs,
            maxMessages: settings.maxMessages,
            drainTimeoutMs: DRAIN_TIMEOUT_MS,
            cpu: cpuOf(setup.orch),
          }),
        );
      }
      return results;
    } finally {
      await load.close();
    }
  };

  for (let run = 1; compared.length > 0 && run <= settings.runs; run++) {
    for (const qos of settings.qos) {
      // Pass 1, a b c: max rate, then half load (half of a's max rate, so a is measured first).
      let halfRate = Number.NaN;
      const measured: Measurement[] = [];
      for (const key of settings.configs) {
        const [max, half, fixed] = await measure(setups[key], qos, `r${run}q${qos}${key}`, [
          { rate: () => undefined, measureMs: settings.maxMs },
          {
            rate: ([m]) => {
              if (key === 'a') halfRate = (m?.rate ?? Number.NaN) * settings.halfFraction;
              return halfRate;
            },
            measureMs: settings.halfMs,
          },
          ...(settings.fixedRate > 0
            ? [{ rate: () => settings.fixedRate, measureMs: settings.fixedMs }]
            : []),
        ]);
        if (!max || !half) throw new Error('a phase is missing');
        const m: Measurement = {
          run,
          qos,
          config: key,
          mosquittos: Array.from({ length: setups[key].replicas }, (_, i) => `mosquitto-${i + 1}`),
          hasOrchestrator: setups[key].orch !== undefined,
          max,
          halfTargetRate: halfRate,
          half,
          commonTargetRate: undefined,
          common: undefined,
          fixedTargetRate: fixed ? settings.fixedRate : undefined,
          fixed,
        };
        measured.push(m);
        console.log(progressLine(m, settings.runs));
      }
      // Pass 2, a b c, when some configuration could not sustain the half load: latency at a rate every
      // configuration sustains (the fraction of the slowest one's max rate), so b−a is a like-for-like delay.
      const commonRate = Math.min(...measured.map((m) => m.max.rate)) * settings.halfFraction;
      if (measured.some((m) => !keptPace(m.half, m.halfTargetRate))) {
        for (const m of measured) {
          const [common] = await measure(setups[m.config], qos, `r${run}q${qos}c${m.config}`, [
            { rate: () => commonRate, measureMs: settings.halfMs },
          ]);
          m.commonTargetRate = commonRate;
          m.common = common;
          console.log(commonLine(m, settings.runs));
        }
      }
      measurements.push(...measured);
    }
  }

  console.log('');
  for (const qos of compared.length > 0 ? settings.qos : []) {
    console.log(qosSummary(measurements, qos));
    console.log('');
  }
  if (settings.quick) console.log('(--quick: short phases and one run; numbers are indicative only)');
  const profile =
    settings.profileMs > 0 && settings.qos.includes(1) && !settings.scaleOnly
      ? await profileQos1({
          repoRoot,
          brokerUrl: first.url,
          nodeArgs: settings.orchestratorNodeArgs,
          measureMs: settings.profileMs,
          run: (target, phases) => measure({ target, orch: undefined }, 1, 'prof', phases),
        })
      : undefined;
  if (profile) console.log(`\n${profile}`);
  // One run per routing: a round-robin publisher needs every broker, a client-affinity one its home only.
  const scale: Awaited<ReturnType<typeof connectionScale>>[] = [];
  const marginal: Array<{
    routing: string;
    clients: [number, number];
    connected: number;
    publishing: number;
  }> = [];
  for (const routing of scaleRuns ? settings.scaleRouting : []) {
    const most =
      settings.scaleClients === 'auto'
        ? clientsForFileLimit(scaleFileLimit(), routing, mosquittos.length)
        : settings.scaleClients;
    const counts = settings.scaleMarginal ? [Math.floor(most / 2), most] : [most];
    const runs: Awaited<ReturnType<typeof connectionScale>>[] = [];
    for (const clients of counts) {
      const result = await connectionScale({
        repoRoot,
        brokerUrls: mosquittos.map((m) => m.url),
        clients,
        workers: settings.scaleWorkers,
        publishMs: settings.scaleMs,
        routing,
        nodeArgs: settings.orchestratorNodeArgs,
        env: settings.orchestratorEnv,
        heapSnapshotDir: settings.scaleHeapSnapshotDir,
        settleMs: settings.scaleSettleMs,
        idleSettleMs: settings.scaleIdleSettleMs,
        orchestratorRoot: settings.orchestratorRoot,
      });
      console.log(`\n${scaleSummary(result)}`);
      runs.push(result);
    }
    scale.push(...runs);
    const [small, large] = runs;
    if (small && large) {
      const m = marginalRssKb(small, large);
      marginal.push({ routing, clients: [small.clients, large.clients], ...m });
      console.log(
        `  RSS per added client, ${small.clients} → ${large.clients} clients: +${m.connected.toFixed(1)} KB ` +
          `connected, +${m.publishing.toFixed(1)} KB publishing (target ≤ 16 KB)`,
      );
    }
  }

  const summary = Object.fromEntries(
    settings.qos.map((qos) => {
      const ratios = runRatios(measurements, qos);
      const keys = [
        'throughputBA',
        'throughputCA',
        'p50AddedBA',
        'p99AddedBA',
        'p99AddedCA',
        'p50AddedCommonBA',
        'p99AddedCommonBA',
        'p99AddedCommonCA',
        'orchOverMosqB',
        'throughputHA',
        'p99AddedHA',
        'haproxyOverMosqH',
        'p50AddedFixedBA',
        'p99AddedFixedBA',
        'p50AddedFixedHA',
        'p99AddedFixedHA',
        'orchOverMosqFixedB',
      ] as const;
      return [
        `qos${qos}`,
        { perRun: ratios, median: Object.fromEntries(keys.map((k) => [k, median(ratios.map((r) => r[k]))])) },
      ];
    }),
  );
  const targets = settings.scaleOnly
    ? []
    : targetVerdicts(settings.qos.map((qos) => ({ qos, median: summary[`qos${qos}`]?.median ?? {} })));
  if (targets.length > 0) console.log(`\n${renderTargets(targets, settings.runs, settings.fixedRate)}`);
  const dir = join(repoRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `orchestrator-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        startedAt: startedAt.toISOString(),
        settings,
        machine: { cores: availableParallelism(), loadavg: loadavg(), node: process.version },
        measurements: measurements.map((m) => ({
          ...m,
          cpuSecondsPer100k: {
            max: Object.fromEntries(
              Object.entries(m.max.cpuSeconds).map(([k, v]) => [k, (v / m.max.delivered) * 100_000]),
            ),
            half: Object.fromEntries(
              Object.entries(m.half.cpuSeconds).map(([k, v]) => [k, (v / m.half.delivered) * 100_000]),
            ),
            common: m.common
              ? Object.fromEntries(
                  Object.entries(m.common.cpuSeconds).map(([k, v]) => [
                    k,
                    (v / (m.common?.delivered ?? Number.NaN)) * 100_000,
                  ]),
                )
              : undefined,
          },
        })),
        summary,
        targets,
        profileQos1: profile,
        connectionScale: scale,
        marginalRss: marginal,
      },
      (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
      2,
    )}\n`,
  );
  console.log(`results: ${file}`);
} finally {
  await cleanup();
}
