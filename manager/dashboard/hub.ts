import type { ServerResponse } from 'node:http';
import type { OrchestratorStatus } from '../../common/admin/contract.ts';
import type { BrokelConfig } from '../../common/config/schema.ts';
import type { AnswerCount } from '../../common/dns-answers.ts';
import { errorMessage, HttpError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { OrchestratorRecord } from '../../common/orchestrator-record.ts';
import type { Replica } from '../providers/cloud-provider.ts';
import { DashboardHistory } from './history.ts';
import { type DashboardSnapshot, type ManagerView, SnapshotBuilder } from './snapshot.ts';

/** Where the dashboard reads the world: the manager, the orchestrators' admin API, geo-dns. */
export interface DashboardSources {
  manager: { status(): Promise<ManagerView> };
  config(): BrokelConfig;
  orchestratorStatus(replica: Replica): Promise<OrchestratorStatus>;
  /** geo-dns's directory when it runs in this process. */
  dnsRecords?: () => readonly OrchestratorRecord[];
  /** geo-dns's answers by client region and orchestrator, when it runs in this process. */
  dnsAnswers?: () => readonly AnswerCount[];
}

/** Browsers watching at once; one more is refused with 429 (each holds a socket and a timer's work). */
export const MAX_WATCHERS = 32;
/** A comment line this often keeps proxies and the browser from timing the stream out. */
const HEARTBEAT_MS = 15_000;
/** A watcher whose socket buffers more than this is too slow: it is dropped, never queued for. */
const MAX_WATCHER_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * Polls the manager (and the orchestrators it lists) twice per monitoring interval, keeps the
 * history, and pushes each snapshot to the browsers watching over server-sent events (read-only).
 */
export class DashboardHub {
  private readonly builder = new SnapshotBuilder(new DashboardHistory());
  private readonly watchers = new Set<ServerResponse>();
  private latest: DashboardSnapshot | undefined;
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly sources: DashboardSources,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.heartbeat = setInterval(() => {
      for (const w of this.watchers) w.write(': keep-alive\n\n');
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll()
        .catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'dashboard poll failed'))
        .finally(() => {
          this.polling = undefined;
          const interval = this.sources.config().monitor.intervalSeconds * 1000;
          this.schedule(Math.min(5000, Math.max(250, interval / 2)));
        });
    }, delayMs);
    this.timer.unref();
  }

  /** The latest snapshot (polling once when there is none yet). */
  async snapshot(): Promise<DashboardSnapshot> {
    if (!this.latest) await this.poll();
    return this.latest as DashboardSnapshot;
  }

  private async poll(): Promise<void> {
    const config = this.sources.config();
    const manager = await this.sources.manager.status();
    const orchestrators = new Map<string, OrchestratorStatus>();
    const ready =
      manager.levels.find((l) => l.level === 'orchestrator')?.replicas.filter((r) => r.state === 'ready') ??
      [];
    await Promise.all(
      ready.map(async (r) => {
        const status = await this.sources.orchestratorStatus(r).catch(() => undefined);
        if (status) orchestrators.set(r.id, status);
      }),
    );
    this.latest = this.builder.build({
      nowMs: Date.now(),
      deployment: config.deployment,
      policy: config.policy,
      intervalSeconds: config.monitor.intervalSeconds,
      thresholds: { broker: config.levels.brokers, orchestrator: config.levels.orchestrators },
      manager,
      orchestrators,
      dnsRecords: this.sources.dnsRecords?.(),
      dnsAnswers: this.sources.dnsAnswers?.(),
    });
    const event = `event: snapshot\ndata: ${JSON.stringify(this.latest)}\n\n`;
    for (const w of this.watchers) {
      if (w.writableLength > MAX_WATCHER_BUFFER_BYTES) w.destroy();
      else w.write(event);
    }
  }

  /** Refuses one more watcher when the hub is full or stopped (before the response is taken over). */
  checkRoom(): void {
    if (this.stopped) throw new HttpError(429, 'the dashboard is stopping');
    if (this.watchers.size >= MAX_WATCHERS)
      throw new HttpError(429, `the dashboard already has ${MAX_WATCHERS} watchers`);
  }

  /** Takes over a response as an event stream: the latest snapshot now, then each new one. */
  watch(res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\n\n`);
    if (this.latest) res.write(`event: snapshot\ndata: ${JSON.stringify(this.latest)}\n\n`);
    this.watchers.add(res);
    res.on('close', () => this.watchers.delete(res));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.polling;
    for (const w of this.watchers) w.end();
    this.watchers.clear();
  }
}
