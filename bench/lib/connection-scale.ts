// The connection-scale run of bench:orchestrator: many clients through one orchestrator over the given
// brokers, spread over several load-generator processes (one process may hold 20,000 open files here),
// 90 % publishing QoS 1 once a second and 10 % subscribing. Reports the orchestrator's RSS and sockets
// per client, CONNECTs per second accepted, and loss (sent and acknowledged, but never delivered).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RoutingStrategyName } from '../../common/admin/contract.ts';
import { trackChild } from './exit-cleanup.ts';
import { difference, type HeapGroup, summarize } from './heap-summary.ts';
import { startOrchestratorChild } from './processes.ts';
import { SUBSCRIBER_SHARE } from './scale-size.ts';
import type { ScaleWorkerConfig } from './scale-worker.ts';
import { fmt, fmtInt, percentiles } from './stats.ts';

export interface ScaleOptions {
  repoRoot: string;
  brokerUrls: readonly string[];
  clients: number;
  /** Load-generator processes. */
  workers: number;
  publishMs: number;
  /** The orchestrator's routing (round-robin: a publisher needs every broker, so it links to all). */
  routing?: RoutingStrategyName;
  /** Extra node flags for the orchestrator. */
  nodeArgs?: readonly string[];
  /** Its environment over the replica's own (startOrchestratorChild). */
  env?: Readonly<Record<string, string>>;
  /** Where the orchestrator runs from (another checkout: A/B against older code); default repoRoot. */
  orchestratorRoot?: string | undefined;
  /**
   * A folder for three heap snapshots of the orchestrator (idle, connected before publishing, and
   * half-way through publishing): the result then has the JS heap per client, by constructor
   * (bench/lib/heap-summary.ts), connected and publishing. Each snapshot stops the orchestrator for a
   * few seconds; CONNECTs/s and the RSS figures before publishing are read before them.
   */
  heapSnapshotDir?: string | undefined;
  /**
   * Also read the RSS this long after the clients connected, still before publishing: the connect
   * burst's garbage collected and V8's memory reducer run (it shrinks the heap some seconds after
   * allocation slows down), what a fleet of idle clients costs once it is up. 0: not read.
   */
  settleMs?: number;
  /**
   * Also read the idle RSS this long after the orchestrator was ready (0: not read). V8's memory reducer
   * shrinks the young generation that loading the modules grew some 8–10 s after start-up: the reading
   * 2 s after ready, which the per-client figures subtract, still holds it (3–5 MB here).
   */
  idleSettleMs?: number;
}

export interface ScaleResult {
  clients: number;
  brokers: number;
  idleRssMb: number;
  /** Of the idle RSS: anonymous memory (heaps) and file-backed pages (the node binary, libraries). */
  idleRssAnonMb: number;
  idleRssFileMb: number;
  /** With idleSettleMs: the idle RSS that long after ready (seconds), when the memory reducer has run. */
  idleRssSettled?: { mb: number; afterS: number };
  rssPerClientKb: number;
  socketsPerClient: number;
  /**
   * The same two while the publishers publish (a lazy session opens links as routing needs them), read
   * a few seconds in, as the publishers open their other links.
   */
  rssPerClientKbPublishing: number;
  /**
   * The highest RSS per client read (every 250 ms) from the publishers' start until they are done: the
   * RSS keeps climbing while they publish, until a full collection (docs/data-plane.md, "Session 41"),
   * so this, not the reading above, is what a replica must have room for.
   */
  rssPerClientKbPublishingPeak: number;
  /** With settleMs: the RSS per client that long after connecting (before publishing). */
  rssPerClientKbSettled?: number;
  socketsPerClientPublishing: number;
  routing: string;
  connectsPerSecond: number;
  sent: number;
  acked: number;
  received: number;
  lost: number;
  /** Publishers the orchestrator still owed acknowledgements when they stopped waiting, and a few of their names. */
  owedClients: number;
  owedSample: string[];
  /** Publish → PUBACK at the publishers, ms (quantiles of every acknowledged publish). */
  ackMs: { p50: number; p99: number; max: number };
  /**
   * With heapSnapshotDir: the live JS heap per client (bytes) and its largest groups. The RSS figures
   * of such a run are not comparable with a run without: writing a snapshot grows the RSS itself.
   */
  heap?: HeapPerClient;
  /**
   * With heapSnapshotDir: the same half-way through publishing (the links a publisher opens, what is in
   * flight and kept for replay): the live part of the publishing RSS, which also carries the collector's
   * slack (docs/data-plane.md, "Session 41").
   */
  heapPublishing?: HeapPerClient;
}

