import { availableParallelism } from 'node:os';
import { errorMessage } from '../../common/errors.ts';
import { type Logger, silentLogger } from '../../common/logger.ts';
import { LocalProvider } from '../../manager/providers/local/local-provider.ts';
import type { BrokerKind, CalibrationResult, KindCalibration } from './matrix-plan.ts';

/**
 * The matrix's per-kind VM size and boot budget (issue #15). Rule: the smallest candidate quota whose
 * replica boots (first CONNACK) within `maxBootSeconds` on this machine and of which six still fit on
 * its cores; the boot budget is 3 × the measured boot (a replica booting beside a loaded run is slower),
 * at least 10 s. The smallest quota makes one broker the bottleneck (s1's broker load in matrix.md
 * shows it did). Boots are measured on the local provider, one replica at a time.
 */
export const CANDIDATES: Record<BrokerKind, number[]> = {
  // FIELD-NOTES / docs/taxi-scenarios.md: one Mosquitto at 0.05 core is the bottleneck behind one orchestrator.
  mosquitto: [0.05, 0.1, 0.25],
  // Issue #15: not ready within 60 s at 0.05 core; ~28 s at 0.25 core.
  rabbitmq: [0.15, 0.25, 0.33],
};

export interface CalibrateMatrixOptions {
  /** Candidates per kind, ascending; a single fixed candidate with `probe: false` skips the measurement. */
  candidates?: Record<BrokerKind, number[]>;
  maxBootSeconds?: number;
  probe?: boolean;
  addressBlock?: string;
  log?: Logger;
  signal?: AbortSignal;
}

export function bootBudgetMs(bootMs: number): number {
  return Math.max(10_000, Math.ceil((3 * bootMs) / 1000) * 1000);
}

async function measureBoot(
  kind: BrokerKind,
  cpuQuota: number,
  maxBootMs: number,
  o: CalibrateMatrixOptions,
): Promise<number | null> {
  const provider = await LocalProvider.start({
    deployment: `mcal${process.pid % 100000}`,
    config: {
      addressing: 'aliases',
      addressBlock: o.addressBlock ?? '127.49',
      bootDelaySeconds: 0,
      stopTimeoutMs: 10_000,
      bootTimeoutMs: maxBootMs,
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
  const maxBootSeconds = o.maxBootSeconds ?? 30;
  const cores = availableParallelism();
  const kinds: KindCalibration[] = [];
  for (const kind of ['mosquitto', 'rabbitmq'] as const) {
    const candidates = (o.candidates ?? CANDIDATES)[kind];
    const tried: KindCalibration['tried'] = [];
    let chosen: KindCalibration | undefined;
    for (const cpuQuota of candidates) {
      if (o.signal?.aborted) throw new Error('calibration interrupted');
      if (o.probe === false) {
        chosen = { kind, cpuQuota, bootTimeoutMs: 60_000, tried };
        tried.push({ cpuQuota, bootMs: null, note: 'fixed, not probed' });
        break;
      }
      if (6 * cpuQuota > cores) {
        tried.push({ cpuQuota, bootMs: null, note: `six would need ${6 * cpuQuota} of ${cores} cores` });
        continue;
      }
      const bootMs = await measureBoot(kind, cpuQuota, maxBootSeconds * 1000, o).catch((err) => {
        o.log?.warn({ kind, cpuQuota, err: errorMessage(err) }, 'calibration: boot probe failed');
        return null;
      });
      const ok = bootMs !== null;
      tried.push({ cpuQuota, bootMs, note: ok ? 'booted' : `not ready within ${maxBootSeconds} s` });
      o.log?.info({ kind, cpuQuota, bootMs }, 'calibration: boot probe');
      if (ok) {
        chosen = { kind, cpuQuota, bootTimeoutMs: bootBudgetMs(bootMs), tried };
        break;
      }
    }
    if (!chosen)
      throw new Error(
        `calibration: no ${kind} quota of ${candidates.join(', ')} booted within ${maxBootSeconds} s`,
      );
    kinds.push(chosen);
  }
  return {
    rule:
      o.probe === false
        ? 'Not probed (--quick): fixed quotas, boot budget 60 s. The full matrix measures them.'
        : `Per kind, the smallest candidate quota (of ${JSON.stringify(o.candidates ?? CANDIDATES)}) whose broker ` +
          `booted to its first CONNACK within ${maxBootSeconds} s here and of which six fit on the ${cores} cores; ` +
          'boot budget = 3 × that boot, at least 10 s. The smallest quota makes one broker the bottleneck.',
    kinds,
  };
}
