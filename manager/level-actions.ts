import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { ActionCancelled } from './cancel.ts';
import type { DecisionLog } from './decision-log.ts';
import type { ManagerMetrics } from './metrics.ts';
import type { Level } from './providers/cloud-provider.ts';

export interface LevelActionsDeps {
  log: Logger;
  metrics: ManagerMetrics;
  decisionLog: DecisionLog;
  /** The manager's current observation (tick) number. */
  observation: () => number;
}

/**
 * Each level's one action in flight (ARCHITECTURE.md, control plane): run in the background, timed
 * (brokel_manager_action_seconds) and its outcome written to the decision log; with every other
 * background task the manager starts, so its stop can wait for them all.
 */
export class LevelActions {
  private readonly inFlight = new Map<Level, string>();
  private readonly lastActionAt = new Map<Level, number>();
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly d: LevelActionsDeps) {}

  /** The level's action in flight, by name. */
  current(level: Level): string | undefined {
    return this.inFlight.get(level);
  }

  busy(level: Level): boolean {
    return this.inFlight.has(level);
  }

  /** Observations since the level's last action started or ended (none yet: infinity). */
  since(level: Level): number {
    const last = this.lastActionAt.get(level);
    return last === undefined ? Number.POSITIVE_INFINITY : this.d.observation() - last;
  }

  /** Carries out one action of a level in the background: the level's one action in flight. */
  run(level: Level, what: string, run: () => Promise<void>): void {
    const started = performance.now();
    this.inFlight.set(level, what);
    this.lastActionAt.set(level, this.d.observation());
    this.track(
      run().then(
        () => this.finish(level, what, started, 'done'),
        (err: unknown) => {
          if (err instanceof ActionCancelled) {
            this.d.log.warn({ level, action: what, err: errorMessage(err) }, 'action cancelled');
            return this.finish(level, what, started, 'cancelled');
          }
          this.d.log.error({ level, action: what, err: errorMessage(err) }, 'action failed');
          this.finish(level, what, started, 'failed');
        },
      ),
    );
  }

  /** Keeps a background task until it ends (settled waits for it). */
  track(task: Promise<void>): void {
    this.running.add(task);
    void task.finally(() => this.running.delete(task));
  }

  /** Resolves once every action and task under way has ended. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  private finish(
    level: Level,
    what: string,
    started: number,
    outcome: 'done' | 'failed' | 'cancelled',
  ): void {
    const seconds = (performance.now() - started) / 1000;
    const tick = this.d.observation();
    this.inFlight.delete(level);
    this.lastActionAt.set(level, tick);
    this.d.metrics.actionSeconds.observe({ level, action: what.split(' ')[0] ?? what, outcome }, seconds);
    this.d.decisionLog.append({ tick, level, action: what, outcome, seconds });
  }
}
