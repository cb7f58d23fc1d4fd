import type { BrokelConfig } from '../common/config/schema.ts';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { cancellable } from './cancel.ts';
import { LEVEL_CONFIG } from './level-config.ts';
import type { ManualTargetKeeper } from './manual-targets.ts';
import type { CloudProvider, Level, Replica } from './providers/cloud-provider.ts';
import { planResume, type ResumePlan } from './resume.ts';
import type { Topology } from './topology.ts';

/** What the start-up needs of the manager. */
export interface StartUpPorts {
  provider: CloudProvider;
  topology: Topology;
  /** The current config (hot-reloaded). */
  config: () => BrokelConfig;
  log: Logger;
  manualTargets: ManualTargetKeeper;
  /** The load each adopted orchestrator is published with in geo-dns (none measured yet: 0). */
  smoothed: ReadonlyMap<string, number>;
  /** Adds one broker (the next template in turn), as Manager does on a decision. */
  addBroker(config: BrokelConfig): Promise<Replica>;
  /** Runs `run` in the background as the level's one action in flight. */
  runAction(level: Level, what: string, run: () => Promise<void>): void;
  /** Aborted when the manager stops: every wait ends at once (ActionCancelled). */
  signal: AbortSignal;
}

/**
 * The manager's start, given what the provider lists (ARCHITECTURE.md: a restarted manager adopts the
 * replicas; no orphaned replica, no duplicate action). Adopts what the provider has, fills each level up
 * to its minimum, and finishes what a previous run left half done (planResume) as the broker level's
 * action in flight, so the loop observes meanwhile and decide() waits for it.
 *
 * A restart (a broker or a ready orchestrator adopted) waits on no replica beyond one bounded admin call per
 * orchestrator: geo-dns gets the adopted orchestrators first, and the refill and the resume run as
 * the levels' actions in flight, so a stalled broker (SIGSTOP: TCP accepted, no MQTT) holds up only
 * the join that reads from it, never the API, geo-dns or the loop (issue 17). A first start (no
 * broker and no ready orchestrator adopted: every replica it waits on is new) waits for its minimum,
 * so it is up when it says so.
 */
export async function startUp(replicas: readonly Replica[], p: StartUpPorts): Promise<void> {
  const adopted = replicas.filter((r) => r.state !== 'failed');
  // Orchestrators a previous run left (adopted) are in no geo-dns yet: published before any replica I/O.
  for (const r of adopted.filter((x) => x.level === 'orchestrator'))
    await p.topology.geoDns.publish(r, p.smoothed.get(r.id) ?? 0);
  const plan = planResume(
    replicas.filter((r) => r.level === 'broker'),
    await p.topology.reportedPool(),
  );
  for (const [id, state] of plan.states) p.topology.brokerStates.set(id, state);
  const config = p.config();
  await p.manualTargets.restore((level) => config.levels[LEVEL_CONFIG[level]]);
  // A restart: the refill could wait on a replica it did not create (a broker its join reads
  // retained messages from, an orchestrator it polls), so it runs in the background.
  const restart = adopted.some((r) => r.level === 'broker' || r.state === 'ready');
  if (!restart) {
    await fillBrokers(p, config);
    await fillOrchestrators(p, config);
  }
  // The adopted pool (none when every broker died meanwhile: the refill's join tells them). An
  // orchestrator that does not answer (a bounded call) hears it at the next change of the pool.
  if ((await p.topology.desiredPool()).length > 0)
    await p.topology.pushPool().catch((err: unknown) => {
      if (!restart) throw err;
      p.log.warn({ err: errorMessage(err) }, 'start-up: an orchestrator was not told the pool');
    });
  const short = (level: Level) =>
    restart && adopted.filter((r) => r.level === level).length < config.levels[LEVEL_CONFIG[level]].min;
  if (short('orchestrator'))
    p.runAction('orchestrator', 'refill to the minimum', () => fillOrchestrators(p, config));
  const resume = [...plan.join.map((r) => `join ${r.id}`), ...plan.remove.map((r) => `remove ${r.id}`)];
  if (resume.length > 0) p.log.warn({ resume }, 'finishing what the previous manager left half done');
  const refill = short('broker');
  if (refill || resume.length > 0) {
    const what = [...(refill ? ['refill to the minimum'] : []), ...resume].join(', ');
    p.runAction('broker', resume.length > 0 ? `resume ${what}` : what, async () => {
      if (refill) await fillBrokers(p, config);
      await finish(p, plan, config);
    });
  }
}

async function live(p: StartUpPorts, level: Level): Promise<Replica[]> {
  return (await p.provider.list()).filter((r) => r.level === level && r.state !== 'failed');
}

/** Adds brokers, one after the other, until the level has its minimum of live ones. */
async function fillBrokers(p: StartUpPorts, config: BrokelConfig): Promise<void> {
  while ((await live(p, 'broker')).length < config.levels.brokers.min) await p.addBroker(config);
}

async function fillOrchestrators(p: StartUpPorts, config: BrokelConfig): Promise<void> {
  while ((await live(p, 'orchestrator')).length < config.levels.orchestrators.min)
    await p.topology.addOrchestrator(config.levels.orchestrators.cpuQuota, p.signal);
}

/** Joins the brokers a previous run left joining, finishes the removals it left draining. */
async function finish(p: StartUpPorts, plan: ResumePlan, config: BrokelConfig): Promise<void> {
  const timeoutMs = config.manager.actionTimeoutSeconds * 1000;
  for (const r of plan.join) {
    const ready =
      r.state === 'ready'
        ? r
        : await cancellable(p.provider.waitReady(r.id, timeoutMs), p.signal, `broker ${r.id} ready`);
    await p.topology.join(ready, p.signal);
  }
  for (const r of plan.remove) await p.topology.removeBroker(r.id, p.signal);
}
