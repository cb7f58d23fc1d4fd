import { availableParallelism } from 'node:os';
import { errorMessage } from '../../common/errors.ts';
import { type Logger, silentLogger } from '../../common/logger.ts';
import { LocalProvider } from '../../manager/providers/local/local-provider.ts';
import type { BrokerKind, CalibrationResult, KindCalibration } from './matrix-plan.ts';

/**
 * The matrix's per-kind VM size and boot budget (issue #15). Rule: the smallest candidate quota whose
 * replica boots (first CONNACK) within `maxBootSeconds` (45 s, a cloud VM's boot) on this machine and of which six still fit on
 * its cores; the boot budget is 3 × the measured boot (a replica booting beside a loaded run is slower),
 * within [10 s, 170 s]. The smallest quota makes one broker the bottleneck (s1's broker load in matrix.md
 * shows it did). Boots are measured on the local provider, with the runs' boot boost
 * (provider.local.bootCpuQuota) when there is one: a cgroup throttled to its share boots a BEAM broker
 * far slower than a VM of that size boots (RabbitMQ: ~40 s at 0.25 core, ~20 s at 1 core), and without
 * the boost a RabbitMQ small enough to be the bottleneck would spend most of a run joining.
 */
export const CANDIDATES: Record<BrokerKind, number[]> = {
  // FIELD-NOTES / docs/taxi-scenarios.md: one Mosquitto at 0.05 core is the bottleneck behind one orchestrator.
  mosquitto: [0.05, 0.1, 0.25],
  // Issue #15: not ready within 60 s at 0.05 core and ~28 s at 0.25 core without a boost. Not 0.1
  // although the boost boots it: at 0.1 core (~270 QoS 1 msg/s) a saturated RabbitMQ queues deliveries
  // for minutes (p50 83 s), and a joining broker's read of it timed out (180 s) twice in two runs
  // (2026-12-02, before joins stopped reading RabbitMQ's registry). 0.15 since 2026-12-04: at 0.25 six
  // did not fit (calibrated: 5 brokers carried less than 4), and at 0.15 joins complete (boot 9-12 s with
  // the boost; docs/evaluation.md "What limits s2-rabbitmq").
  rabbitmq: [0.15, 0.25],
};

/** The full matrix's boot boost: a broker boots on one whole core, then runs at its kind's quota. */
export const DEFAULT_BOOT_CPU_QUOTA = 1;

export interface CalibrateMatrixOptions {
  /** Candidates per kind, ascending; a single fixed candidate with `probe: false` skips the measurement. */
  candidates?: Record<BrokerKind, number[]>;
  maxBootSeconds?: number;
  /** The boot boost the runs will have (provider.local.bootCpuQuota); the probes boot with it too. */
  bootCpuQuota?: number;
  probe?: boolean;
  /** Candidate k's replicas live in 127.(firstAddressOctet + k).x.y. Default 55. */
  firstAddressOctet?: number;
  log?: Logger;
  signal?: AbortSignal;
}

export const DEFAULT_MAX_BOOT_SECONDS = 45;

/** 3 × the measured boot, at least 10 s, and under manager.actionTimeoutSeconds' default 180 s (create + ready + sync). */
export function bootBudgetMs(bootMs: number): number {
  return Math.min(170_000, Math.max(10_000, Math.ceil((3 * bootMs) / 1000) * 1000));
}

async function measureBoot(
  kind: BrokerKind,
  cpuQuota: number,
  maxBootMs: number,
  k: number,
  o: CalibrateMatrixOptions,
): Promise<number | null> {
  const provider = await LocalProvider.start({
    deployment: `mcal${process.pid % 100000}k${k}`,
    config: {
      addressing: 'aliases',
      addressBlock: `127.${(o.firstAddressOctet ?? 55) + k}`,
      bootDelaySeconds: 0,
      stopTimeoutMs: 10_000,
      bootTimeoutMs: maxBootMs,
      ...(o.bootCpuQuota === undefined ? {} : { bootCpuQuota: o.bootCpuQuota }),
    },
    logger: (o.log ?? silentLogger()).child({ component: 'calibrate' }),
  });
  try {
    const replica = await provider.create('broker', kind, { cpuQuota });
    const ready = await provider.waitReady(replica.id, maxBootMs).catch(() => undefined);
    return ready?.readyAt === undefined ? null : ready.readyAt - ready.createdAt;
  } finally {
    await provider.stop();
  }
}

export async function calibrateMatrix(o: CalibrateMatrixOptions = {}): Promise<CalibrationResult> {
  const maxBootSeconds = o.maxBootSeconds ?? DEFAULT_MAX_BOOT_SECONDS;
  const cores = availableParallelism();
  const kinds: KindCalibration[] = [];
  for (const kind of ['mosquitto', 'rabbitmq'] as const) {
    const candidates = (o.candidates ?? CANDIDATES)[kind];
    if (o.signal?.aborted) throw new Error('calibration interrupted');
    const first = candidates[0];
    if (o.probe === false && first !== undefined) {
      kinds.push({
        kind,
        cpuQuota: first,
        bootTimeoutMs: 60_000,
        tried: [{ cpuQuota: first, bootMs: null, note: 'fixed, not probed' }],
      });
      continue;
    }
    // Every candidate at once (each capped by its own quota, on its own address block): one boot's wait, not three.
    const tried = await Promise.all(
      candidates.map(async (cpuQuota, k): Promise<KindCalibration['tried'][number]> => {
        if (6 * cpuQuota > cores)
          return { cpuQuota, bootMs: null, note: `six would need ${6 * cpuQuota} of ${cores} cores` };
        const bootMs = await measureBoot(kind, cpuQuota, maxBootSeconds * 1000, k, o).catch((err) => {
          o.log?.warn({ kind, cpuQuota, err: errorMessage(err) }, 'calibration: boot probe failed');
          return null;
        });
        o.log?.info({ kind, cpuQuota, bootMs }, 'calibration: boot probe');
        return {
          cpuQuota,
          bootMs,
          note: bootMs === null ? `not ready within ${maxBootSeconds} s` : 'booted',
        };
      }),
    );
    const ok = tried.find((t) => t.bootMs !== null);
    if (!ok || ok.bootMs === null)
      throw new Error(
        `calibration: no ${kind} quota of ${candidates.join(', ')} booted within ${maxBootSeconds} s`,
      );
    kinds.push({ kind, cpuQuota: ok.cpuQuota, bootTimeoutMs: bootBudgetMs(ok.bootMs), tried });
  }
  return {
    rule:
      o.probe === false
        ? 'Not probed (--quick): fixed quotas, boot budget 60 s. The full matrix measures them.'
        : `Per kind, the smallest candidate quota (of ${JSON.stringify(o.candidates ?? CANDIDATES)}) whose broker ` +
          `booted to its first CONNACK within ${maxBootSeconds} s here (the candidates boot at once, beside each other` +
          `${o.bootCpuQuota === undefined ? '' : `, each with the runs' boot boost: ${o.bootCpuQuota} core until ready, then its quota`}) ` +
          `and of which six fit on the ${cores} cores; boot budget = 3 × that boot, within [10 s, 170 s] ` +
          '(a scaling action has 180 s). The smallest quota makes one broker the bottleneck.',
    kinds,
  };
}