/** The live JS heap a client adds (bytes), and its largest groups. */
interface HeapPerClient {
  perClientBytes: number;
  groups: HeapGroup[];
}

function rssKb(pid: number, field: 'VmRSS' | 'RssAnon' | 'RssFile' = 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? Number.NaN);
}

function socketCount(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n += 1;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/**
 * Has the orchestrator (started with --heapsnapshot-signal=SIGUSR2) write a heap snapshot into `dir`;
 * resolves with its path once the file is complete (its size stopped growing and it ends the JSON).
 */
async function heapSnapshot(pid: number, dir: string, timeoutMs: number): Promise<string> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  for (;;) {
    await sleep(500);
    const file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (file) {
      const path = join(dir, file);
      const size = statSync(path).size;
      if (size === last && size > 0 && readFileSync(path, 'utf8').trimEnd().endsWith('}')) return path;
      last = size;
    }
    if (Date.now() > deadline) throw new Error(`no complete heap snapshot in ${dir} after ${timeoutMs} ms`);
  }
}

/** A heap snapshot file summed up by constructor (heap-summary.ts). */
function summaryOf(file: string): ReturnType<typeof summarize> {
  return summarize(readFileSync(file, 'utf8'));
}

/** What each of `clients` adds to the live JS heap between the idle summary and a later snapshot. */
function heapPerClient(idle: ReturnType<typeof summarize>, after: string, clients: number): HeapPerClient {
  const diff = difference(idle, summaryOf(after), clients);
  return { perClientBytes: diff.total, groups: diff.groups.slice(0, 25) };
}

interface Worker {
  child: ChildProcess;
  events: Array<Record<string, unknown>>;
  waitFor(event: string, timeoutMs: number): Promise<Record<string, unknown>>;
  send(line: string): void;
}

function startWorker(repoRoot: string, config: ScaleWorkerConfig): Worker {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/lib/scale-worker.ts', JSON.stringify(config)],
    {
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  trackChild(child);
  const events: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  if (child.stdout)
    createInterface({ input: child.stdout }).on('line', (line) => {
      events.push(JSON.parse(line) as Record<string, unknown>);
      for (const w of waiters.splice(0)) w();
    });
  child.once('exit', () => {
    for (const w of waiters.splice(0)) w();
  });
  const waitFor = async (event: string, timeoutMs: number): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = events.find((e) => e.event === event);
      if (found) return found;
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`scale worker ${child.pid}: no '${event}' (exit ${child.exitCode})`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 500).unref();
      });
    }
  };
  return { child, events, waitFor, send: (line) => child.stdin?.write(`${line}\n`) };
}

