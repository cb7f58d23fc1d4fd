import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
