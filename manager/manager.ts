import type { BrokelConfig } from '../common/config/schema.ts';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { type Decision, decide, type LevelView, type ReplicaView } from './decide.ts';
import type { DecisionLog } from './decision-log.ts';
import type { ManagerMetrics } from './metrics.ts';
import { type CloudProvider, LEVELS, type Level, type Replica } from './providers/cloud-provider.ts';
import { sessionsPerOrchestrator } from './rebalance/ports.ts';
import type { RebalanceProgress } from './rebalance/rebalancer.ts';
import { type HoltState, holtForecast, holtStep, levelLoad, smooth } from './smoothing.ts';
import type { Topology } from './topology.ts';

export interface ManagerDeps {
  provider: CloudProvider;
  topology: Topology;
  /** The current config (hot-reloaded by the caller). */
  config: () => BrokelConfig;
  log: Logger;
  decisionLog: DecisionLog;
  metrics: ManagerMetrics;
}

export interface LevelStatus {
  level: Level;
  replicas: Array<Replica & { poolState?: string; cpu?: number; smoothed?: number; sessions?: number }>;
  load: number | undefined;
  rawLoad: number | undefined;
  forecast: number | undefined;
  actionInFlight: string | undefined;
}

const LEVEL_CONFIG = { broker: 'brokers', orchestrator: 'orchestrators' } as const;

/**
 * The control loop (ARCHITECTURE.md, control plane): every interval it observes the provider,
 * smooths each replica's CPU, decides per level with the pure decide(), and starts at most one
 * action per level. Ticks never overlap; every tick recomputes from live state.
 */
export class Manager {
  private readonly smoothed = new Map<string, number>();
  private readonly raw = new Map<string, number>();
  private readonly holt = new Map<Level, HoltState>();
  private readonly inFlight = new Map<Level, string>();
  private readonly lastActionAt = new Map<Level, number>();
  private readonly levelLoads = new Map<Level, { load?: number; raw?: number; forecast?: number }>();
  readonly decisions: Array<Decision & { observation: number; time: string }> = [];
  private observation = 0;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;
  private brokerSeq = 0;
  private readonly actions = new Set<Promise<void>>();

  constructor(private readonly d: ManagerDeps) {}

  /** Adopts what the provider has, fills each level up to its minimum, then starts the loop. */
  async start(): Promise<void> {
    const replicas = await this.d.provider.list();
    for (const r of replicas) {
      if (r.level === 'broker' && r.state !== 'failed')
        this.d.topology.brokerStates.set(r.id, r.state === 'draining' ? 'draining' : 'active');
    }
    await this.d.topology.adoptReportedPools();
    // Finish what a previous run left half done: a joining broker joins, a draining one is removed.
    for (const r of replicas.filter((x) => x.level === 'broker' && x.state !== 'failed')) {
      const state = this.d.topology.brokerStates.get(r.id);
      if (state === 'joining') await this.d.topology.join(r);
      else if (state === 'draining') await this.d.topology.removeBroker(r.id);
    }
    this.brokerSeq = replicas.filter((r) => r.level === 'broker').length;
    const config = this.d.config();
    while ((await this.live('broker')).length < config.levels.brokers.min)
      await this.d.topology.addBroker(this.nextTemplate(), config.levels.brokers.cpuQuota);
    while ((await this.live('orchestrator')).length < config.levels.orchestrators.min) {
      await this.d.topology.addOrchestrator(config.levels.orchestrators.cpuQuota);
    }
    await this.d.topology.pushPool();
    // Orchestrators a previous run left (adopted) are in no geo-dns yet.
    for (const r of await this.live('orchestrator'))
      await this.d.topology.publishDns(r, this.smoothed.get(r.id) ?? 0);
    this.schedule();
  }

  private async live(level: Level): Promise<Replica[]> {
    return (await this.d.provider.list()).filter((r) => r.level === level && r.state !== 'failed');
  }