export async function connectionScale(options: ScaleOptions): Promise<ScaleResult> {
  const subscribers = Math.max(1, Math.round(options.clients * SUBSCRIBER_SHARE));
  const publishers = options.clients - subscribers;
  if (options.heapSnapshotDir) mkdirSync(options.heapSnapshotDir, { recursive: true });
  const orch = await startOrchestratorChild({
    repoRoot: options.orchestratorRoot ?? options.repoRoot,
    brokerUrls: options.brokerUrls,
    readyTimeoutMs: 30_000,
    routing: options.routing ?? 'round-robin',
    env: options.env,
    nodeArgs: [
      ...(options.nodeArgs ?? []),
      ...(options.heapSnapshotDir
        ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${options.heapSnapshotDir}`]
        : []),
    ],
  });
  const readyAt = Date.now();
  const workers: Worker[] = [];
  try {
    await sleep(2000);
    const idleRss = rssKb(orch.pid);
    const idleAnon = rssKb(orch.pid, 'RssAnon');
    const idleFile = rssKb(orch.pid, 'RssFile');
    const idleSettleMs = options.idleSettleMs ?? 0;
    const idleSettledRss =
      idleSettleMs > 0
        ? await sleep(Math.max(0, readyAt + idleSettleMs - Date.now())).then(() => rssKb(orch.pid))
        : undefined;
    const idleSockets = socketCount(orch.pid);
    const snapshotDir = options.heapSnapshotDir;
    // Read once: both differences below are taken from it.
    const idleHeap = snapshotDir ? summaryOf(await heapSnapshot(orch.pid, snapshotDir, 120_000)) : undefined;
    const subWorkers = Math.max(1, Math.round(options.workers / 4));
    const pubWorkers = Math.max(1, options.workers - subWorkers);
    const base = {
      host: '127.0.0.1',
      port: orch.port,
      subscribers,
      prefix: `scale${process.pid}`,
      connectConcurrency: 64,
      publishMs: options.publishMs,
    };
    const split = (total: number, parts: number, role: 'sub' | 'pub') =>
      Array.from({ length: parts }, (_, i) => {
        const first = Math.floor((total * i) / parts);
        return { ...base, role, first, count: Math.floor((total * (i + 1)) / parts) - first };
      });
    const subs = split(subscribers, subWorkers, 'sub').map((c) => startWorker(options.repoRoot, c));
    workers.push(...subs);
    for (const w of subs) await w.waitFor('ready', 120_000);
    const pubs = split(publishers, pubWorkers, 'pub').map((c) => startWorker(options.repoRoot, c));
    workers.push(...pubs);
    // CONNECTs per second: over the publishers' processes, which connect all at once.
    const connected = await Promise.all(pubs.map((w) => w.waitFor('connected', 180_000)));
    const first = Math.min(...connected.map((e) => Number(e.startedAt)));
    const last = Math.max(...connected.map((e) => Number(e.endedAt)));
    await sleep(1000);
    const loadedRss = rssKb(orch.pid);
    const sockets = socketCount(orch.pid) - idleSockets;
    const settleMs = options.settleMs ?? 0;
    const settledRss = settleMs > 0 ? await sleep(settleMs).then(() => rssKb(orch.pid)) : undefined;
    let heap: ScaleResult['heap'];
    if (snapshotDir && idleHeap) {
      heap = heapPerClient(idleHeap, await heapSnapshot(orch.pid, snapshotDir, 300_000), options.clients);
    }
    for (const w of pubs) w.send('go');
    const goAt = Date.now();
    let peakRss = 0;
    const sampleRss = () => {
      try {
        const now = rssKb(orch.pid);
        if (now > peakRss) peakRss = now;
      } catch {
        // The orchestrator has gone: the run fails on what its publishers report.
      }
    };
    const sampler = setInterval(sampleRss, 250);
    await sleep(Math.min(options.publishMs / 2, 3000));
    const publishingRss = rssKb(orch.pid);
    const publishingSockets = socketCount(orch.pid) - idleSockets;
    let heapPublishing: ScaleResult['heapPublishing'];
    if (snapshotDir && idleHeap) {
      await sleep(Math.max(0, goAt + options.publishMs / 2 - Date.now()));
      const publishingHeap = await heapSnapshot(orch.pid, snapshotDir, 300_000);
      heapPublishing = heapPerClient(idleHeap, publishingHeap, options.clients);
    }
    const pubDone = await Promise.all(
      pubs.map((w) => w.waitFor('done', options.publishMs + 120_000)),
    ).finally(() => clearInterval(sampler));
    sampleRss();
    // Deliveries may trail the acknowledgements on a loaded machine: wait until the subscribers have as
    // many as were acknowledged, or received nothing more for 3 s (at most 30 s).
    const acked = pubDone.reduce((n, e) => n + Number(e.acked), 0);
    const receivedSoFar = () =>
      subs.reduce((n, w) => n + Number(w.events.findLast((e) => e.event === 'received')?.received ?? 0), 0);
    let seen = -1;
    let stableSince = Date.now();
    for (const giveUp = Date.now() + 30_000; Date.now() < giveUp; await sleep(500)) {
      const now = receivedSoFar();
      if (now >= acked) break;
      if (now !== seen) {
        seen = now;
        stableSince = Date.now();
      } else if (Date.now() - stableSince > 3000) break;
    }
    for (const w of subs) w.send('stop');
    const subDone = await Promise.all(subs.map((w) => w.waitFor('done', 30_000)));
    const sent = pubDone.reduce((n, e) => n + Number(e.sent), 0);
    const owedClients = pubDone.reduce((n, e) => n + Number(e.owedClients ?? 0), 0);
    const owedSample = pubDone.flatMap((e) => (e.owedSample as string[] | undefined) ?? []).slice(0, 5);
    const ackMs = Float64Array.from(pubDone.flatMap((e) => (e.ackMs as number[] | undefined) ?? []));
    const [ackP50 = Number.NaN, ackP99 = Number.NaN, ackMax = Number.NaN] = percentiles(
      ackMs,
      ackMs.length,
      [50, 99, 100],
    );
    const received = subDone.reduce((n, e) => n + Number(e.received), 0);
    return {
      clients: options.clients,
      brokers: options.brokerUrls.length,
      idleRssMb: idleRss / 1024,
      idleRssAnonMb: idleAnon / 1024,
      idleRssFileMb: idleFile / 1024,
      ...(idleSettledRss !== undefined
        ? { idleRssSettled: { mb: idleSettledRss / 1024, afterS: idleSettleMs / 1000 } }
        : {}),
      rssPerClientKb: (loadedRss - idleRss) / options.clients,
      socketsPerClient: sockets / options.clients,
      rssPerClientKbPublishing: (publishingRss - idleRss) / options.clients,
      rssPerClientKbPublishingPeak: (Math.max(peakRss, publishingRss) - idleRss) / options.clients,
      ...(settledRss !== undefined
        ? { rssPerClientKbSettled: (settledRss - idleRss) / options.clients }
        : {}),
      socketsPerClientPublishing: publishingSockets / options.clients,
      routing: options.routing ?? 'round-robin',
      connectsPerSecond: publishers / Math.max(0.001, (last - first) / 1000),
      sent,
      acked,
      received,
      lost: Math.max(0, sent - received),
      owedClients,
      owedSample,
      ackMs: { p50: ackP50, p99: ackP99, max: ackMax },
      ...(heap ? { heap } : {}),
      ...(heapPublishing ? { heapPublishing } : {}),
    };
  } finally {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGTERM');
    await orch.stop();
  }
}

/**
 * RSS per added client between two runs of one routing at different client counts (pure): the slope,
 * which leaves out what grows once whatever the count (the young generation a connection storm makes V8
 * grow, ~35 MB here), where rssPerClientKb divides it among the clients. KB per client, connected and
 * publishing.
 */
export function marginalRssKb(
  small: Pick<ScaleResult, 'clients' | 'rssPerClientKb' | 'rssPerClientKbPublishing'>,
  large: Pick<ScaleResult, 'clients' | 'rssPerClientKb' | 'rssPerClientKbPublishing'>,
): { connected: number; publishing: number } {
  const added = large.clients - small.clients;
  if (added <= 0)
    throw new RangeError(`marginal RSS: ${large.clients} clients is not more than ${small.clients}`);
  const slope = (a: number, b: number) => (b * large.clients - a * small.clients) / added;
  return {
    connected: slope(small.rssPerClientKb, large.rssPerClientKb),
    publishing: slope(small.rssPerClientKbPublishing, large.rssPerClientKbPublishing),
  };
}

export function scaleSummary(r: ScaleResult): string {
  return (
    `Connection scale: ${fmtInt(r.clients)} clients (90 % publishing QoS 1 once a second, 10 % subscribing) ` +
    `through one orchestrator over ${r.brokers} brokers, ${r.routing}\n` +
    `  orchestrator idle RSS ${fmt(r.idleRssMb, 1)} MB (anonymous ${fmt(r.idleRssAnonMb, 1)}, files ${fmt(r.idleRssFileMb, 1)}` +
    (r.idleRssSettled
      ? `; ${fmt(r.idleRssSettled.mb, 1)} MB ${fmt(r.idleRssSettled.afterS, 0)} s after ready`
      : '') +
    '); ' +
    'connected, before publishing: ' +
    `+${fmt(r.rssPerClientKb, 1)} KB and ${fmt(r.socketsPerClient, 2)} sockets per client; ` +
    (r.rssPerClientKbSettled !== undefined
      ? `settled: +${fmt(r.rssPerClientKbSettled, 1)} KB per client; `
      : '') +
    `publishing: +${fmt(r.rssPerClientKbPublishing, 1)} KB (peak +${fmt(r.rssPerClientKbPublishingPeak, 1)}) ` +
    `and ${fmt(r.socketsPerClientPublishing, 2)} sockets per client; ` +
    `${fmtInt(r.connectsPerSecond)} CONNECTs/s accepted\n` +
    `  sent ${fmtInt(r.sent)}, acknowledged ${fmtInt(r.acked)}, delivered ${fmtInt(r.received)}, lost ${fmtInt(r.lost)}` +
    `; publish → PUBACK p50 ${fmtInt(r.ackMs.p50)} ms, p99 ${fmtInt(r.ackMs.p99)} ms, max ${fmtInt(r.ackMs.max)} ms` +
    (r.owedClients > 0
      ? `; ${fmtInt(r.owedClients)} publishers still owed acknowledgements at the end (e.g. ${r.owedSample.join(', ')})`
      : '') +
    (r.heap ? heapLines('connected', r.heap) : '') +
    (r.heapPublishing ? heapLines('publishing', r.heapPublishing) : '')
  );
}

function heapLines(when: string, heap: HeapPerClient): string {
  return (
    `\n  live JS heap ${when}: +${fmtInt(heap.perClientBytes)} B per client (heap snapshots: the RSS ` +
    `figures above are not comparable with a run without); largest per client:\n` +
    heap.groups
      .slice(0, 15)
      .map((g) => `    ${fmtInt(g.bytes).padStart(7)} B ${fmt(g.count, 2).padStart(6)}×  ${g.group}`)
      .join('\n')
  );
}
