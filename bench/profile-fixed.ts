// Where the orchestrator's time goes at a fixed rate (issue #12's 2,000 msg/s workload): one Mosquitto,
// one orchestrator started with --cpu-prof, 20 publishers / 20 subscribers paced at --rate for
// --seconds per QoS; prints the orchestrator's CPU per delivered message, Mosquitto's, and the top
// functions by self time of the measured window. The orchestrator's pid is printed before each phase
// so `strace -c -f -p PID` can count its syscalls alongside.
//
// `npm run bench:profile-fixed -- [--rate 2000 (0: full rate)] [--seconds 20] [--qos 0,1] [--top 30]
//   [--orchestrator-root DIR] [--keep DIR (keep the .cpuprofile files there)] [--no-profile]
//   [--node-args='--flag ...' (extra node flags for the orchestrator)]
//   [--direct (first the same load straight to Mosquitto, for the added latency)]
//   [--max-first S (the same clients first run S s at full rate, as bench:orchestrator's fixed phase
//   follows its max-rate and half-load phases on one process)]
//   [--v5-properties (MQTT 5 clients, every publish with a content type, an expiry and two user
//   properties: bench-client.ts V5_PUBLISH_PROPERTIES)]
//   [--heap (V8's sampling heap profiler over the measured window: bytes the orchestrator allocated
//   per delivered message, collected objects included, and the top functions; lib/heap-sampler.ts)]`
import { copyFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs, nodeFlags } from './lib/bench-args.ts';
import { startBenchProvider } from './lib/bench-provider.ts';
import { formatTopSelfTime, largestProfile, readCpuProfile, topSelfTime } from './lib/cpu-profile.ts';
import { benchTempDir } from './lib/exit-cleanup.ts';
import { freeLoopbackPort, HeapSampler, topAllocators } from './lib/heap-sampler.ts';
import { issue12Load, LoadGenerator, type PhaseResult } from './lib/load-generator.ts';
import { processCpuSeconds, processSysSeconds, startOrchestratorChild } from './lib/processes.ts';

const values = benchArgs(
  'bench:profile-fixed',
  "Where the orchestrator's time goes at a fixed rate (--rate 0: full rate): CPU per message and a CPU (or --heap) profile.",
  {
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '20' },
    qos: { type: 'string', default: '0,1' },
    top: { type: 'string', default: '30' },
    'orchestrator-root': { type: 'string' },
    keep: { type: 'string' },
    'no-profile': { type: 'boolean', default: false },
    'node-args': { type: 'string' },
    direct: { type: 'boolean', default: false },
    'max-first': { type: 'string', default: '0' },
    'v5-properties': { type: 'boolean', default: false },
    heap: { type: 'boolean', default: false },
  },
);
const rate = Number(values.rate);
const measureMs = Number(values.seconds) * 1000;
const top = Number(values.top);
const maxFirstMs = Number(values['max-first']) * 1000;
const qosList = (values.qos ?? '0,1').split(',').map((q) => (q === '1' ? 1 : 0) as 0 | 1);
const protocol = values['v5-properties'] ? 5 : 4;
const repoRoot = values['orchestrator-root'] ?? fileURLToPath(new URL('..', import.meta.url));

const provider = await startBenchProvider('bench-prof', '127.45');
/** One paced phase of the 20/20 load against `port`; `cpu` reads the processes of interest. */
async function runLoad(
  host: string,
  port: number,
  qos: 0 | 1,
  prefix: string,
  cpu: () => Record<string, number>,
): Promise<PhaseResult> {
  const load = await LoadGenerator.connect(
    { host, port },
    issue12Load(qos, `${prefix}${process.pid}q${qos}`, { maxSamples: 2_000_000, protocol }),
  );
  try {
    if (maxFirstMs > 0) {
      const m = await load.runPhase({
        rate: undefined,
        warmupMs: 1000,
        measureMs: maxFirstMs,
        maxMessages: 100_000_000,
        drainTimeoutMs: 3000,
        cpu,
      });
      console.log(
        `  first at full rate: ${m.rate.toFixed(0)} msg/s for ${maxFirstMs / 1000} s, lost ${m.lost}`,
      );
    }
    return await load.runPhase({
      rate: rate > 0 ? rate : undefined,
      warmupMs: 2000,
      measureMs,
      maxMessages: 100_000_000,
      drainTimeoutMs: 3000,
      cpu,
    });
  } finally {
    await load.close();
  }
}

