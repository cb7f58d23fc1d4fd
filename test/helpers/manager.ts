import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { validate } from '../../common/config/load.ts';
import { type BrokelConfig, type BrokelConfigInput, configSchema } from '../../common/config/schema.ts';
import { silentLogger } from '../../common/logger.ts';
import { assembleControlPlane } from '../../manager/control-plane.ts';
import type { DnsRegistry } from '../../manager/dns-registry.ts';
import { startProvider } from './resources.ts';

/** A manager over a fresh local provider, stopped (and everything destroyed) at teardown. */
export async function startManager(t: TestContext, input: BrokelConfigInput, dns?: DnsRegistry) {
  const config: BrokelConfig = validate(configSchema, {
    ...input,
    manager: { adminToken: 'manager-test-token-0123456789', ...input.manager },
  });
  const provider = await startProvider(t);
  const dir = await mkdtemp(join(tmpdir(), 'brokel-manager-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { manager, topology, decisionLog } = assembleControlPlane({
    provider,
    config: () => config,
    decisionLogFile: join(dir, 'decisions.jsonl'),
    adminToken: config.manager.adminToken ?? 'manager-test-token-0123456789',
    log: silentLogger(),
    ...(dns ? { dns } : {}),
  });
  t.after(() => manager.stop());
  await manager.start();
  return { manager, provider, topology, decisionLog, config };
}
