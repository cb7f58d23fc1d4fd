// What a process in the middle costs at issue #12's 2,000 msg/s (its target: the orchestrator
// at ≤ 2 × Mosquitto's CPU per delivered message). One Mosquitto; in front of it, in turn: nothing
// (direct), HAProxy `mode tcp` (when installed), a Node.js relay that pipes bytes and does nothing
// else (lib/node-relay.ts: the orchestrator's socket handling, no MQTT), and the orchestrator. The same
// 20 publishers / 20 subscribers paced at --rate (0: as fast as a window of 100 messages per publisher
// allows, for throughput), rounds interleaved (the order turns each round),
// medians of CPU µs per delivered message, and the ratios to direct Mosquitto's own.
//
// `npm run bench:node-floor -- [--rate 2000] [--seconds 5] [--rounds 4] [--qos 0,1]`
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchArgs, num } from './lib/bench-args.ts';
import type { Target } from './lib/bench-client.ts';
import { startBenchProvider } from './lib/bench-provider.ts';
import { startHaproxy } from './lib/haproxy.ts';
import { issue12Load, LoadGenerator } from './lib/load-generator.ts';
import { type RelayChild, startRelayChild } from './lib/node-relay-child.ts';
import { processCpuSeconds, startOrchestratorChild } from './lib/processes.ts';
import { fmt, median, table } from './lib/stats.ts';

const values = benchArgs(
  'bench:node-floor',
  'What a process in the middle costs at a fixed rate: direct, HAProxy, a Node.js relay, the orchestrator.',
  {
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '4' },
    qos: { type: 'string', default: '0,1' },
  },
);
const rate = num('rate', values.rate, 0, 1_000_000);
const rateText = rate > 0 ? `${rate} msg/s` : 'full rate';
const measureMs = num('seconds', values.seconds, 0.5, 600) * 1000;
const rounds = num('rounds', values.rounds, 1, 50);
const qosList = (values.qos ?? '').split(',').map((q) => num('qos', q, 0, 1) as 0 | 1);
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

type Key = 'direct' | 'haproxy' | 'relay' | 'orchestrator';
interface Front {
  key: Key;
  target: Target;
  pid: number | undefined;
}

/** The relay runs compiled, as the orchestrator does (no tsx loader thread in the measured process). */
async function startRelay(broker: Target): Promise<RelayChild> {
  const source = new URL('lib/node-relay.ts', import.meta.url);
  const built = new URL('../out/bench/lib/node-relay.js', import.meta.url);
  if (!existsSync(built) || statSync(built).mtimeMs < statSync(source).mtimeMs) {
    const build = spawn('bash', ['scripts/build.sh'], { cwd: repoRoot, stdio: 'inherit' });
    await new Promise<void>((resolve) => build.once('exit', () => resolve()));
    if (!existsSync(built)) throw new Error('node-floor: scripts/build.sh did not build the relay');
  }
  return startRelayChild([fileURLToPath(built)], broker, { readyTimeoutMs: 10_000 });
}

async function measure(front: Front, qos: 0 | 1, mosqPid: number, round: number) {
  const load = await LoadGenerator.connect(
    front.target,
    issue12Load(qos, `floor${process.pid}${front.key}${round}q${qos}`),
  );
  try {
    const r = await load.runPhase({
      rate: rate > 0 ? rate : undefined,
      warmupMs: 2000,
      measureMs,
      maxMessages: 100_000_000,
      drainTimeoutMs: 3000,
      cpu: () => ({
        mosq: processCpuSeconds(mosqPid),
        front: front.pid === undefined ? 0 : processCpuSeconds(front.pid),
      }),
    });
    const us = (k: string) => ((r.cpuSeconds[k] ?? Number.NaN) / r.delivered) * 1e6;
    return { front: us('front'), mosq: us('mosq'), p50: r.p50Ms, p99: r.p99Ms, lost: r.lost, rate: r.rate };
  } finally {
    await load.close();
  }
}

