import { setTimeout as sleep } from 'node:timers/promises';
import type { OrchestratorStatus } from '../../common/admin/contract.ts';
import { errorMessage } from '../../common/errors.ts';
import type { EvictionStatus, EvictRequest } from '../../common/eviction-contract.ts';
import type { Logger } from '../../common/logger.ts';
import { formatHostPort } from '../../common/net/host-port.ts';
import { type PlannedMove, planRebalance } from './plan.ts';

/** Where an orchestrator's clients reach it (a provider Replica has these). */
export interface OrchestratorEndpoint {
  id: string;
  host: string;
  port: number;
}

/** What the rebalancer drives: orchestrators through their admin API, and geo-dns. */
export interface RebalancePorts<E extends OrchestratorEndpoint = OrchestratorEndpoint> {
  /** The ready orchestrators (not the one being evacuated). */
  orchestrators(): Promise<E[]>;
  client(orchestrator: E): {
    status(): Promise<OrchestratorStatus>;
    evict(request: EvictRequest): Promise<EvictionStatus>;
  };
  /**
   * Resolves once geo-dns answers accordingly: a `source` is left out of answers, a `target` is
   * advertised idle (load 0), so a 3.1.1 client closed afterwards resolves away from its source.
   */
  holdDns(orchestrator: E, role: 'source' | 'target'): Promise<void>;
  /** Back to its measured load and state. */
  releaseDns(orchestrator: E): Promise<void>;
}

/** The config's `rebalance` section (common/config/schema.ts). */
export interface RebalanceSettings {
  absThreshold: number;
  relThreshold: number;
  evictPerSecond: number;
  cooldownSeconds: number;
  /** After a round, time moved clients get to reconnect before the sessions are counted again. */
  settleSeconds: number;
  /** Budget of one rebalance run. */
  timeoutSeconds: number;
}

export interface RebalanceProgress {
  kind: 'rebalance' | 'evacuation';
  reason: string;
  state: 'running' | 'finished';
  startedAt: string;
  finishedAt?: string;
  /** balanced / evacuated / timeout / stopped / no-target / stalled: … / failed: … */
  outcome?: string;
  rounds: number;
  /** Sessions sent away so far. */
  moved: number;
  /** Sessions per orchestrator at the last count. */
  sessions: Record<string, number>;
  /** The moves of the current (or last) round. */
  plan: PlannedMove[];
}

const POLL_MS = 200;

/**
 * Moves sessions between orchestrators (issue #13): count the sessions, plan (pure), make geo-dns
 * answer with the targets, ask each source to evict at `evictPerSecond`, let the clients come back,
 * count again; until the orchestrators are within the thresholds (or the leaving one is empty).
 * One run at a time: asking again while one runs returns that run; an evacuation stops a rebalance.
 */
export class Rebalancer<E extends OrchestratorEndpoint = OrchestratorEndpoint> {
  private running: Promise<RebalanceProgress> | undefined;
  private progress: RebalanceProgress | undefined;
  private stopRequested = false;

  constructor(
    private readonly ports: RebalancePorts<E>,
    private readonly settings: () => RebalanceSettings,
    private readonly log: Logger,
  ) {}

  /** Whether a rebalance or an evacuation runs (sessions may be on their way between orchestrators). */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** The run under way, or the last one. */
  status(): RebalanceProgress | undefined {
    return this.progress ? { ...this.progress, plan: [...this.progress.plan] } : undefined;
  }

