import { mkdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import type { RoutingStrategyName } from '../../common/admin/contract.ts';
import { errorMessage } from '../../common/errors.ts';
import { type Logger, silentLogger } from '../../common/logger.ts';
import { generateTrace } from './generator.ts';
import { type CalibrateMatrixOptions, calibrateMatrix } from './matrix-calibrate.ts';
import { type MatrixMeta, renderMatrixMarkdown } from './matrix-md.ts';
import { type BrokerKind, type MatrixSize, planMatrix, QUICK_CORNERS, selectRuns } from './matrix-plan.ts';
import { buildMatrix, type Matrix, type MatrixEntry } from './matrix-report.ts';
import { copyRun, loadReusable } from './matrix-reuse.ts';
import { matrixFigures } from './matrix-svg.ts';
import { baselineOf, type ScenarioReport } from './report.ts';
import { runScenario } from './scenario-run.ts';
import { writeTrace } from './trace-writer.ts';

/**
 * `brokel scenario matrix`: calibrate each broker kind, run the plan one scenario at a time (each in its
 * own folder under `outDir`, with its own report), then write matrix.json, matrix.md and the figures.
 * A run that fails is recorded as failed and the matrix goes on; an abort stops it.
 */
export interface MatrixOptions {
  quick: boolean;
  outDir: string;
  size: MatrixSize;
  calibration?: CalibrateMatrixOptions;
  addressBlock?: string;
  publisherProcesses?: number;
  /** Cores a broker boots with before it gets its kind's quota (provider.local.bootCpuQuota); none when absent. */
  bootCpuQuota?: number;
  /** Brokers one scale-out may add in the elastic runs (levels.brokers.maxAddPerAction); 1 when absent. */
  maxAddPerAction?: number;
  /** How the elastic runs' orchestrators route publishes; round-robin (the paper's) when absent. */
  routing?: RoutingStrategyName;
  /** Only these runs (keys as in the plan) and the s1 baselines they are compared with; all when absent. */
  only?: readonly string[];
  /** Earlier matrices' folders: their runs of the same load and quotas are taken, not run again (matrix-reuse.ts). */
  reuse?: readonly string[];
  /** Give up on a run's deliveries when nothing arrived for this long. */
  idleSeconds?: number;
  drainTimeoutSeconds?: number;
  log?: Logger;
  signal?: AbortSignal;
  /** One line per finished run (the CLI prints it). */
  onRun?: (line: string) => void;
}

export interface MatrixResult {
  matrix: Matrix;
  meta: MatrixMeta;
  files: string[];
}

const PLACEHOLDER_SETTINGS = {
  mosquitto: { kind: 'mosquitto', cpuQuota: 1, bootTimeoutMs: 60_000 },
  rabbitmq: { kind: 'rabbitmq', cpuQuota: 1, bootTimeoutMs: 60_000 },
} as const;

export async function runMatrix(o: MatrixOptions): Promise<MatrixResult> {
  const log = o.log ?? silentLogger();
  // An unknown --only key fails now, not after the calibration's boots (the keys do not depend on quotas).
  if (o.only)
    selectRuns(
      planMatrix({
        quick: o.quick,
        size: o.size,
        settings: PLACEHOLDER_SETTINGS,
        maxAddPerAction: o.maxAddPerAction,
        routing: o.routing,
      }),
      o.only,
    );
  const startedAt = new Date().toISOString();
  const before = loadavg();
  await mkdir(o.outDir, { recursive: true });
  const calibration = await calibrateMatrix({
    log,
    signal: o.signal,
    ...(o.bootCpuQuota === undefined ? {} : { bootCpuQuota: o.bootCpuQuota }),
    ...o.calibration,
  });
  const kind = (k: BrokerKind) => {
    const found = calibration.kinds.find((c) => c.kind === k);
    if (!found) throw new Error(`calibration: no setting for ${k}`);
    return found;
  };
  const settings = { mosquitto: kind('mosquitto'), rabbitmq: kind('rabbitmq') };
  const fullPlan = planMatrix({
    quick: o.quick,
    size: o.size,
    settings,
    maxAddPerAction: o.maxAddPerAction,
    routing: o.routing,
  });
  const plan = selectRuns(fullPlan, o.only);
  const reused = await loadReusable(o.reuse ?? [], plan, o.size, settings);
  let file = o.size.file;
  if (!file) {
    file = join(o.outDir, 'trace.txt');
    const n = Math.max(o.size.records, o.size.rabbitmqRecords ?? 0, o.size.s3Records);
    await writeTrace(generateTrace({ records: n, taxis: 316, seed: 1 }), file);
  }
  const entries: MatrixEntry[] = [];
  const reports = new Map<string, ScenarioReport>();
  const progress = {
    startedAt,
    before,
    calibration,
    planned: plan.length,
    inPlan: fullPlan.length,
    reused: [] as string[],
  };
  try {
    for (const run of plan) {
      if (entries.length > 0) await writeMatrix(o, entries, progress);
      if (o.signal?.aborted) throw new Error('matrix interrupted');
      const { key, group, kind, maxReplicas, thresholds, baseline } = run;
      const planRef = { key, group, kind, maxReplicas, thresholds, baseline };
      const base = run.baseline ? reports.get(run.baseline) : undefined;
      const earlier = reused.get(run.key);
      if (earlier) {
        await copyRun(earlier.from, o.outDir, run.key);
        reports.set(run.key, earlier.report);
        entries.push({ plan: planRef, report: earlier.report });
        progress.reused.push(`${run.key} (run started ${earlier.startedAt})`);
        o.onRun?.(`${run.key}: reused from ${earlier.from} (run started ${earlier.startedAt})`);
        continue;
      }
      const wallStart = Date.now();
      const wall = () => `${((Date.now() - wallStart) / 1000).toFixed(1)} s wall`;
      try {
        log.info({ run: run.key, description: run.spec.description }, 'matrix: run starting');
        const { report } = await runScenario({
          spec: run.spec,
          outDir: join(o.outDir, run.key),
          file,
          seed: 1,
          qos: 1,
          bootTimeoutMs: run.bootTimeoutMs,
          ...(o.bootCpuQuota === undefined ? {} : { bootCpuQuota: o.bootCpuQuota }),
          addressBlock: o.addressBlock ?? '127.47',
          publisherProcesses: o.publisherProcesses ?? 2,
          ...(o.idleSeconds === undefined ? {} : { idleSeconds: o.idleSeconds }),
          ...(o.drainTimeoutSeconds === undefined ? {} : { drainTimeoutSeconds: o.drainTimeoutSeconds }),
          ...(base ? { baseline: { ...baselineOf(base), report: base } } : {}),
          log,
          signal: o.signal,
        });
        reports.set(run.key, report);
        entries.push({ plan: planRef, report });
        const vs = report.efficiency.vsBaseline;
        o.onRun?.(
          `${run.key}: ${report.applicationSeconds.toFixed(2)} s, ${report.messagesPerSecond.toFixed(1)} msg/s, ` +
            `${report.delivery.received}/${report.publish.sent} received (${report.delivery.lost} lost), ` +
            `mean ${report.replicas.broker.meanReplicas.toFixed(2)} brokers, cost ${report.cost.toFixed(1)} replica·s` +
            (vs?.sameLoad ? `, ${vs.timeReductionPercent.toFixed(1)} % less time than ${vs.baseline}` : '') +
            ` (${wall()})`,
        );
      } catch (err) {
        if (o.signal?.aborted) throw err;
        log.error({ run: run.key, err: errorMessage(err) }, 'matrix: run failed');
        entries.push({ plan: planRef, report: null, error: errorMessage(err) });
        o.onRun?.(`${run.key}: FAILED (${errorMessage(err)}) (${wall()})`);
      }
    }
  } finally {
    if (!o.size.file) await rm(file, { force: true });
  }
  return writeMatrix(o, entries, progress);
}

/**
 * matrix.json, matrix.md and the figures from the runs so far (written after every run, so an
 * interrupted matrix still leaves its finished runs' views; `planned` says how many there were to be).
 */
async function writeMatrix(
  o: MatrixOptions,
  entries: readonly MatrixEntry[],
  at: {
    startedAt: string;
    before: number[];
    calibration: MatrixMeta['calibration'];
    planned: number;
    inPlan: number;
    reused: string[];
  },
): Promise<MatrixResult> {
  const matrix = buildMatrix(entries);
  const quick = o.quick
    ? `--quick runs 8 of the 27: per elastic group only the paper's dearest and cheapest corners (${QUICK_CORNERS.map(([m, t]) => `max ${m} at ${t}`).join(', ')}), ` +
      'and only the first for s2-rabbitmq. All 27 do not fit a CI budget of 150 s on 2 cores (a run costs ~5–10 s of set-up, ' +
      'a RabbitMQ boot ~9 s more on a quiet machine and ~30 s at load average 10).'
    : '';
  const selected = o.only
    ? `--only ${o.only.join(', ')} (with the s1 runs they are compared with): ${at.planned} of the ${at.inPlan} runs.`
    : '';
  const reusedText =
    at.reused.length > 0
      ? `${at.reused.length} runs were measured by an earlier matrix of the same load and quotas and reused (--reuse): ${at.reused.join(', ')}.`
      : '';
  const partial =
    entries.length < at.planned
      ? `only ${entries.length} of the ${at.planned} planned runs had finished when this was written.`
      : '';
  const meta: MatrixMeta = {
    mode: o.quick ? 'quick' : 'full',
    startedAt: at.startedAt,
    finishedAt: new Date().toISOString(),
    size: o.size,
    loadAverage: { before: at.before, after: loadavg() },
    machine: { cores: availableParallelism(), node: process.versions.node },
    calibration: at.calibration,
    reduced: [quick, selected, reusedText, partial].filter(Boolean).join(' '),
  };
  const files: Array<[string, string]> = [
    ['matrix.json', `${JSON.stringify({ meta, matrix }, null, 2)}\n`],
    ['matrix.md', renderMatrixMarkdown(matrix, meta)],
    ...matrixFigures(matrix),
  ];
  const paths: string[] = [];
  for (const [name, text] of files) {
    const path = join(o.outDir, name);
    await writeFile(path, text);
    paths.push(path);
  }
  return { matrix, meta, files: paths };
}