const provider = await startBenchProvider('bench-floor', '127.46');
const stops: Array<() => Promise<void>> = [];
try {
  const created = await provider.create('broker', 'mosquitto');
  const broker = await provider.waitReady(created.id, 30_000);
  const mosqPid = provider.details(broker.id)?.pid ?? -1;
  const brokerTarget = { host: broker.host, port: broker.port };
  const fronts: Front[] = [{ key: 'direct', target: brokerTarget, pid: undefined }];
  try {
    const h = await startHaproxy(brokerTarget, 10_000);
    stops.push(h.stop);
    fronts.push({ key: 'haproxy', target: { host: '127.0.0.1', port: h.port }, pid: h.pid });
  } catch (err) {
    console.log(`(no HAProxy: ${(err as Error).message.split('\n')[0]})`);
  }
  const relay = await startRelay(brokerTarget);
  stops.push(relay.stop);
  fronts.push({ key: 'relay', target: { host: '127.0.0.1', port: relay.port }, pid: relay.pid });
  const orch = await startOrchestratorChild({ repoRoot, brokerUrls: [broker.url], readyTimeoutMs: 30_000 });
  stops.push(() => orch.stop());
  fronts.push({ key: 'orchestrator', target: { host: '127.0.0.1', port: orch.port }, pid: orch.pid });
  console.log(
    `node-floor: ${rateText}, 20 publishers / 20 subscribers, 100-byte payloads, ${measureMs / 1000} s per ` +
      `measurement, ${rounds} rounds (order turned each round); load average ${loadavg()[0]?.toFixed(2)}`,
  );
  for (const qos of qosList) {
    const got = new Map<Key, Array<Awaited<ReturnType<typeof measure>>>>();
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? fronts : [...fronts].reverse();
      for (const front of order) {
        const m = await measure(front, qos, mosqPid, round);
        got.set(front.key, [...(got.get(front.key) ?? []), m]);
        console.log(
          `QoS ${qos} round ${round + 1} ${front.key.padEnd(12)} ${m.rate.toFixed(0)} msg/s, lost ${m.lost}, ` +
            `front ${fmt(m.front, 1)} µs, mosquitto ${fmt(m.mosq, 1)} µs, p50 ${fmt(m.p50, 3)} ms, p99 ${fmt(m.p99, 3)} ms`,
        );
      }
    }
    const mosqDirect = median((got.get('direct') ?? []).map((m) => m.mosq));
    const rateDirect = median((got.get('direct') ?? []).map((m) => m.rate));
    const rows = fronts.map((f) => {
      const ms = got.get(f.key) ?? [];
      const front = median(ms.map((m) => m.front));
      return [
        f.key,
        f.pid === undefined ? '–' : fmt(front, 1),
        fmt(median(ms.map((m) => m.mosq)), 1),
        f.pid === undefined ? '–' : fmt(front / mosqDirect, 2),
        fmt(median(ms.map((m) => m.rate)) / rateDirect, 2),
        fmt(median(ms.map((m) => m.p50)), 3),
        fmt(median(ms.map((m) => m.p99)), 3),
        String(ms.reduce((n, m) => n + m.lost, 0)),
      ];
    });
    console.log(`\nQoS ${qos} at ${rateText}, medians of ${rounds}:`);
    console.log(
      table(
        [
          'in front',
          'front µs/msg',
          'mosquitto µs/msg',
          '÷ direct mosquitto',
          'msg/s ÷ direct',
          'p50 ms',
          'p99 ms',
          'lost',
        ],
        rows,
      ),
    );
    const relayUs = median((got.get('relay') ?? []).map((m) => m.front));
    const orchUs = median((got.get('orchestrator') ?? []).map((m) => m.front));
    console.log(
      `orchestrator ÷ relay: ${fmt(orchUs / relayUs, 2)} (what MQTT handling adds over piping bytes); ` +
        `issue #12's target: orchestrator ÷ direct mosquitto ≤ 2\n`,
    );
  }
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await provider.stop();
}