  /** Starts a rebalance unless one runs (then that one is returned). */
  rebalance(reason: string): Promise<RebalanceProgress> {
    this.running ??= this.run('rebalance', reason, undefined).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * Sends every session of `leaving` to the others at the same rate (it stops accepting clients
   * first), until it has none or `timeoutMs` ran out. A rebalance under way is stopped first.
   */
  async evacuate(leaving: E, timeoutMs: number): Promise<RebalanceProgress> {
    await this.stop();
    const run = this.run('evacuation', `orchestrator ${leaving.id} leaves`, leaving, timeoutMs);
    this.running = run.finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.stopRequested = true;
    await this.running.catch(() => undefined);
    this.stopRequested = false;
  }

  private async run(
    kind: RebalanceProgress['kind'],
    reason: string,
    leaving: E | undefined,
    timeoutMs = this.settings().timeoutSeconds * 1000,
  ): Promise<RebalanceProgress> {
    const progress: RebalanceProgress = {
      kind,
      reason,
      state: 'running',
      startedAt: new Date().toISOString(),
      rounds: 0,
      moved: 0,
      sessions: {},
      plan: [],
    };
    this.progress = progress;
    const deadline = Date.now() + timeoutMs;
    const held = new Map<string, E>();
    this.log.info({ kind, reason }, 'rebalance started');
    try {
      progress.outcome = await this.rounds(progress, leaving, deadline, held);
    } catch (err) {
      progress.outcome = `failed: ${errorMessage(err)}`;
    } finally {
      await Promise.all(
        [...held.values()].map((o) =>
          this.ports.releaseDns(o).catch((err: unknown) => {
            this.log.warn({ orchestrator: o.id, err: errorMessage(err) }, 'geo-dns release failed');
          }),
        ),
      );
      progress.state = 'finished';
      progress.finishedAt = new Date().toISOString();
    }
    this.log.info(
      {
        kind,
        outcome: progress.outcome,
        rounds: progress.rounds,
        moved: progress.moved,
        sessions: progress.sessions,
      },
      'rebalance finished',
    );
    return progress;
  }

  private async count(all: readonly E[]): Promise<Map<string, OrchestratorStatus>> {
    const out = new Map<string, OrchestratorStatus>();
    await Promise.all(
      all.map(async (o) => {
        const status = await this.ports
          .client(o)
          .status()
          .catch(() => undefined);
        if (status) out.set(o.id, status);
      }),
    );
    return out;
  }

  private async rounds(
    progress: RebalanceProgress,
    leaving: E | undefined,
    deadline: number,
    held: Map<string, E>,
  ): Promise<string> {
    // Across the rounds of this run: who gave, who took (they keep their role), who did not absorb.
    const gave = new Set<string>();
    const took = new Set<string>();
    const closed = new Set<string>();
    let sent = new Map<string, { before: number; sent: number }>();
    let lastTotal = 0;
    let waitedLonger = false;
    for (;;) {
      if (this.stopRequested) return 'stopped';
      if (Date.now() > deadline) return 'timeout';
      const settings = this.settings();
      const ready = (await this.ports.orchestrators()).filter((o) => o.id !== leaving?.id);
      const all = leaving ? [...ready, leaving] : ready;
      const statuses = await this.count(all);
      progress.sessions = Object.fromEntries([...statuses].map(([id, s]) => [id, s.sessions]));
      if (leaving && (progress.sessions[leaving.id] ?? 0) === 0 && statuses.has(leaving.id))
        return 'evacuated';
      const total = [...statuses.values()].reduce((n, s) => n + s.sessions, 0);
      if (!leaving && sent.size > 0 && total < lastTotal && !waitedLonger) {
        // Clients still on their way (a slow target's CONNECTs): one more settle before judging.
        waitedLonger = true;
        await this.settle(all, lastTotal, Math.min(deadline, Date.now() + settings.settleSeconds * 1000));
        continue;
      }
      waitedLonger = false;
      // A target that did not take (at least half of) what it was sent last round gets no more this
      // run: its clients went back or elsewhere, and sending more would only bounce them (issue #13).
      for (const [id, s] of sent) {
        const gained = (progress.sessions[id] ?? 0) - s.before;
        if (leaving || 2 * gained >= s.sent) continue;
        closed.add(id);
        this.log.warn(
          { orchestrator: id, sent: s.sent, gained },
          'rebalance target did not take its clients',
        );
      }
      const plan = planRebalance(
        {
          sessions: progress.sessions,
          ...(leaving
            ? { leaving: [leaving.id] }
            : { gave: [...gave], took: [...took], closed: [...closed] }),
        },
        settings,
      );
      progress.plan = plan.moves;
      if (plan.moves.length === 0) {
        if (leaving) return 'no-target';
        return closed.size > 0 ? `stalled: ${[...closed].join(', ')} did not take its clients` : 'balanced';
      }
      const byId = new Map(all.map((o) => [o.id, o]));
      const sources = [...new Set(plan.moves.map((m) => m.from))];
      // geo-dns first: a 3.1.1 client closed below must resolve to a target, never to its source.
      // An earlier round's target that takes nothing now goes back to its measured load, or it would
      // still look idle and draw the clients meant for this round's targets.
      const targetsNow = new Set(plan.moves.map((m) => m.to));
      for (const [id, o] of [...held]) {
        if (!took.has(id) || targetsNow.has(id)) continue;
        held.delete(id);
        await this.ports.releaseDns(o);
      }
      for (const m of plan.moves) {
        for (const [id, role] of [
          [m.from, 'source'],
          [m.to, 'target'],
        ] as const) {
          const o = byId.get(id);
          if (!o || held.has(id)) continue;
          held.set(id, o);
          await this.ports.holdDns(o, role);
        }
      }
      const totalBefore = total;
      lastTotal = total;
      const evicted = await Promise.all(
        sources.map((id) => this.evictFrom(byId.get(id) as E, plan.moves, byId, leaving, deadline)),
      );
      const moved = evicted.reduce((a, e) => a + e.evicted, 0);
      sent = new Map();
      for (const e of evicted)
        for (const [to, n] of e.perTarget) {
          const s = sent.get(to) ?? { before: progress.sessions[to] ?? 0, sent: 0 };
          s.sent += n;
          if (s.sent > 0) sent.set(to, s);
        }
      for (const m of plan.moves) {
        gave.add(m.from);
        took.add(m.to);
      }
      progress.moved += moved;
      progress.rounds += 1;
      this.log.info({ round: progress.rounds, moves: plan.moves, moved }, 'rebalance round done');
      await this.settle(all, totalBefore, Math.min(deadline, Date.now() + settings.settleSeconds * 1000));
      // Nothing could move (every session too young, rebalance.cooldownSeconds): wait a little.
      if (moved === 0) await sleep(1000);
    }
  }

  /**
   * Asks one source to evict its planned moves; once it is done, resolves how many it sent away, in
   * all and per target (by the moves' order).
   */
  private async evictFrom(
    source: E,
    moves: readonly PlannedMove[],
    byId: ReadonlyMap<string, E>,
    leaving: E | undefined,
    deadline: number,
  ): Promise<{ evicted: number; perTarget: Map<string, number> }> {
    const settings = this.settings();
    const evacuating = source.id === leaving?.id;
    const client = this.ports.client(source);
    const mine = moves.filter((m) => m.from === source.id);
    let eviction = await client.evict({
      moves: mine.map((m) => {
        const to = byId.get(m.to);
        return { count: m.count, ...(to ? { serverReference: serverReference(to) } : {}) };
      }),
      perSecond: settings.evictPerSecond,
      minAgeSeconds: evacuating ? 0 : settings.cooldownSeconds,
      ...(evacuating ? { stopAccepting: true } : {}),
    });
    while (eviction.active && Date.now() < deadline && !this.stopRequested) {
      await sleep(POLL_MS);
      eviction = (await client.status().catch(() => undefined))?.eviction ?? eviction;
    }
    if (eviction.active) {
      await client
        .evict({ moves: [], perSecond: 1, minAgeSeconds: 0 })
        .catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'eviction cancel failed'));
    }
    const perTarget = new Map<string, number>();
    for (const [i, m] of mine.entries())
      perTarget.set(m.to, (perTarget.get(m.to) ?? 0) + (eviction.moves[i]?.evicted ?? 0));
    return { evicted: eviction.evicted, perTarget };
  }

  /** Waits until the sessions sent away are back (the total is what it was), or `until`. */
  private async settle(all: readonly E[], totalBefore: number, until: number): Promise<void> {
    while (Date.now() < until && !this.stopRequested) {
      const statuses = await this.count(all);
      const total = [...statuses.values()].reduce((n, s) => n + s.sessions, 0);
      if (total >= totalBefore) return;
      await sleep(POLL_MS);
    }
  }
}

/** `host:port` as MQTT 5 Server References name servers here (an IPv6 literal in brackets). */
export function serverReference(o: OrchestratorEndpoint): string {
  return formatHostPort(o);
}