  private nextTemplate(): string {
    const templates = [this.d.config().levels.brokers.template].flat();
    return templates[this.brokerSeq++ % templates.length] ?? 'mosquitto';
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick()
        .then(
          () => undefined,
          (err: unknown) => this.d.log.error({ err: errorMessage(err) }, 'monitoring tick failed'),
        )
        .finally(() => {
          this.ticking = undefined;
          this.schedule();
        });
    }, this.d.config().monitor.intervalSeconds * 1000);
  }

  /** One observation: observe, smooth, decide, act. */
  async tick(): Promise<Decision[]> {
    const config = this.d.config();
    this.observation += 1;
    const tick = this.observation;
    const replicas = await this.d.provider.list();
    await this.reapFailed(replicas);
    const ready = replicas.filter((r) => r.state === 'ready');
    const cpu = await this.d.provider.cpu(ready.map((r) => r.id));
    for (const [id, value] of cpu) {
      if (value === undefined) continue;
      this.raw.set(id, value);
      this.smoothed.set(id, smooth(this.smoothed.get(id), value, config.smoothing.alpha));
    }
    for (const r of replicas.filter((x) => x.level === 'orchestrator'))
      await this.d.topology.publishDns(r, this.smoothed.get(r.id) ?? 0);
    const views: LevelView[] = LEVELS.map((level) => this.levelView(level, replicas, config));
    const decisions = decide({
      levels: views,
      observation: tick,
      policy: {
        kind: config.policy,
        warmupObservations: config.monitor.warmupObservations,
        slaMaxReplicas: config.sla.maxReplicas,
      },
      thresholds: { broker: config.levels.brokers, orchestrator: config.levels.orchestrators },
    });
    for (const decision of decisions) this.record(decision, tick, replicas, config);
    for (const decision of decisions) if (decision.action !== 'none') this.act(decision, config);
    return decisions;
  }

  private levelView(level: Level, replicas: readonly Replica[], config: BrokelConfig): LevelView {
    const mine = replicas.filter((r) => r.level === level);
    const measured = mine.filter((r) => r.state === 'ready' && this.smoothed.has(r.id));
    const capacity = (r: Replica) => r.cpuQuota ?? 1;
    const load = levelLoad(
      measured.map((r) => ({ load: this.smoothed.get(r.id) ?? 0, capacity: capacity(r) })),
    );
    const rawLoad = levelLoad(
      measured.map((r) => ({ load: this.raw.get(r.id) ?? 0, capacity: capacity(r) })),
    );
    let forecast: number | undefined;
    if (rawLoad !== undefined) {
      const holt = holtStep(this.holt.get(level), rawLoad, config.smoothing.alpha, config.proactive.beta);
      this.holt.set(level, holt);
      forecast = holtForecast(holt, config.proactive.horizonObservations);
    }
    this.levelLoads.set(level, { load, raw: rawLoad, forecast });
    const views: ReplicaView[] = mine.map((r) => {
      const pool = level === 'broker' ? this.d.topology.brokerStates.get(r.id) : undefined;
      const state = r.state === 'ready' && (pool === 'joining' || pool === 'draining') ? pool : r.state;
      return { id: r.id, state, createdAt: r.createdAt, smoothed: this.smoothed.get(r.id) };
    });
    const last = this.lastActionAt.get(level);
    return {
      level,
      replicas: views,
      load,
      forecast,
      actionInFlight: this.inFlight.has(level),
      sinceLastAction: last === undefined ? Number.POSITIVE_INFINITY : this.observation - last,
    };
  }

  private record(decision: Decision, tick: number, replicas: readonly Replica[], config: BrokelConfig): void {
    const level = decision.level;
    const t = config.levels[LEVEL_CONFIG[level]];
    const mine = replicas.filter((r) => r.level === level);
    const loads = this.levelLoads.get(level) ?? {};
    this.d.decisionLog.append({
      tick,
      level,
      cpu: Object.fromEntries(mine.map((r) => [r.id, this.raw.get(r.id) ?? null])),
      smoothed: Object.fromEntries(mine.map((r) => [r.id, this.smoothed.get(r.id) ?? null])),
      states: Object.fromEntries(mine.map((r) => [r.id, r.state])),
      load: loads.load ?? null,
      rawLoad: loads.raw ?? null,
      forecast: loads.forecast ?? null,
      lower: t.lower,
      upper: t.upper,
      policy: config.policy,
      decision: decision.action,
      ...(decision.action === 'remove' ? { replica: decision.replica } : {}),
      reason: decision.reason,
    });
    this.decisions.push({ ...decision, observation: tick, time: new Date().toISOString() });
    if (this.decisions.length > 50) this.decisions.shift();
    const m = this.d.metrics;
    m.decisions.inc({ level, action: decision.action });
    if (loads.load !== undefined) m.load.set({ level, kind: 'smoothed' }, loads.load);
    if (loads.raw !== undefined) m.load.set({ level, kind: 'raw' }, loads.raw);
    m.threshold.set({ level, bound: 'lower' }, t.lower);
    m.threshold.set({ level, bound: 'upper' }, t.upper);
    for (const state of ['booting', 'ready', 'draining', 'failed']) {
      m.replicas.set({ level, state }, mine.filter((r) => r.state === state).length);
    }
  }

  private act(decision: Decision, config: BrokelConfig): void {
    const level = decision.level;
    if (this.inFlight.has(level) || this.stopped) return;
    const started = performance.now();
    const what = decision.action === 'remove' ? `remove ${decision.replica}` : 'add';
    this.inFlight.set(level, what);
    this.lastActionAt.set(level, this.observation);
    const run = async () => {
      if (decision.action === 'add') {
        if (level === 'broker')
          await this.d.topology.addBroker(this.nextTemplate(), config.levels.brokers.cpuQuota);
        else {
          await this.d.topology.addOrchestrator(config.levels.orchestrators.cpuQuota);
          if (config.rebalance.afterJoin) void this.rebalance('orchestrator joined');
        }
      } else if (decision.action === 'remove') {
        if (level === 'broker') await this.d.topology.removeBroker(decision.replica);
        else await this.d.topology.removeOrchestrator(decision.replica);
      }
    };
    const action = run().then(
      () => this.finish(level, what, started, 'done'),
      (err: unknown) => {
        this.d.log.error({ level, action: what, err: errorMessage(err) }, 'action failed');
        this.finish(level, what, started, 'failed');
      },
    );
    this.actions.add(action);
    void action.finally(() => this.actions.delete(action));
  }

  private finish(level: Level, what: string, started: number, outcome: 'done' | 'failed'): void {
    const seconds = (performance.now() - started) / 1000;
    this.inFlight.delete(level);
    this.lastActionAt.set(level, this.observation);
    this.d.metrics.actionSeconds.observe({ level, action: what.split(' ')[0] ?? what, outcome }, seconds);
    this.d.decisionLog.append({ tick: this.observation, level, action: what, outcome, seconds });
  }

  /** A failed replica leaves the pool and is destroyed; the level refills through decide(). */
  private async reapFailed(replicas: readonly Replica[]): Promise<void> {
    for (const r of replicas.filter((x) => x.state === 'failed')) {
      this.d.log.warn({ replica: r.id, failure: r.failure }, 'replica failed: removing it');
      this.d.topology.brokerStates.delete(r.id);
      if (r.level === 'orchestrator') await this.d.topology.unpublishDns(r.id);
      await this.d.provider.destroy(r.id).catch(() => undefined);
      await this.d.topology.pushPool().catch(() => undefined);
    }
  }

  /** Starts a rebalance of the orchestrators' sessions (or joins the one under way); resolves when it ends. */
  rebalance(reason: string): Promise<RebalanceProgress> {
    return this.d.topology.rebalancer.rebalance(reason);
  }

  rebalanceStatus(): RebalanceProgress | null {
    return this.d.topology.rebalancer.status() ?? null;
  }

  async status(): Promise<{
    observation: number;
    levels: LevelStatus[];
    decisions: Manager['decisions'];
    rebalance: RebalanceProgress | null;
  }> {
    const replicas = await this.d.provider.list();
    const sessions = await sessionsPerOrchestrator(this.d.topology, replicas);
    return {
      observation: this.observation,
      rebalance: this.rebalanceStatus(),
      decisions: this.decisions.slice(-20),
      levels: LEVELS.map((level) => ({
        level,
        replicas: replicas
          .filter((r) => r.level === level)
          .map((r) => ({
            ...r,
            ...(level === 'broker' ? { poolState: this.d.topology.brokerStates.get(r.id) } : {}),
            cpu: this.raw.get(r.id),
            smoothed: this.smoothed.get(r.id),
            ...(sessions.has(r.id) ? { sessions: sessions.get(r.id) } : {}),
          })),
        load: this.levelLoads.get(level)?.load,
        rawLoad: this.levelLoads.get(level)?.raw,
        forecast: this.levelLoads.get(level)?.forecast,
        actionInFlight: this.inFlight.get(level),
      })),
    };
  }

  /** Stops the loop and waits for the tick and actions under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
    await this.d.topology.rebalancer.stop();
    await Promise.allSettled([...this.actions]);
    await this.d.decisionLog.flush();
  }
}
