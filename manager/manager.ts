import type { BrokelConfig } from '../common/config/schema.ts';
import { ConfigError, errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { brokerParams } from './broker-params.ts';
import { brokerCpuQuota } from './broker-quota.ts';
import { type Decision, decide, type LevelView, type ReplicaView } from './decide.ts';
import type { DecisionLog } from './decision-log.ts';
import { type DecisionContext, decisionEntry, type LevelLoads, recordMetrics } from './decision-record.ts';
import { LevelActions } from './level-actions.ts';
import { LEVEL_CONFIG } from './level-config.ts';
import { ManualTargetKeeper, type ManualTargetStore } from './manual-targets.ts';
import type { ManagerMetrics } from './metrics.ts';
import { EMPTY_HPA_HISTORY, type HpaHistory, recordHpa } from './policies/hpa.ts';
import { type CloudProvider, LEVELS, type Level, type Replica } from './providers/cloud-provider.ts';
import { sessionsPerOrchestrator } from './rebalance/ports.ts';
import type { RebalanceProgress } from './rebalance/rebalancer.ts';
import { type ForecastState, forecastStep, levelLoad, smooth } from './smoothing.ts';
import { startUp } from './start-up.ts';
import type { Topology } from './topology.ts';

export interface ManagerDeps {
  provider: CloudProvider;
  topology: Topology;
  /** The current config (hot-reloaded by the caller). */
  config: () => BrokelConfig;
  log: Logger;
  decisionLog: DecisionLog;
  metrics: ManagerMetrics;
  /** Keeps the manual targets across a restart (the deployment's state dir); none: they live in memory only. */
  targets?: ManualTargetStore;
}

export interface LevelStatus {
  level: Level;
  replicas: Array<Replica & { poolState?: string; cpu?: number; smoothed?: number; sessions?: number }>;
  load: number | undefined;
  rawLoad: number | undefined;
  forecast: number | undefined;
  actionInFlight: string | undefined;
  /** The operator's target (`brokel scale`), undefined when the policy decides (auto). */
  manualTarget?: number;
}

/** `{ manualTarget }` when a level has one (exactOptionalPropertyTypes: no key otherwise). */
const withManualTarget = (target: number | undefined) =>
  target === undefined ? {} : { manualTarget: target };

/**
 * The control loop (ARCHITECTURE.md, control plane): every interval it observes the provider,
 * smooths each replica's CPU, decides per level with the pure decide(), and starts at most one
 * action per level. Ticks never overlap; every tick recomputes from live state.
 */
export class Manager {
  private readonly smoothed = new Map<string, number>();
  private readonly raw = new Map<string, number>();
  private readonly holt = new Map<Level, ForecastState>();
  private readonly hpaHistory = new Map<Level, HpaHistory>();
  private readonly levelLoads = new Map<Level, LevelLoads>();
  readonly decisions: Array<Decision & { observation: number; time: string }> = [];
  private observation = 0;
  private timer: NodeJS.Timeout | undefined;
  /** When the next tick is due (performance.now() clock). */
  private nextDue: number | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;
  private brokerSeq = 0;
  private readonly actions: LevelActions;
  private readonly reaping = new Set<string>();
  private readonly manualTargets: ManualTargetKeeper;
  /** Aborted by stop(): every wait of an action in flight ends at once (ActionCancelled). */
  private readonly cancel = new AbortController();

  constructor(private readonly d: ManagerDeps) {
    this.manualTargets = new ManualTargetKeeper(d.targets, d.log);
    this.actions = new LevelActions({
      log: d.log,
      metrics: d.metrics,
      decisionLog: d.decisionLog,
      observation: () => this.observation,
    });
  }

  /**
   * Adopts what the provider has, fills each level up to its minimum, starts the loop, and finishes what
   * a previous run left half done (manager/start-up.ts).
   */
  async start(): Promise<void> {
    const replicas = await this.d.provider.list();
    this.brokerSeq = replicas.filter((r) => r.level === 'broker').length; // templates go on in turn
    await startUp(replicas, {
      provider: this.d.provider,
      topology: this.d.topology,
      config: () => this.d.config(),
      log: this.d.log,
      manualTargets: this.manualTargets,
      smoothed: this.smoothed,
      addBroker: (config) => this.addBroker(config),
      runAction: (level, what, run) => this.actions.run(level, what, run),
      signal: this.cancel.signal,
    });
    this.schedule();
  }

  /**
   * `brokel scale <level> <n>`: a replica count the policy follows (within min/max) until set back
   * to auto (`undefined`). Refused outside [min, max] so the operator hears it, not a silent clamp.
   */
  setManualTarget(level: Level, target: number | undefined): Promise<void> {
    if (target === undefined) {
      this.d.log.info({ level }, 'scale: back to the policy');
      return this.manualTargets.set(level, undefined);
    }
    const t = this.d.config().levels[LEVEL_CONFIG[level]];
    if (!Number.isInteger(target) || target < t.min || target > t.max)
      throw new ConfigError([
        {
          path: `scale.${LEVEL_CONFIG[level]}`,
          message: `${target} is not an integer within [${t.min}, ${t.max}]`,
        },
      ]);
    this.d.log.info({ level, target }, 'scale: manual target set');
    return this.manualTargets.set(level, target);
  }

  /**
   * The next template in turn, at its own quota (levels.brokers.cpuQuotaByTemplate) or the level's,
   * with its params from the config's `brokers` section (acl, topicPermissions).
   */
  private addBroker(config: BrokelConfig): Promise<Replica> {
    const template = this.nextTemplate();
    return this.d.topology.addBroker(
      template,
      brokerCpuQuota(config.levels.brokers, template),
      brokerParams(config.brokers, template),
      this.cancel.signal,
    );
  }

  private nextTemplate(): string {
    const templates = [this.d.config().levels.brokers.template].flat();
    return templates[this.brokerSeq++ % templates.length] ?? 'mosquitto';
  }

  /**
   * Ticks at a fixed rate (ARCHITECTURE.md: observations are periodic): the next one is due one
   * interval after the previous one was due, not after it ended. Ticks never overlap: a tick that
   * overran its slot makes the slots it covered be skipped (logged and counted), never run late.
   */
  private schedule(): void {
    if (this.stopped) return;
    const periodMs = this.d.config().monitor.intervalSeconds * 1000;
    const now = performance.now();
    let due = (this.nextDue ?? now) + periodMs;
    if (due < now) {
      const skipped = Math.ceil((now - due) / periodMs);
      due += skipped * periodMs;
      this.d.metrics.ticksSkipped.inc(skipped);
      this.d.log.warn({ skipped, periodMs }, 'a monitoring tick overran its interval: slots skipped');
    }
    this.nextDue = due;
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
    }, due - now);
  }

  /** One observation: observe, smooth, decide, act. */
  async tick(): Promise<Decision[]> {
    const config = this.d.config();
    this.observation += 1;
    const tick = this.observation;
    const replicas = await this.d.provider.list();
    this.reapFailed(replicas);
    this.d.topology.failedJoins.retry(
      this.actions.busy('broker') || this.stopped,
      (what, undo) => this.actions.run('broker', what, undo),
      this.cancel.signal,
    );
    const ready = replicas.filter((r) => r.state === 'ready');
    const cpu = await this.d.provider.cpu(ready.map((r) => r.id));
    for (const [id, value] of cpu) {
      if (value === undefined) continue;
      this.raw.set(id, value);
      this.smoothed.set(id, smooth(this.smoothed.get(id), value, config.smoothing.alpha));
    }
    for (const r of replicas.filter((x) => x.level === 'orchestrator'))
      await this.d.topology.geoDns.publish(r, this.smoothed.get(r.id) ?? 0);
    const views: LevelView[] = LEVELS.map((level) => this.levelView(level, replicas, config));
    const decisions = decide({
      levels: views,
      observation: tick,
      policy: {
        kind: config.policy,
        warmupObservations: config.monitor.warmupObservations,
        slaMaxReplicas: config.sla.maxReplicas,
        hpa: { ...config.hpa, intervalSeconds: config.monitor.intervalSeconds },
      },
      thresholds: { broker: config.levels.brokers, orchestrator: config.levels.orchestrators },
    });
    for (const decision of decisions) this.record(decision, tick, replicas, config);
    for (const decision of decisions) {
      const added =
        decision.action === 'add' && !this.actions.busy(decision.level) ? (decision.count ?? 1) : 0;
      const history = this.hpaHistory.get(decision.level) ?? EMPTY_HPA_HISTORY;
      const now = tick * config.monitor.intervalSeconds;
      this.hpaHistory.set(
        decision.level,
        recordHpa(history, now, decision.recommendation, added, config.hpa),
      );
    }
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
      const step = forecastStep(this.holt.get(level), rawLoad, measured.length, {
        alpha: config.smoothing.alpha,
        beta: config.proactive.beta,
        horizon: config.proactive.horizonObservations,
      });
      this.holt.set(level, step.state);
      forecast = step.forecast;
    }
    this.levelLoads.set(level, { load, raw: rawLoad, forecast });
    const views: ReplicaView[] = mine.map((r) => {
      const pool = level === 'broker' ? this.d.topology.brokerStates.get(r.id) : undefined;
      const state = r.state === 'ready' && (pool === 'joining' || pool === 'draining') ? pool : r.state;
      return { id: r.id, state, createdAt: r.createdAt, smoothed: this.smoothed.get(r.id) };
    });
    return {
      level,
      replicas: views,
      load,
      forecast,
      actionInFlight: this.actions.busy(level),
      sinceLastAction: this.actions.since(level),
      ...withManualTarget(this.manualTargets.get(level)),
      rawLoad,
      hpa: this.hpaHistory.get(level) ?? EMPTY_HPA_HISTORY,
    };
  }

  /** Writes a decision to the decision log, the recent list (status) and the metrics. */
  private record(decision: Decision, tick: number, replicas: readonly Replica[], config: BrokelConfig): void {
    const level = decision.level;
    const context: DecisionContext = {
      tick,
      mine: replicas.filter((r) => r.level === level),
      raw: this.raw,
      smoothed: this.smoothed,
      pool: this.d.topology.brokerStates,
      inFlight: this.actions.current(level),
      loads: this.levelLoads.get(level) ?? {},
      config,
    };
    this.d.decisionLog.append(decisionEntry(decision, context));
    this.decisions.push({ ...decision, observation: tick, time: new Date().toISOString() });
    if (this.decisions.length > 50) this.decisions.shift();
    recordMetrics(this.d.metrics, decision, context);
  }

  private act(decision: Decision, config: BrokelConfig): void {
    const level = decision.level;
    if (this.actions.busy(level) || this.stopped) return;
    const victims = decision.action === 'remove' ? (decision.replicas ?? [decision.replica]) : [];
    const adds = decision.action === 'add' ? (decision.count ?? 1) : 0;
    const what =
      decision.action === 'remove' ? `remove ${victims.join(' ')}` : adds > 1 ? `add ${adds}` : 'add';
    const signal = this.cancel.signal;
    this.actions.run(level, what, async () => {
      // Several replicas (the hpa policy, or maxAddPerAction above one) are created together; removed one after the other.
      await Promise.all(
        Array.from({ length: adds }, () =>
          level === 'broker'
            ? this.addBroker(config)
            : this.d.topology.addOrchestrator(config.levels.orchestrators.cpuQuota, signal),
        ),
      );
      if (adds > 0 && level === 'orchestrator' && config.rebalance.afterJoin && !this.stopped)
        void this.rebalance('orchestrator joined');
      for (const id of victims) {
        if (level === 'broker') await this.d.topology.removeBroker(id, signal);
        else await this.d.topology.removeOrchestrator(id, signal);
      }
    });
  }

  /**
   * A failed replica leaves the pool and is destroyed, in the background (the tick does not wait for
   * it); the level refills through decide().
   */
  private reapFailed(replicas: readonly Replica[]): void {
    for (const r of replicas.filter((x) => x.state === 'failed' && !this.reaping.has(x.id))) {
      this.d.log.warn({ replica: r.id, failure: r.failure }, 'replica failed: removing it');
      this.reaping.add(r.id);
      this.d.topology.brokerStates.delete(r.id);
      const reap = (async () => {
        if (r.level === 'orchestrator') await this.d.topology.geoDns.unpublish(r.id);
        await this.d.provider.destroy(r.id).catch(() => undefined);
        await this.d.topology.pushPool().catch(() => undefined);
      })().finally(() => this.reaping.delete(r.id));
      this.actions.track(reap);
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
        actionInFlight: this.actions.current(level),
        ...withManualTarget(this.manualTargets.get(level)),
      })),
    };
  }

  /**
   * Stops the loop, cancels the actions under way (their waits end at once; a replica one of them
   * created stays for the next manager or the provider's stop) and waits for them and the tick.
   * Bounded by one provider call or status poll, not by manager.actionTimeoutSeconds.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.cancel.abort();
    await this.ticking;
    await this.d.topology.rebalancer.stop();
    await this.actions.settled();
    await this.d.decisionLog.flush();
  }
}
