import type { BrokelConfig } from '../common/config/schema.ts';

/** Cores a new broker of `template` gets: its own entry in `cpuQuotaByTemplate`, else the level's `cpuQuota`. */
export function brokerCpuQuota(
  level: Pick<BrokelConfig['levels']['brokers'], 'cpuQuota' | 'cpuQuotaByTemplate'>,
  template: string,
): number | undefined {
  return level.cpuQuotaByTemplate?.[template] ?? level.cpuQuota;
}
