// The orchestrator's CPU profile at full-rate QoS 1, summed up by self time (bench:orchestrator).
import type { Target } from './bench-client.ts';
import { formatTopSelfTime, largestProfile, readCpuProfile, topSelfTime } from './cpu-profile.ts';
import { benchTempDir } from './exit-cleanup.ts';
import type { PhaseResult } from './load-generator.ts';
import { startOrchestratorChild } from './processes.ts';
import { fmtInt } from './stats.ts';

/**
 * Where the orchestrator's time goes at full-rate QoS 1: a separate orchestrator, started with
 * --cpu-prof, carries one max-rate phase; its profile (from the phase on) is summed up by self time.
 */
export async function profileQos1(options: {
  repoRoot: string;
  brokerUrl: string;
  nodeArgs: readonly string[];
  measureMs: number;
  /** Runs QoS 1 phases against a target (the load generator, connected and closed around them). */
  run: (
    target: Target,
    phases: ReadonlyArray<{ rate: () => number | undefined; measureMs: number }>,
  ) => Promise<PhaseResult[]>;
}): Promise<string> {
  const { repoRoot, run } = options;
  const { dir, remove } = benchTempDir(`brokel-prof-${process.pid}-`);
  const spawnedAt = performance.now();
  const orch = await startOrchestratorChild({
    repoRoot,
    brokerUrls: [options.brokerUrl],
    readyTimeoutMs: 30_000,
    nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir, ...options.nodeArgs],
  });
  let fromMs = 0;
  let result: PhaseResult | undefined;
  try {
    [result] = await run({ host: '127.0.0.1', port: orch.port }, [
      {
        rate: () => {
          fromMs = performance.now() - spawnedAt;
          return undefined;
        },
        measureMs: options.measureMs,
      },
    ]);
  } finally {
    await orch.stop();
  }
  const file = largestProfile(dir);
  const rows = file === undefined ? undefined : topSelfTime(readCpuProfile(file), 15, fromMs * 1000);
  remove();
  if (!rows) return 'QoS 1 profile: no profile written';
  return (
    `Orchestrator CPU profile, QoS 1 at max rate (${fmtInt(result?.rate ?? Number.NaN)} msg/s, ` +
    `top 15 by self time from the phase on; share of busy time):\n${formatTopSelfTime(rows)}`
  );
}
