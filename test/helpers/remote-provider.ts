import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { validate } from '../../common/config/load.ts';
import { type BrokelConfig, type BrokelConfigInput, configSchema } from '../../common/config/schema.ts';
import { silentLogger } from '../../common/logger.ts';
import { assembleControlPlane } from '../../manager/control-plane.ts';
import type { DnsRegistry } from '../../manager/dns-registry.ts';
import type { CloudProvider } from '../../manager/providers/cloud-provider.ts';
import { LocalProvider } from '../../manager/providers/local/local-provider.ts';
import { startCloudServer } from '../../manager/providers/local/rest-server.ts';
import {
  OpenNebulaProvider,
  type OpenNebulaProviderOptions,
} from '../../manager/providers/opennebula/opennebula-provider.ts';
import { localConfig, uniqueDeployment } from './resources.ts';

export const CLOUD_TOKEN = 'cloud-test-token-0123456789';

const stacks = new WeakMap<TestContext, Array<() => Promise<unknown>>>();

/**
 * Teardown in reverse order of setup (node:test runs t.after hooks first-registered first): the
 * manager stops before its provider, the provider before the cloud server it talks to.
 */
export function defer(t: TestContext, fn: () => Promise<unknown>): void {
  let stack = stacks.get(t);
  if (!stack) {
    const fresh: Array<() => Promise<unknown>> = [];
    stacks.set(t, fresh);
    t.after(async () => {
      for (const f of fresh.reverse()) await f();
    });
    stack = fresh;
  }
  stack.push(fn);
}

/** `brokel cloud serve` in-process: a local provider behind the REST API on 127.0.0.1:0. */
export async function startCloud(t: TestContext) {
  const local = await LocalProvider.start({
    deployment: uniqueDeployment('cloud'),
    config: localConfig(),
    pollIntervalMs: 50,
  });
  defer(t, () => local.stop());
  const server = await startCloudServer({
    provider: local,
    host: '127.0.0.1',
    port: 0,
    token: CLOUD_TOKEN,
    log: silentLogger(),
  });
  defer(t, () => server.close());
  return { local, server, url: `http://127.0.0.1:${server.port}` };
}

/** An opennebula provider pointed at `url`, stopped (its VMs deleted) at teardown. */
export async function startOpenNebula(
  t: TestContext,
  url: string,
  overrides: Partial<OpenNebulaProviderOptions> = {},
): Promise<OpenNebulaProvider> {
  const stateDir = await mkdtemp(join(tmpdir(), 'brokel-one-'));
  t.after(() => rm(stateDir, { recursive: true, force: true }));
  const provider = await OpenNebulaProvider.start({
    deployment: uniqueDeployment('one'),
    url,
    token: CLOUD_TOKEN,
    timeoutMs: 5000,
    retries: 2,
    retryBaseMs: 20,
    pollIntervalMs: 50,
    stateDir,
    ...overrides,
  });
  defer(t, () => provider.stop());
  return provider;
}

/** A manager over any provider, stopped at teardown (startManager gives it a fresh local provider). */
export async function startManagerOn(
  t: TestContext,
  provider: CloudProvider,
  input: BrokelConfigInput,
  dns?: DnsRegistry,
) {
  const config: BrokelConfig = validate(configSchema, {
    ...input,
    manager: { adminToken: 'manager-test-token-0123456789', ...input.manager },
  });
  const dir = await mkdtemp(join(tmpdir(), 'brokel-manager-'));
  // After the manager stopped (defer runs in reverse): a running manager still writes its decision log.
  defer(t, () => rm(dir, { recursive: true, force: true }));
  const { manager, topology, decisionLog, metrics } = assembleControlPlane({
    provider,
    config: () => config,
    decisionLogFile: join(dir, 'decisions.jsonl'),
    adminToken: config.manager.adminToken ?? 'manager-test-token-0123456789',
    log: silentLogger(),
    ...(dns ? { dns } : {}),
  });
  defer(t, () => manager.stop());
  await manager.start();
  return { manager, topology, decisionLog, config, metrics };
}
