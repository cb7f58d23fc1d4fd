// The processes a benchmark measures: an orchestrator child (`brokel orchestrator`), and CPU counters
// read from /proc so each process's CPU is its own.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RoutingStrategyName } from '../../common/admin/contract.ts';
import { clockTicksPerSecond, readProcStat } from '../../manager/providers/local/proc-stat.ts';
import { ORCHESTRATOR_ENV } from '../../templates/orchestrator/process-env.ts';
import { stopChild, trackChild } from './exit-cleanup.ts';
import { schedCpuSeconds } from './task-cpu.ts';

/**
 * CPU time of one process (all its threads), in seconds; NaN once it is gone. Read at the scheduler's
 * resolution where the kernel shows it (task-cpu.ts); else utime + stime from /proc/PID/stat, which
 * counts whole clock ticks (10 ms): a 3 s window of a process using 5 % of a core is 15 ticks ± 1.
 */
export function processCpuSeconds(pid: number): number {
  const precise = schedCpuSeconds(pid);
  if (precise !== undefined) return precise;
  const stat = readProcStat(pid);
  return stat === undefined ? Number.NaN : stat.cpuTicks / clockTicksPerSecond();
}

/** The kernel-mode part (stime) of processCpuSeconds. NaN once the process is gone. */
export function processSysSeconds(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // proc(5): fields counted after the ')' that closes comm; stime is field 15.
    const stime = Number(line.slice(line.lastIndexOf(')') + 2).split(' ')[15 - 3]);
    return stime / clockTicksPerSecond();
  } catch {
    return Number.NaN;
  }
}

/**
 * Context switches of the main thread of `pid` (/proc/PID/status), or NaN once it is gone: `voluntary`
 * when it blocked and was woken again (an event loop's epoll wait that slept), `preempted` when the
 * scheduler took the core from it while it could run. Per delivered message, a process in the
 * middle's wake-ups and preemptions (bench/ab-pair.ts).
 */
export function processSwitches(pid: number): { voluntary: number; preempted: number } {
  let text = '';
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return { voluntary: Number.NaN, preempted: Number.NaN };
  }
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s*(\\d+)$`, 'm').exec(text);
    return m ? Number(m[1]) : Number.NaN;
  };
  return { voluntary: field('voluntary_ctxt_switches'), preempted: field('nonvoluntary_ctxt_switches') };
}

/** CPU of this process (the load generator), in seconds. */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Busy CPU of the whole machine (all cores, every process), in seconds: /proc/stat minus idle and iowait. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  // proc(5): user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user).
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return (total - idle) / clockTicksPerSecond();
}

export interface OrchestratorChild {
  pid: number;
  port: number;
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves once the process is gone. */
  stop(timeoutMs?: number): Promise<void>;
}

const READY = /brokel orchestrator: MQTT on [^\s,]*:(\d+)/;

/**
 * An orchestrator whose out/ build is missing or older than a source runs its sources through tsx
 * (bin/brokel.js): another orchestrator than the one a replica runs, with a loader thread and heap of its
 * own (docs/data-plane.md, "Session 31"). `npm run bench:*` build first; a bench started by hand after an
 * edit, or against a baseline root, may not have. Says so on stderr. A root whose bin/ has no
 * build-fresh.js (older than it) is not checked.
 */
async function warnIfUnbuilt(repoRoot: string): Promise<void> {
  const root = pathToFileURL(`${resolve(repoRoot)}/`);
  let check: { buildIsFresh: (root: URL) => boolean };
  try {
    check = (await import(new URL('bin/build-fresh.js', root).href)) as typeof check;
  } catch {
    return;
  }
  if (!check.buildIsFresh(root))
    console.error(
      `bench: WARNING: the orchestrator in ${repoRoot} runs its sources through tsx (out/ is missing or ` +
        `older than a source); run scripts/build.sh there to measure what a replica runs`,
    );
}

/**
 * Starts `node bin/brokel.js orchestrator` in front of `brokerUrls` on an ephemeral loopback port and
 * resolves once it printed its ready line. Its output is kept (last lines) for error messages.
 */
export async function startOrchestratorChild(options: {
  repoRoot: string;
  brokerUrls: readonly string[];
  readyTimeoutMs: number;
  nodeArgs?: readonly string[];
  routing?: RoutingStrategyName;
  /** Over the replica's own environment (ORCHESTRATOR_ENV); a name set to '' is left unset. */
  env?: Readonly<Record<string, string>>;
}): Promise<OrchestratorChild> {
  const args = [
    ...(options.nodeArgs ?? []),
    'bin/brokel.js',
    'orchestrator',
    '--listen',
    '127.0.0.1:0',
    '--brokers',
    options.brokerUrls.join(','),
    '--routing',
    options.routing ?? 'round-robin',
    '--log-level',
    'warn',
    // The benchmarks measure the orchestrator itself: no CONNECT rate limit (the connection-scale run
    // reports CONNECTs/s; limits.connectsPerSecond would cap it at its default, 500).
    '--connects-per-second',
    '0',
  ];
  await warnIfUnbuilt(options.repoRoot);
  // The environment a deployed replica gets (templates/orchestrator/process-env.ts), so the benchmarks
  // measure the orchestrator as the providers start it.
  const env: NodeJS.ProcessEnv = { ...process.env, ...ORCHESTRATOR_ENV, ...options.env };
  for (const [name, value] of Object.entries(env)) if (value === '') delete env[name];
  const child = spawn(process.execPath, args, {
    cwd: options.repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  trackChild(child);
  const tail: string[] = [];
  const keep = (chunk: Buffer): void => {
    tail.push(...chunk.toString().split('\n').filter(Boolean));
    tail.splice(0, Math.max(0, tail.length - 20));
  };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stderr?.on('data', keep);
  // BROKEL_BENCH_ORCHESTRATOR_LOG=FILE: the orchestrator's whole output (warnings and errors) goes to FILE too.
  const logFile = process.env.BROKEL_BENCH_ORCHESTRATOR_LOG;
  if (logFile) {
    const out = createWriteStream(logFile, { flags: 'a' });
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
  }
  try {
    const port = await readyPort(child, READY, {
      name: 'orchestrator',
      timeoutMs: options.readyTimeoutMs,
      onChunk: keep,
      tail: () => `:\n${tail.join('\n')}`,
    });
    if (child.pid === undefined) throw new Error('orchestrator has no pid');
    return { pid: child.pid, port, stop: (timeoutMs = 15_000) => stopChild(child, exited, timeoutMs) };
  } catch (err) {
    await stopChild(child, exited, 5_000);
    throw err;
  }
}

/**
 * The port a child prints once it listens: the first match of `ready` (its group 1) in its standard
 * output, within `timeoutMs`; rejects when it errs, exits or stays silent first (the message ends with
 * `tail()`, e.g. its last lines). `onChunk` sees every chunk of standard output too.
 */
export function readyPort(
  child: ChildProcess,
  ready: RegExp,
  options: { name: string; timeoutMs: number; onChunk?: (chunk: Buffer) => void; tail?: () => string },
): Promise<number> {
  const tail = options.tail ?? (() => '');
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${options.name} not ready in ${options.timeoutMs} ms${tail()}`)),
      options.timeoutMs,
    );
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      options.onChunk?.(chunk);
      buffered = (buffered + chunk.toString()).slice(-4096);
      const m = ready.exec(buffered);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${options.name} exited (code ${code}, signal ${signal}) before ready${tail()}`));
    });
  });
}