function latency(r: PhaseResult): string {
  const ms = (x: number) => x.toFixed(3);
  return `p50 ${ms(r.p50Ms)} ms, p99 ${ms(r.p99Ms)} ms (p90 ${ms(r.p90Ms)}, p99.9 ${ms(r.p999Ms)}, max ${ms(r.maxMs)})`;
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

try {
  const created = await provider.create('broker', 'mosquitto');
  const broker = await provider.waitReady(created.id, 30_000);
  const mosqPid = provider.details(broker.id)?.pid ?? -1;
  console.log(
    protocol === 5
      ? 'load: MQTT 5 clients, every publish with a property block (V5_PUBLISH_PROPERTIES)'
      : 'load: MQTT 3.1.1 clients',
  );
  for (const qos of qosList) {
    if (values.direct) {
      const r = await runLoad(broker.host, broker.port, qos, 'profd', () => ({
        mosq: processCpuSeconds(mosqPid),
      }));
      const us = ((r.cpuSeconds.mosq ?? Number.NaN) / r.delivered) * 1e6;
      console.log(
        `QoS ${qos} direct: ${r.rate.toFixed(0)} msg/s delivered, lost ${r.lost}, ${latency(r)}; ` +
          `CPU per message: mosquitto ${us.toFixed(1)} µs (load average ${load()})`,
      );
    }
    const { dir, remove } = benchTempDir(`brokel-prof-${process.pid}-`);
    const spawnedAt = performance.now();
    const inspectPort = values.heap ? await freeLoopbackPort() : 0;
    const orch = await startOrchestratorChild({
      repoRoot,
      brokerUrls: [broker.url],
      readyTimeoutMs: 30_000,
      nodeArgs: [
        ...(values['no-profile'] ? [] : ['--cpu-prof', '--cpu-prof-dir', dir]),
        ...(values.heap ? [`--inspect=127.0.0.1:${inspectPort}`] : []),
        ...nodeFlags(values['node-args']),
      ],
    });
    let fromMs = 0;
    const sampler = values.heap ? await HeapSampler.attach(inspectPort) : undefined;
    let sampling = false;
    let sampled: ReturnType<HeapSampler['stop']> | undefined;
    try {
      console.log(`QoS ${qos}: orchestrator pid ${orch.pid}, mosquitto pid ${mosqPid}; warm-up 2 s`);
      const r = await runLoad('127.0.0.1', orch.port, qos, 'prof', () => {
        fromMs = performance.now() - spawnedAt;
        // Called at the start and at the end of the measured window.
        if (sampler && !sampling) {
          sampling = true;
          void sampler.start(); // synchronous here: its request leaves now
        } else if (sampler) sampled = sampler.stop();
        return {
          orch: processCpuSeconds(orch.pid),
          orchSys: processSysSeconds(orch.pid),
          mosq: processCpuSeconds(mosqPid),
        };
      });
      const us = (k: string) => (((r.cpuSeconds[k] ?? Number.NaN) / r.delivered) * 1e6).toFixed(1);
      console.log(
        `QoS ${qos}: ${r.rate.toFixed(0)} msg/s delivered, lost ${r.lost}, ${latency(r)}; CPU per message: ` +
          `orchestrator ${us('orch')} µs (sys ${us('orchSys')}), mosquitto ${us('mosq')} µs (load average ${load()})`,
      );
      if (sampled) {
        const { total, rows } = topAllocators(await sampled, top);
        console.log(
          `QoS ${qos}: the orchestrator allocated ${(total / r.delivered).toFixed(0)} bytes per delivered message ` +
            `(sampled, collected objects included); by function (callees it inlined included):`,
        );
        for (const row of rows) console.log(`  ${(row.share * 100).toFixed(1).padStart(5)} %  ${row.name}`);
      }
    } finally {
      sampler?.close();
      await orch.stop();
    }
    const file = largestProfile(dir);
    if (file) {
      // fromMs was last set at the end of the window; the window is the measureMs before it.
      const rows = topSelfTime(readCpuProfile(file), top, (fromMs - measureMs) * 1000);
      console.log(formatTopSelfTime(rows));
      if (values.keep) copyFileSync(file, join(values.keep, `fixed-q${qos}-${Date.now()}.cpuprofile`));
    }
    remove();
  }
} finally {
  await provider.stop();
}
