// `npm run soak [-- --minutes 60]`: issue 17's soak. `brokel up` on the local provider (2 brokers,
// 1 orchestrator, pool fixed so every change in memory or descriptors is a leak, not a scaling step),
// QoS 1 traffic at half the capacity measured by a short max-rate phase first, and the manager's and
// each orchestrator's RSS and open fds sampled every interval. Fails (exit 1) when RSS grows by more
// than 5 % after the warm-up (10 % in the short form, below), open fds grow, or a message is lost.
// Long form: 10 s samples, 5 min warm-up. Short form (under 5 min, e.g. `--seconds 40` as CI runs it): a progress line every 2 s, RSS
// and fds sampled every 0.5 s (a Node process's RSS saw-tooths with a period of 6–8 s under this load:
// samples 2 s apart missed the troughs, and the floors compared were noise), the first 15 s or third
// of the run, whichever is longer, as warm-up (the heap still grows for about 10 s after the start).
// `--direct-reference`: each interval through the orchestrator is followed by one of the same length
// and rate straight at the system's brokers (the same clients again for each broker, new ids, each at
// its share of the rate), and the end compares how each path's p99 moved (soak-drift.ts): a drift both
// share is the machine's, not the orchestrator's.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { crossableTempDir } from '../common/os-user.ts';
import { freePort } from '../manager/providers/local/address-pool.ts';
import { benchArgs } from './lib/bench-args.ts';
import { issue12Load, LoadGenerator } from './lib/load-generator.ts';
import { type LatencyInterval, type PathDrift, soakDrift } from './lib/soak-drift.ts';
import { type SoakSample, soakVerdict } from './lib/soak-verdict.ts';
import { fmt, fmtInt } from './lib/stats.ts';

const values = benchArgs(
  'soak',
  "Issue #17's soak: QoS 1 at half capacity through brokel up; RSS, fds and loss sampled; exit 1 on a leak or a loss.",
  {
    minutes: { type: 'string' },
    seconds: { type: 'string' },
    rate: { type: 'string' },
    'direct-reference': { type: 'boolean' },
  },
);
const totalSeconds = values.seconds ? Number(values.seconds) : Number(values.minutes ?? 60) * 60;
if (!(totalSeconds >= 10)) throw new Error(`--seconds/--minutes: ${totalSeconds} s is below 10 s`);
const long = totalSeconds >= 300;
const intervalSeconds = long ? 10 : 2;
const sampleSeconds = long ? 10 : 0.5;
const warmupSeconds = long ? 300 : Math.max(15, totalSeconds / 3);
// The short form's bound is 10 %: in its first minute the orchestrator's V8 heap is still sizing
// itself, and its floor rose 158 → 172 MB (+5.1 % between thirds) in one 40 s CI run and stayed flat
// at 191–199 MB in a 120 s run minutes later; 30 minutes took it from 209 to 180 MB. Under a minute
// cannot tell that from a leak at 5 %; the long form (5 min warm-up) keeps the issue's 5 %.
const maxRssGrowth = long ? 0.05 : 0.1;
// The long form's RSS floor per third: the upper quartile of its minutes' lowest samples
// (soak-verdict.ts thirdFloorKb); the short form's thirds are seconds long, so each one's lowest sample.
const floorWindowSeconds = long ? 60 : Number.POSITIVE_INFINITY;

