import { mkdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { validate } from '../../common/config/load.ts';
import { type BrokelConfig, configSchema } from '../../common/config/schema.ts';
import { type Logger, silentLogger } from '../../common/logger.ts';
import { assembleControlPlane } from '../../manager/control-plane.ts';
import { LocalProvider } from '../../manager/providers/local/local-provider.ts';
import { parseDecisionLog } from './decision-log-read.ts';
import { generateTrace } from './generator.ts';
import type { QoS } from './mqtt-clients.ts';
import type { Pacing } from './pacing.ts';
import { type PlacementSample, placementSample } from './placement.ts';
import { progressBar } from './progress.ts';
import { runPublisherProcesses } from './publisher-processes.ts';
import type { TaxiRecord } from './record.ts';
import { type Baseline, buildReport, type RunFacts, type ScenarioReport } from './report.ts';
import { writeScenarioReport } from './report-files.ts';
import { type ScenarioDns, startScenarioDns } from './scenario-dns.ts';
import type { ScenarioSpec } from './scenarios.ts';
import { splitShares } from './shares.ts';
import { Subscribers } from './subscriber.ts';
import type { ReplicaSample } from './timeline.ts';
import { loadTrace } from './trace-reader.ts';
import { writeTrace } from './trace-writer.ts';

/**
 * One scenario run on the local provider (ARCHITECTURE.md: manager + orchestrators + brokers as
 * processes on this machine): start the control plane with the scenario's config, sample the replicas
 * of each level, replay the trace (subscribers in this process, publishers in child processes) through
 * the orchestrators, wait for every delivery, stop everything, and write the report.
 */
export interface RunOptions {
  spec: ScenarioSpec;
  /** The run's own folder (report.json, report.md, SVGs, decisions.jsonl). */
  outDir: string;
  /** A trace file; a seeded synthetic one (written to outDir) when absent. */
  file?: string;
  seed?: number;
  qos?: QoS;
  pacing?: Pacing;
  /** Processes the publishers are spread over. Default 2 (the machine has 2 cores). */
  publisherProcesses?: number;
  inflight?: number;
  /** Give up on deliveries this long after the publishers finished. Default 600 s. */
  drainTimeoutSeconds?: number;
  /** Give up when nothing arrived for this long. Default 30 s. */
  idleSeconds?: number;
  addressBlock?: string;
  /** provider.local.bootTimeoutMs: a broker not ready by then is failed (the matrix's calibrated boot budget). */
  bootTimeoutMs?: number;
  /** provider.local.bootCpuQuota: cores a broker boots with before it gets its own quota (the matrix's boot boost). */
  bootCpuQuota?: number;
  baseline?: Baseline & { report?: ScenarioReport };
  log?: Logger;
  /** Replica sampling period. Default 250 ms. */
  sampleMs?: number;
  /** Aborting stops the run: everything started is stopped, and runScenario rejects. */
  signal?: AbortSignal;
}

export interface RunResult {
  report: ScenarioReport;
  files: string[];
}

async function traceFile(options: RunOptions): Promise<{ file: string; records: TaxiRecord[] }> {
  const n = options.spec.records;
  if (options.file) {
    const { records } = await loadTrace(options.file, n);
    return { file: options.file, records };
  }
  const file = join(options.outDir, 'trace.txt');
  const records = [...generateTrace({ records: n, taxis: 316, seed: options.seed ?? 1 })];
  await writeTrace(records, file);
  return { file, records };
}

export function scenarioConfig(options: RunOptions, decisionLog: string): BrokelConfig {
  const deployment = `sc${process.pid}-${options.spec.name}`.replace(/[^a-z0-9-]/g, '').slice(0, 31);
  return validate(configSchema, {
    ...options.spec.config,
    deployment,
    manager: { decisionLog, drainQuietSeconds: 1, adminToken: `scenario-${deployment}-admin-token` },
    provider: {
      kind: 'local',
      local: {
        addressBlock: options.addressBlock ?? '127.47',
        ...(options.bootTimeoutMs === undefined ? {} : { bootTimeoutMs: options.bootTimeoutMs }),
        ...(options.bootCpuQuota === undefined ? {} : { bootCpuQuota: options.bootCpuQuota }),
      },
    },
  });
}

export async function runScenario(options: RunOptions): Promise<RunResult> {
  const log = options.log ?? silentLogger();
  const { spec } = options;
  await mkdir(options.outDir, { recursive: true });
  const decisionLogFile = join(options.outDir, 'decisions.jsonl');
  await rm(decisionLogFile, { force: true });
  const config = scenarioConfig(options, decisionLogFile);
  const { file, records } = await traceFile(options);
  const qos = options.qos ?? 1;
  const provider = await LocalProvider.start({
    deployment: config.deployment,
    config: config.provider.local,
    users: config.brokers.users,
    logger: log.child({ component: 'provider' }),
  });
  // s3: clients use the service name at a geo-dns the manager keeps current, and follow its rebalance.
  let dns: ScenarioDns | undefined;
  try {
    dns = spec.clientsViaDns ? await startScenarioDns(config, log) : undefined;
  } catch (err) {
    await provider.stop();
    throw err;
  }
  const { manager, topology, decisionLog } = assembleControlPlane({
    provider,
    config: () => config,
    decisionLogFile,
    adminToken: config.manager.adminToken ?? 'scenario-admin-token-0123456789',
    log,
    ...(dns ? { dns: dns.geo.directory } : {}),
  });
  const samples: Array<Omit<ReplicaSample, 't'> & { at: number }> = [];
  const placement: Array<Omit<PlacementSample, 't'> & { at: number }> = [];
  let sampling: NodeJS.Timeout | undefined;
  let subscribers: Subscribers | undefined;
  let rejectAbort: (err: Error) => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    rejectAbort = reject;
  });
  aborted.catch(() => undefined);
  const onAbort = () => rejectAbort(new Error('scenario interrupted'));
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  /** A step that gives up when the run is aborted (its own work is stopped by the clean-up below). */
  const step = <T>(p: Promise<T>): Promise<T> => Promise.race([p, aborted]);
  try {
    await step(manager.start());
    const orchestratorUrls = async () => {
      const ready = (await provider.list()).filter((r) => r.level === 'orchestrator' && r.state === 'ready');
      return ready.map((r) => r.url);
    };
    let busy = false;
    const sample = async () => {
      if (busy) return;
      busy = true;
      try {
        const list = (await provider.list()).filter((r) => r.state !== 'failed');
        const brokers = list.filter((r) => r.level === 'broker');
        const orchestrators = list.filter((r) => r.level === 'orchestrator');
        samples.push({
          at: Date.now(),
          broker: brokers.length,
          orchestrator: orchestrators.length,
          brokerReady: brokers.filter(
            (r) => r.state === 'ready' && topology.brokerStates.get(r.id) === 'active',
          ).length,
          orchestratorReady: orchestrators.filter((r) => r.state === 'ready').length,
        });
        if (dns && subscribers) {
          const serving = orchestrators.filter((r) => r.state === 'ready' || r.state === 'draining');
          const { perOrchestrator, disconnected } = placementSample(0, serving, subscribers.hosts());
          placement.push({ at: Date.now(), perOrchestrator, disconnected });
        }
      } finally {
        busy = false;
      }
    };
    await sample();
    sampling = setInterval(() => void sample(), options.sampleMs ?? 250);
    const firstOrchestrator = (await provider.list()).find((r) => r.level === 'orchestrator');
    const urls = dns ? await step(dns.urls(firstOrchestrator?.port ?? 1883)) : await orchestratorUrls();
    log.info({ urls, records: records.length }, 'scenario: system up; subscribing');
    const shares = splitShares(records, spec.subscribers);
    subscribers = Subscribers.prepare(shares, {
      urls,
      qos,
      // Moved subscribers keep their session on the brokers: what arrives meanwhile waits there.
      ...(dns ? { follow: dns.follow, persistent: true } : {}),
    });
    const all = shares.map((_, i) => i);
    // With geo-dns, half the subscribers connect before the publishers and half after, so the
    // orchestrator's sessions (which it sends away oldest first) are of both kinds, as devices would be.
    const early = dns ? all.filter((i) => i % 2 === 0) : all;
    const late = dns ? all.filter((i) => i % 2 === 1) : [];
    await step(subscribers.connect(early));
    const connected = subscribers;
    const bar = progressBar(spec.label, records.length);
    const publishing = runPublisherProcesses(
      {
        file,
        records: records.length,
        publishers: spec.publishers,
        urls,
        qos,
        pacing: options.pacing ?? { kind: 'max' },
        inflight: options.inflight ?? 64,
        clientIdPrefix: `taxi-pub-${process.pid}`,
        ...(dns ? { follow: dns.follow } : {}),
      },
      {
        processes: options.publisherProcesses ?? 2,
        beforeStart: () => connected.connect(late),
        onProgress: (n) => bar.update(n),
        urls: orchestratorUrls,
        signal: options.signal,
      },
    );
    const published = await step(publishing);
    bar.stop();
    const complete = await step(
      subscribers.waitComplete({
        timeoutMs: (options.drainTimeoutSeconds ?? 600) * 1000,
        idleMs: (options.idleSeconds ?? 30) * 1000,
      }),
    );
    const start = published.startedAt;
    const end = Math.max(published.finishedAt, subscribers.lastReceiveAt() ?? 0);
    clearInterval(sampling);
    sampling = undefined;
    await sample();
    await manager.stop();
    await decisionLog.flush();
    const logText = await readFile(decisionLogFile, 'utf8').catch(() => '');
    const parsed = parseDecisionLog(logText, start);
    const facts: RunFacts = {
      name: spec.name,
      label: spec.label,
      description: spec.description,
      records: records.length,
      publishers: spec.publishers,
      subscribers: spec.subscribers,
      qos,
      settings: {
        monitorIntervalSeconds: config.monitor.intervalSeconds,
        alpha: config.smoothing.alpha,
        brokers: config.levels.brokers,
        orchestrators: config.levels.orchestrators,
        pacing: options.pacing ?? { kind: 'max' },
        publisherProcesses: options.publisherProcesses ?? 2,
        inflightPerPublisher: options.inflight ?? 64,
        trace: options.file ?? `synthetic, seed ${options.seed ?? 1}`,
      },
      startedAt: new Date(start).toISOString(),
      applicationSeconds: (end - start) / 1000,
      publish: {
        sent: published.sent,
        acked: published.acked,
        failed: published.failed,
        seconds: published.seconds,
        reconnects: published.publishers.reduce((a, p) => a + (p.reconnects ?? 0), 0),
        resent: published.publishers.reduce((a, p) => a + (p.resent ?? 0), 0),
      },
      delivery: subscribers.summary(),
      complete,
      samples: samples.map(({ at, ...s }) => ({ t: (at - start) / 1000, ...s })),
      observations: parsed.observations,
      actions: parsed.actions,
      machine: { cores: availableParallelism(), node: process.versions.node },
      ...(dns
        ? {
            placement: {
              samples: placement.map(({ at, ...p }) => ({ t: (at - start) / 1000, ...p })),
              moves: subscribers.moves,
            },
          }
        : {}),
    };
    const report = buildReport(facts, options.baseline);
    const files = await writeScenarioReport(options.outDir, report, options.baseline);
    if (!options.file) await rm(file, { force: true });
    return { report, files };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (sampling) clearInterval(sampling);
    await subscribers?.close();
    await manager.stop();
    await provider.stop();
    await dns?.close();
  }
}
