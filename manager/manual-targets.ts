import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { LEVELS, type Level } from './providers/cloud-provider.ts';

/** The file in a deployment's state dir that keeps the operator's manual targets (`brokel scale`). */
const TARGETS_FILE = 'manual-targets.json';

export type ManualTargets = Partial<Record<Level, number>>;

/** Where the manual targets outlive the manager (its state dir), so a restarted one follows them still. */
export interface ManualTargetStore {
  load(): Promise<ManualTargets>;
  save(targets: ManualTargets): Promise<void>;
}

/** The kept targets (pure): whole numbers ≥ 0 per known level; anything else in the file is ignored. */
export function parseManualTargets(text: string): ManualTargets {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  const out: ManualTargets = {};
  if (typeof parsed !== 'object' || parsed === null) return out;
  for (const level of LEVELS) {
    const value = (parsed as Record<string, unknown>)[level];
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) out[level] = value;
  }
  return out;
}

/** The store in `stateDir`: written to a temporary file and renamed, so a crash leaves the old or the new. */
export function fileTargetStore(stateDir: string): ManualTargetStore {
  const file = join(stateDir, TARGETS_FILE);
  return {
    load: async () => parseManualTargets(await readFile(file, 'utf8').catch(() => '{}')),
    save: async (targets) => {
      await writeFile(`${file}.tmp`, `${JSON.stringify(targets)}\n`, { mode: 0o600 });
      await rename(`${file}.tmp`, file);
    },
  };
}

/** Removes the kept targets when the deployment is stopped for good. */
export async function forgetManualTargets(stateDir: string): Promise<void> {
  await rm(join(stateDir, TARGETS_FILE), { force: true });
}

/**
 * The operator's manual targets (`brokel scale`), per level, written to the store on every change so
 * a restarted manager (the adoption path) follows them still. Without a store they live in memory.
 */
export class ManualTargetKeeper {
  private readonly targets = new Map<Level, number>();
  /** The last write (writes go one after another, so the last one wins). */
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: ManualTargetStore | undefined,
    private readonly log: Logger,
  ) {}

  get(level: Level): number | undefined {
    return this.targets.get(level);
  }

  /** Sets (or clears, undefined) a level's target; resolves once written (a failed write is logged, the target stays). */
  set(level: Level, target: number | undefined): Promise<void> {
    if (target === undefined) this.targets.delete(level);
    else this.targets.set(level, target);
    return this.save();
  }

  /**
   * The targets a previous manager kept: followed again, unless the level's [min, max] no longer
   * holds them (then the policy decides, and the log says so).
   */
  async restore(bounds: (level: Level) => { min: number; max: number }): Promise<void> {
    const kept = (await this.store?.load().catch(() => undefined)) ?? {};
    let dropped = false;
    for (const [level, target] of Object.entries(kept) as Array<[Level, number]>) {
      const { min, max } = bounds(level);
      if (target < min || target > max) {
        this.log.warn(
          { level, target, min, max },
          'scale: kept manual target out of [min, max]; the policy decides',
        );
        dropped = true;
        continue;
      }
      this.targets.set(level, target);
      this.log.info({ level, target }, 'scale: manual target kept from before the restart');
    }
    if (dropped) await this.save();
  }

  private save(): Promise<void> {
    const store = this.store;
    if (!store) return Promise.resolve();
    const targets: ManualTargets = Object.fromEntries(this.targets);
    this.saving = this.saving.then(() =>
      store.save(targets).catch((err) => {
        this.log.error(
          { err: errorMessage(err) },
          'scale: the manual target could not be kept for a restart',
        );
      }),
    );
    return this.saving;
  }
}
