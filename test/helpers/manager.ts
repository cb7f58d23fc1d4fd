import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { validate } from '../../common/config/load.ts';
import { type BrokelConfig, type BrokelConfigInput, configSchema } from '../../common/config/schema.ts';
import { silentLogger } from '../../common/logger.ts';
import { DecisionLog } from '../../manager/decision-log.ts';
import { NoDnsRegistry } from '../../manager/dns-registry.ts';
import { Manager } from '../../manager/manager.ts';
import { managerMetrics } from '../../manager/metrics.ts';
import { Topology } from '../../manager/topology.ts';
import { startProvider } from './resources.ts';

export const ADMIN_TOKEN = 'manager-test-token-0123456789';

/** A manager over a fresh local provider, stopped (and everything destroyed) at teardown. */
export async function startManager(t: TestContext, input: BrokelConfigInput) {
  const config: BrokelConfig = validate(configSchema, input);
  const provider = await startProvider(t);
  const dir = await mkdtemp(join(tmpdir(), 'brokel-manager-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const decisionLog = new DecisionLog(join(dir, 'decisions.jsonl'));
  const log = silentLogger();
  const topology = new Topology({
    provider,
    dns: new NoDnsRegistry(),
    log,
    adminToken: ADMIN_TOKEN,
    actionTimeoutMs: config.manager.actionTimeoutSeconds * 1000,
    drainQuietMs: config.manager.drainQuietSeconds * 1000,
    routing: config.routing,
    users: config.brokers.users,
  });
  const manager = new Manager({
    provider,
    topology,
    config: () => config,
    log,
    decisionLog,
    metrics: managerMetrics(),
  });
  t.after(() => manager.stop());
  await manager.start();
  return { manager, provider, topology, decisionLog, config };
}
