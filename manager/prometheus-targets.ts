import type { LevelStatus } from './manager.ts';

/** One group of Prometheus's HTTP service discovery format (`http_sd_configs`). */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/**
 * The orchestrators' admin listeners (their `/metrics`) as Prometheus HTTP service discovery
 * groups, so a scrape config follows scale-out and scale-in (deploy/prometheus/scrape.yaml).
 */
export function prometheusTargets(levels: readonly LevelStatus[], deployment: string): TargetGroup[] {
  const orchestrators = levels.find((l) => l.level === 'orchestrator')?.replicas ?? [];
  return orchestrators
    .filter((r) => r.state === 'ready' && r.ports.admin !== undefined)
    .map((r) => ({
      targets: [`${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.ports.admin}`],
      labels: { deployment, level: 'orchestrator', replica: r.id },
    }));
}
