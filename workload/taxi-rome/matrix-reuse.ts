import { cp, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { MatrixMeta } from './matrix-md.ts';
import type { BrokerKind, KindSetting, MatrixRunPlan, MatrixSize } from './matrix-plan.ts';
import type { ScenarioReport } from './report.ts';

/**
 * `scenario matrix --reuse DIR`: runs an earlier matrix in DIR already measured, taken instead of run
 * again when they are the same run: the same load (`size`) and the same quota for every broker kind the
 * run uses. A matrix interrupted (or one whose other runs are redone at another quota) goes on from there.
 */
export interface ReusedRun {
  report: ScenarioReport;
  /** The earlier matrix's folder, and when the run started. */
  from: string;
  startedAt: string;
}

/** Whether a run of `plan` at `settings` is the one the earlier matrix measured (pure). */
export function sameRun(
  plan: Pick<MatrixRunPlan, 'kind'>,
  size: MatrixSize,
  settings: Record<BrokerKind, Pick<KindSetting, 'cpuQuota'>>,
  earlier: Pick<MatrixMeta, 'size' | 'calibration'>,
): boolean {
  if (JSON.stringify(earlier.size) !== JSON.stringify(size)) return false;
  const kinds: BrokerKind[] = plan.kind === 'mixed' ? ['mosquitto', 'rabbitmq'] : [plan.kind];
  return kinds.every(
    (k) => earlier.calibration.kinds.find((c) => c.kind === k)?.cpuQuota === settings[k].cpuQuota,
  );
}

/**
 * Reads the earlier matrices' reports that `sameRun` allows, by run key (the first folder that has a run
 * wins); an unreadable matrix.json is an error.
 */
export async function loadReusable(
  dirs: readonly string[],
  plan: readonly MatrixRunPlan[],
  size: MatrixSize,
  settings: Record<BrokerKind, Pick<KindSetting, 'cpuQuota'>>,
): Promise<Map<string, ReusedRun>> {
  const out = new Map<string, ReusedRun>();
  for (const dir of dirs) {
    for (const [key, run] of await loadOne(dir, plan, size, settings)) if (!out.has(key)) out.set(key, run);
  }
  return out;
}

async function loadOne(
  dir: string,
  plan: readonly MatrixRunPlan[],
  size: MatrixSize,
  settings: Record<BrokerKind, Pick<KindSetting, 'cpuQuota'>>,
): Promise<Map<string, ReusedRun>> {
  const text = await readFile(join(dir, 'matrix.json'), 'utf8').catch((err: Error) => {
    throw new Error(`--reuse ${dir}: no matrix.json there (${err.message})`);
  });
  const earlier = (JSON.parse(text) as { meta: MatrixMeta }).meta;
  const reports = new Map<string, ReusedRun>();
  for (const run of plan) {
    if (!sameRun(run, size, settings, earlier)) continue;
    const file = join(dir, run.key, 'report.json');
    const report = await readFile(file, 'utf8').then(
      (t) => JSON.parse(t) as ScenarioReport,
      () => undefined,
    );
    // The run's own start: a run reused twice keeps the time it was measured.
    if (report) reports.set(run.key, { report, from: dir, startedAt: report.startedAt ?? earlier.startedAt });
  }
  return reports;
}

/** Copies a reused run's folder (report, figures, decisions) into the new matrix's folder. */
export async function copyRun(from: string, outDir: string, key: string): Promise<void> {
  if (resolve(from) === resolve(outDir)) return;
  await cp(join(from, key), join(outDir, key), { recursive: true });
}
