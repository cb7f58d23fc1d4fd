import type { BrokelConfig } from '../common/config/schema.ts';
import { ConfigError, errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { brokerParams } from './broker-params.ts';
import { brokerCpuQuota } from './broker-quota.ts';
import { ActionCancelled, cancellable } from './cancel.ts';
import { type Decision, decide, type LevelView, type ReplicaView } from './decide.ts';
import type { DecisionLog } from './decision-log.ts';
import { ManualTargetKeeper, type ManualTargetStore } from './manual-targets.ts';
import type { ManagerMetrics } from './metrics.ts';
import { EMPTY_HPA_HISTORY, type HpaHistory, recordHpa } from './policies/hpa.ts';
import { type CloudProvider, LEVELS, type Level, type Replica } from './providers/cloud-provider.ts';
import { sessionsPerOrchestrator } from './rebalance/ports.ts';
import type { RebalanceProgress } from './rebalance/rebalancer.ts';
import { planResume, type ResumePlan } from './resume.ts';
import { type ForecastState, forecastStep, levelLoad, smooth } from './smoothing.ts';
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

const LEVEL_CONFIG = { broker: 'brokers', orchestrator: 'orchestrators' } as const;

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
  private readonly inFlight = new Map<Level, string>();
  private readonly lastActionAt = new Map<Level, number>();
  private readonly levelLoads = new Map<Level, { load?: number; raw?: number; forecast?: number }>();
  readonly decisions: Array<Decision & { observation: number; time: string }> = [];
  private observation = 0;
  private timer: NodeJS.Timeout | undefined;
  /** When the next tick is due (performance.now() clock). */
  private nextDue: number | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;
  private brokerSeq = 0;
  private readonly actions = new Set<Promise<void>>();
  private readonly reaping = new Set<string>();
  private readonly manualTargets: ManualTargetKeeper;
  /** Aborted by stop(): every wait of an action in flight ends at once (ActionCancelled). */
  private readonly cancel = new AbortController();

  constructor(private readonly d: ManagerDeps) {
    this.manualTargets = new ManualTargetKeeper(d.targets, d.log);
  }

  /**
   * Adopts what the provider has, fills each level up to its minimum, starts the loop, and finishes
   * what a previous run left half done (planResume) as the broker level's action in flight, so the
   * loop observes meanwhile and decide() waits for it.
   *
   * A restart (a broker or a ready orchestrator adopted) waits on no replica beyond one bounded admin call per
   * orchestrator: geo-dns gets the adopted orchestrators first, and the refill and the resume run as
   * the levels' actions in flight, so a stalled broker (SIGSTOP: TCP accepted, no MQTT) holds up only
   * the join that reads from it, never the API, geo-dns or the loop (issue 17). A first start (no
   * broker and no ready orchestrator adopted: every replica it waits on is new) waits for its minimum,
   * so it is up when it says so.
   */
  async start(): Promise<void> {
    const replicas = await this.d.provider.list();
    const adopted = replicas.filter((r) => r.state !== 'failed');
    // Orchestrators a previous run left (adopted) are in no geo-dns yet: published before any replica I/O.
    for (const r of adopted.filter((x) => x.level === 'orchestrator'))
      await this.d.topology.publishDns(r, this.smoothed.get(r.id) ?? 0);
    const plan = planResume(
      replicas.filter((r) => r.level === 'broker'),
      await this.d.topology.reportedPool(),
    );
    for (const [id, state] of plan.states) this.d.topology.brokerStates.set(id, state);
    this.brokerSeq = replicas.filter((r) => r.level === 'broker').length;
    const config = this.d.config();
    await this.manualTargets.restore((level) => config.levels[LEVEL_CONFIG[level]]);
    // A restart: the refill could wait on a replica it did not create (a broker its join reads
    // retained messages from, an orchestrator it polls), so it runs in the background.
    const restart = adopted.some((r) => r.level === 'broker' || r.state === 'ready');
    if (!restart) {
      await this.fillBrokers(config);
      await this.fillOrchestrators(config);
    }
    // The adopted pool (none when every broker died meanwhile: the refill's join tells them). An
    // orchestrator that does not answer (a bounded call) hears it at the next change of the pool.
    if ((await this.d.topology.desiredPool()).length > 0)
      await this.d.topology.pushPool().catch((err: unknown) => {
        if (!restart) throw err;
        this.d.log.warn({ err: errorMessage(err) }, 'start-up: an orchestrator was not told the pool');
      });
    const short = (level: Level) =>
      restart && adopted.filter((r) => r.level === level).length < config.levels[LEVEL_CONFIG[level]].min;
    if (short('orchestrator'))
      this.runAction('orchestrator', 'refill to the minimum', () => this.fillOrchestrators(config));
    const resume = [...plan.join.map((r) => `join ${r.id}`), ...plan.remove.map((r) => `remove ${r.id}`)];
    if (resume.length > 0) this.d.log.warn({ resume }, 'finishing what the previous manager left half done');
    const refill = short('broker');
    if (refill || resume.length > 0) {
      const what = [...(refill ? ['refill to the minimum'] : []), ...resume].join(', ');
      this.runAction('broker', resume.length > 0 ? `resume ${what}` : what, async () => {
        if (refill) await this.fillBrokers(config);
        await this.resume(plan, config);
      });
    }
    this.schedule();
  }

  /** Adds brokers, one after the other, until the level has its minimum of live ones. */
  private async fillBrokers(config: BrokelConfig): Promise<void> {
    while ((await this.live('broker')).length < config.levels.brokers.min) await this.addBroker(config);
  }

  private async fillOrchestrators(config: BrokelConfig): Promise<void> {
    while ((await this.live('orchestrator')).length < config.levels.orchestrators.min)
      await this.d.topology.addOrchestrator(config.levels.orchestrators.cpuQuota, this.cancel.signal);
  }

  /** Joins the brokers a previous run left joining, finishes the removals it left draining. */
  private async resume(plan: ResumePlan, config: BrokelConfig): Promise<void> {
    const signal = this.cancel.signal;
    const timeoutMs = config.manager.actionTimeoutSeconds * 1000;
    for (const r of plan.join) {
      const ready =
        r.state === 'ready'
          ? r
          : await cancellable(this.d.provider.waitReady(r.id, timeoutMs), signal, `broker ${r.id} ready`);
      await this.d.topology.join(ready, signal);
    }
    for (const r of plan.remove) await this.d.topology.removeBroker(r.id, signal);
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

  private async live(level: Level): Promise<Replica[]> {
    return (await this.d.provider.list()).filter((r) => r.level === level && r.state !== 'failed');
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
    this.retryFailedJoin();
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
        hpa: { ...config.hpa, intervalSeconds: config.monitor.intervalSeconds },
      },
      thresholds: { broker: config.levels.brokers, orchestrator: config.levels.orchestrators },
    });
    for (const decision of decisions) this.record(decision, tick, replicas, config);
    for (const decision of decisions) {
      const added =
        decision.action === 'add' && !this.inFlight.has(decision.level) ? (decision.count ?? 1) : 0;
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
    const last = this.lastActionAt.get(level);
    return {
      level,
      replicas: views,
      load,
      forecast,
      actionInFlight: this.inFlight.has(level),
      sinceLastAction: last === undefined ? Number.POSITIVE_INFINITY : this.observation - last,
      ...withManualTarget(this.manualTargets.get(level)),
      rawLoad,
      hpa: this.hpaHistory.get(level) ?? EMPTY_HPA_HISTORY,
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
      // With cpu and states, what a replay of decide() needs (manager/quality/decide-loop.ts).
      ...(level === 'broker'
        ? {
            pool: Object.fromEntries(mine.map((r) => [r.id, this.d.topology.brokerStates.get(r.id) ?? null])),
          }
        : {}),
      created: Object.fromEntries(mine.map((r) => [r.id, r.createdAt])),
      inFlight: this.inFlight.get(level) ?? null,
      load: loads.load ?? null,
      rawLoad: loads.raw ?? null,
      forecast: loads.forecast ?? null,
      lower: t.lower,
      upper: t.upper,
      policy: config.policy,
      decision: decision.action,
      ...(decision.action === 'remove' ? { replica: decision.replica } : {}),
      ...(decision.action === 'remove' && decision.replicas ? { replicas: decision.replicas } : {}),
      ...(decision.action === 'add' && decision.count !== undefined ? { count: decision.count } : {}),
      ...(decision.recommendation !== undefined ? { recommendation: decision.recommendation } : {}),
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
    const victims = decision.action === 'remove' ? (decision.replicas ?? [decision.replica]) : [];
    const adds = decision.action === 'add' ? (decision.count ?? 1) : 0;
    const what =
      decision.action === 'remove' ? `remove ${victims.join(' ')}` : adds > 1 ? `add ${adds}` : 'add';
    const signal = this.cancel.signal;
    this.runAction(level, what, async () => {
      // Several replicas only under the hpa policy: created together, removed one after the other.
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

  /** Carries out one action of a level in the background: the level's one action in flight. */
  private runAction(level: Level, what: string, run: () => Promise<void>): void {
    const started = performance.now();
    this.inFlight.set(level, what);
    this.lastActionAt.set(level, this.observation);
    const action = run().then(
      () => this.finish(level, what, started, 'done'),
      (err: unknown) => {
        if (err instanceof ActionCancelled) {
          this.d.log.warn({ level, action: what, err: errorMessage(err) }, 'action cancelled');
          return this.finish(level, what, started, 'cancelled');
        }
        this.d.log.error({ level, action: what, err: errorMessage(err) }, 'action failed');
        this.finish(level, what, started, 'failed');
      },
    );
    this.actions.add(action);
    void action.finally(() => this.actions.delete(action));
  }

  private finish(
    level: Level,
    what: string,
    started: number,
    outcome: 'done' | 'failed' | 'cancelled',
  ): void {
    const seconds = (performance.now() - started) / 1000;
    this.inFlight.delete(level);
    this.lastActionAt.set(level, this.observation);
    this.d.metrics.actionSeconds.observe({ level, action: what.split(' ')[0] ?? what, outcome }, seconds);
    this.d.decisionLog.append({ tick: this.observation, level, action: what, outcome, seconds });
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
        if (r.level === 'orchestrator') await this.d.topology.unpublishDns(r.id);
        await this.d.provider.destroy(r.id).catch(() => undefined);
        await this.d.topology.pushPool().catch(() => undefined);
      })().finally(() => this.reaping.delete(r.id));
      this.actions.add(reap);
      void reap.finally(() => this.actions.delete(reap));
    }
  }

  /**
   * A broker whose join failed and could not be undone at once (Topology.undoJoin: a broker the
   * retained values must go back to did not answer) is undone again, as the broker level's action.
   */
  private retryFailedJoin(): void {
    const [broker] = this.d.topology.failedJoins.values();
    if (!broker || this.inFlight.has('broker') || this.stopped) return;
    this.runAction('broker', `undo join ${broker.id}`, () =>
      this.d.topology.undoJoin(broker, this.cancel.signal),
    );
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
    await Promise.allSettled([...this.actions]);
    await this.d.decisionLog.flush();
  }
}