const began = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - began) / 1000).toFixed(1)} s] ${line}`);
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const rssKb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

async function startManager(
  dir: string,
): Promise<{ child: ChildProcess; url: URL; api: string; stop: () => Promise<unknown> }> {
  const api = await freePort('127.0.0.1');
  const dns = await freePort('127.0.0.1');
  const file = join(dir, 'brokel.yaml');
  await writeFile(
    file,
    [
      `deployment: soak${process.pid}`,
      `manager: { decisionLog: ${join(dir, 'decisions.jsonl')} }`,
      'monitor: { intervalSeconds: 2 }',
      'levels: { brokers: { min: 2, max: 2, cpuQuota: 0.5 }, orchestrators: { min: 1, max: 1 } }',
      `api: { listen: 127.0.0.1:${api} }`,
      `dns: { listen: 127.0.0.1:${dns} }`,
      `provider: { kind: local, local: { addressing: ports, stateDir: ${join(dir, 'state')} } }`,
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, ['bin/brokel.js', 'up', '-c', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, BROKEL_LOG_LEVEL: 'warn' },
  });
  // One SIGTERM only: a second one while it stops makes the manager exit at once, leaving its replicas.
  let exited: Promise<unknown> | undefined;
  const stop = () => {
    exited ??= new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
      child.once('exit', resolve);
      child.kill('SIGTERM'); // the local demo destroys its replicas on the way out
      setTimeout(resolve, 30_000).unref();
    });
    return exited;
  };
  process.on('exit', () => void stop());
  // Ctrl-C or a kill ends the soak without 'exit' by default, which left the manager and its brokers
  // running: stop the manager, wait for it, remove the temporary folder, then exit.
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      log(`${signal}: stopping the manager`);
      void stop().then(() => {
        rmSync(dir, { recursive: true, force: true });
        process.exit(signal === 'SIGINT' ? 130 : 143);
      });
    });
  const url = await new Promise<URL>((resolve, reject) => {
    let found: URL | undefined;
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      // Stopped (or given up on after 30 s): the exit, or this, rejects.
      void stop().then(() => reject(new Error('brokel up did not start within 90 s')));
    }, 90_000);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const m = /^MQTT clients connect to: (\S+)/.exec(line);
      if (m?.[1]) found = new URL(m[1].replace(/,$/, ''));
      if (found && line.startsWith('Ctrl-C ')) {
        clearTimeout(timer);
        resolve(found);
      }
    });
    child.once('exit', (code) =>
      reject(new Error(late ? 'brokel up did not start within 90 s' : `brokel up exited with ${code}`)),
    );
  });
  return { child, url, api: `127.0.0.1:${api}`, stop };
}

interface HeapSample {
  t: number;
  heapTotalMb: number;
  heapUsedMb: number;
  externalMb: number;
}

/**
 * A process's V8 heap from its /metrics (the manager's is open on loopback; an orchestrator's admin
 * API takes the token its replica record's probe carries): tells an RSS change that is the heap's
 * sizing (the committed heap grows towards the next collection's limit) from one outside it.
 */
async function heapOf(
  origin: string,
  t: number,
  headers: Record<string, string> = {},
): Promise<HeapSample | undefined> {
  try {
    const res = await fetch(`${origin}/metrics`, { headers, signal: AbortSignal.timeout(3000) });
    const text = await res.text();
    const mb = (name: string) => Number(new RegExp(`^brokel_${name} (\\S+)$`, 'm').exec(text)?.[1]) / 2 ** 20;
    return {
      t,
      heapTotalMb: mb('nodejs_heap_size_total_bytes'),
      heapUsedMb: mb('nodejs_heap_size_used_bytes'),
      externalMb: mb('nodejs_external_memory_bytes'),
    };
  } catch {
    return undefined;
  }
}

interface ReplicaSeen {
  level: string;
  pid: number;
  host: string;
  port: number;
  probe?: { port?: number; headers?: Record<string, string> };
}

/** The replicas (level, PID, address), from the local provider's replica records. */
async function replicaRecords(stateDir: string): Promise<ReplicaSeen[]> {
  const dir = join(stateDir, 'replicas');
  const names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  return Promise.all(
    names.map(async (name) => JSON.parse(await readFile(join(dir, name), 'utf8')) as ReplicaSeen),
  );
}

async function main(): Promise<number> {
  // Its state folder is in it, and a broker run as root opens its files there as its own user.
  const dir = await crossableTempDir('brokel-soak-');
  const started = Date.now();
  log(
    `soak: ${totalSeconds} s, samples every ${sampleSeconds} s, warm-up ${Math.round(warmupSeconds)} s, RSS bound +${maxRssGrowth * 100} %${long ? " (floors: upper quartile of each minute's lowest sample)" : ''}; load average ${loadavg()}`,
  );
  const {
    child: manager,
    url,
    api,
    stop,
  } = await startManager(dir).catch(async (err: unknown) => {
    // brokel up exited (on its own, or stopped after 90 s): its folder goes too.
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  log(`brokel up ready: ${url.href}`);
  let load: LoadGenerator | undefined;
  const direct: LoadGenerator[] = [];
  try {
    const replicas = await replicaRecords(join(dir, 'state'));
    const watched: Record<string, number> = { manager: manager.pid ?? 0 };
    for (const [i, r] of replicas.filter((r) => r.level === 'orchestrator').entries())
      watched[`orchestrator${i}`] = r.pid;
    const clients = (clientIdPrefix: string, topicRoot?: string) =>
      issue12Load(1, clientIdPrefix, { publishers: 4, subscribers: 4, maxSamples: 200_000, topicRoot });
    load = await LoadGenerator.connect(
      { host: url.hostname, port: Number(url.port) },
      clients(`soak${process.pid}`),
    );
    const brokers = replicas.filter((r) => r.level === 'broker');
    if (values['direct-reference']) {
      // One set of clients per broker, each at rate / brokers: every broker gets the share of the
      // deliveries the orchestrator gives it (round-robin, every subscriber on every broker).
      if (brokers.length === 0) throw new Error('--direct-reference: the replica records name no broker');
      for (const [i, b] of brokers.entries())
        direct.push(
          await LoadGenerator.connect(
            { host: b.host, port: b.port },
            clients(`soak${process.pid}d${i}`, `dir${i}`),
          ),
        );
      log(
        `direct reference: ${brokers.map((b) => `${b.host}:${b.port} (pid ${b.pid})`).join(', ')}, each at 1/${brokers.length} of the rate, alternated with the orchestrator`,
      );
    }
    const phaseOf = (
      gen: LoadGenerator | undefined,
      rate: number | undefined,
      measureMs: number,
      warmupMs = 0,
    ) =>
      gen?.runPhase({ rate, warmupMs, measureMs, maxMessages: 1e9, drainTimeoutMs: 5000, cpu: () => ({}) });
    const phase = (rate: number | undefined, measureMs: number, warmupMs = 0) =>
      phaseOf(load, rate, measureMs, warmupMs);
    let rate = Number(values.rate);
    if (!(rate > 0)) {
      const capacity = await phase(undefined, long ? 10_000 : 3000, 1000);
      rate = Math.max(10, Math.round((capacity?.rate ?? 0) / 2));
      log(
        `capacity (max-rate QoS 1 deliveries): ${fmtInt(capacity?.rate ?? 0)}/s; soak at ${fmtInt(rate)}/s`,
      );
    }
    const samples: Record<string, SoakSample[]> = {};
    const sample = (t: number) => {
      for (const [name, pid] of Object.entries(watched)) {
        const list = samples[name] ?? [];
        list.push({ t, rssKb: rssKb(pid), fds: fds(pid) });
        samples[name] = list;
      }
    };
    const soakStart = Date.now();
    sample(0);
    // A process that died fails the last sample below, loudly; a tick in between only skips.
    const sampler = setInterval(() => {
      try {
        sample((Date.now() - soakStart) / 1000);
      } catch {}
    }, sampleSeconds * 1000).unref();
    const heap: HeapSample[] = [];
    // The first orchestrator's heap too: an RSS step there is told from a leak the same way.
    const orchestrator = replicas.find((r) => r.level === 'orchestrator' && r.probe?.port !== undefined);
    const orchestratorHeap: HeapSample[] = [];
    const heapSampler = setInterval(
      () => {
        const t = (Date.now() - soakStart) / 1000;
        void heapOf(`http://${api}`, t).then((h) => h && heap.push(h));
        if (orchestrator)
          void heapOf(
            `http://${orchestrator.host}:${orchestrator.probe?.port}`,
            t,
            orchestrator.probe?.headers,
          ).then((h) => h && orchestratorHeap.push(h));
      },
      (long ? 30 : 5) * 1000,
    ).unref();
    let sent = 0;
    let lost = 0;
    let directSent = 0;
    let directLost = 0;
    const latency: LatencyInterval[] = [];
    while ((Date.now() - soakStart) / 1000 < totalSeconds) {
      const r = await phase(rate, intervalSeconds * 1000);
      sent += r?.sent ?? 0;
      lost += Math.max(0, r?.lost ?? 0);
      const ds = await Promise.all(
        direct.map((g) => phaseOf(g, rate / direct.length, intervalSeconds * 1000)),
      );
      // The direct path's p99: the worse broker's (the union's is not kept); its rate and loss: sums.
      const d =
        ds.length > 0
          ? {
              rate: ds.reduce((a, x) => a + (x?.rate ?? 0), 0),
              p99Ms: Math.max(...ds.map((x) => x?.p99Ms ?? 0)),
              lost: ds.reduce((a, x) => a + Math.max(0, x?.lost ?? 0), 0),
              sent: ds.reduce((a, x) => a + (x?.sent ?? 0), 0),
            }
          : undefined;
      directSent += d?.sent ?? 0;
      directLost += d?.lost ?? 0;
      const t = (Date.now() - soakStart) / 1000;
      latency.push({ t, p99Ms: r?.p99Ms ?? 0, ...(d ? { directP99Ms: d.p99Ms } : {}) });
      const now = Object.entries(samples).map(
        ([n, s]) => `${n} ${fmtInt((s.at(-1)?.rssKb ?? 0) / 1024)} MB ${s.at(-1)?.fds} fds`,
      );
      const beside = d ? ` (direct: ${fmtInt(d.rate)}/s, p99 ${fmt(d.p99Ms, 1)} ms, lost ${d.lost})` : '';
      log(
        `${fmt(t, 0)} s: ${fmtInt(r?.rate ?? 0)}/s delivered, p99 ${fmt(r?.p99Ms ?? 0, 1)} ms, lost ${r?.lost ?? 0}${beside}; ${now.join(', ')}`,
      );
    }
    clearInterval(sampler);
    clearInterval(heapSampler);
    sample((Date.now() - soakStart) / 1000);
    const findings = soakVerdict(samples, warmupSeconds, maxRssGrowth, floorWindowSeconds);
    for (const f of findings)
      log(
        `${f.process}: RSS ${fmtInt(f.rssStartKb / 1024)} → ${fmtInt(f.rssEndKb / 1024)} MB (${fmt(f.rssGrowth * 100, 1)} %), fds ${f.fdsStart} → ${f.fdsEnd}: ${f.ok ? 'ok' : `FAIL: ${f.why}`}`,
      );
    for (const [name, series] of [
      ['manager', heap],
      ['orchestrator0', orchestratorHeap],
    ] as const) {
      const settled = series.filter((h) => h.t >= warmupSeconds);
      const [first, last] = [settled[0], settled.at(-1)];
      if (first && last)
        log(
          `${name} V8 heap after the warm-up: committed ${fmt(first.heapTotalMb, 1)} → ${fmt(last.heapTotalMb, 1)} MB, ` +
            `used ${fmt(first.heapUsedMb, 1)} → ${fmt(last.heapUsedMb, 1)} MB, external ${fmt(first.externalMb, 1)} → ${fmt(last.externalMb, 1)} MB`,
        );
    }
    const drift = soakDrift(latency, warmupSeconds);
    const moved = (name: string, p: PathDrift) =>
      `${name} ${fmt(p.firstMs, 1)} → ${fmt(p.lastMs, 1)} ms (×${fmt(p.ratio, 2)})`;
    if (drift)
      log(
        `p99 after the warm-up, median of the first vs the last ${drift.perQuarter} intervals: ${moved('orchestrator', drift.orchestrator)}` +
          (drift.direct ? `; ${moved('direct to the brokers', drift.direct)}` : ''),
      );
    log(`messages: ${fmtInt(sent)} sent, ${lost} lost; load average ${loadavg()}`);
    if (direct.length > 0)
      log(
        `direct reference: ${fmtInt(directSent)} sent, ${directLost} lost (not the system's, not counted in the verdict)`,
      );
    await mkdir('bench/results', { recursive: true });
    const out = `bench/results/soak-${new Date(started).toISOString().replace(/[:.]/g, '-')}.json`;
    await writeFile(
      out,
      JSON.stringify(
        {
          totalSeconds,
          intervalSeconds,
          sampleSeconds,
          warmupSeconds,
          rate,
          sent,
          lost,
          findings,
          samples,
          managerHeap: heap,
          orchestratorHeap,
          latency,
          drift,
          ...(direct.length > 0 ? { directSent, directLost } : {}),
        },
        null,
        1,
      ),
    );
    log(`samples written to ${out}`);
    const ok = findings.every((f) => f.ok) && lost === 0;
    log(ok ? 'soak: PASS' : 'soak: FAIL');
    return ok ? 0 : 1;
  } finally {
    log('stopping');
    await load?.close();
    for (const g of direct) await g.close();
    await stop();
    await rm(dir, { recursive: true, force: true });
    log('stopped');
  }
}

process.exitCode = await main();
