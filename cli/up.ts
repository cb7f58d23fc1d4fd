import { watch } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../common/config/load.ts';
import type { BrokelConfig } from '../common/config/schema.ts';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { onShutdown } from '../common/shutdown.ts';
import { deploymentAdminToken, forgetDeploymentAdminToken } from '../manager/admin-token.ts';
import { startManagerApi } from '../manager/api-server.ts';
import { assembleControlPlane } from '../manager/control-plane.ts';
import { LocalProvider } from '../manager/providers/local/local-provider.ts';
import { checkTemplateNames } from './check-templates.ts';

function hostPort(value: string): { host: string; port: number } {
  const at = value.lastIndexOf(':');
  return { host: value.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(value.slice(at + 1)) };
}

/**
 * `brokel up`: the system on the embedded default (local provider): min replicas of each level, the
 * manager's loop, its API; prints where clients connect. Thresholds, min/max, α and the interval
 * reload on file change or SIGHUP (a bad file is refused and the running config stays). Ctrl-C or
 * SIGTERM drains and stops everything.
 */
export async function runUp(initial: BrokelConfig, file: string | undefined, log: Logger): Promise<void> {
  if (initial.provider.kind !== 'local')
    throw new Error(`provider.kind: ${initial.provider.kind} is not available yet; use local`);
  let config = initial;
  let configError: string | undefined;
  const provider = await LocalProvider.start({
    deployment: config.deployment,
    config: config.provider.local,
    users: config.brokers.users,
    logger: log.child({ component: 'provider' }),
  });
  const { manager, metrics, decisionLog, topology } = assembleControlPlane({
    provider,
    config: () => config,
    decisionLogFile:
      config.manager.decisionLog ?? join(provider.stateDir, '..', `${config.deployment}-decisions.jsonl`),
    adminToken: await deploymentAdminToken(config.manager.adminToken, provider.stateDir),
    log,
  });
  const listen = hostPort(config.api.listen);
  const api = await startManagerApi({
    manager,
    metrics,
    ...listen,
    log,
    extra: () => ({
      deployment: config.deployment,
      configFile: file ?? null,
      configError: configError ?? null,
      thresholds: config.levels,
    }),
  });
  onShutdown(async () => {
    await manager.stop();
    await topology.drainOrchestrators(2000);
    await api.close();
    await forgetDeploymentAdminToken(provider.stateDir);
    await provider.stop();
  }, log);
  const reload = async () => {
    if (!file) return;
    try {
      const next = await loadConfig(file);
      checkTemplateNames(next, file);
      config = next;
      configError = undefined;
      log.info({ file }, 'config reloaded');
    } catch (err) {
      configError = errorMessage(err);
      log.error({ file, err: configError }, 'config rejected: the running config stays');
    }
  };
  if (file) {
    watch(file, () => void reload()).unref();
    process.on('SIGHUP', () => void reload());
  }
  await manager.start();
  const orchestrators = (await provider.list()).filter((r) => r.level === 'orchestrator');
  console.log(`brokel: deployment ${config.deployment} is up.`);
  for (const r of await provider.list())
    console.log(`  ${r.level.padEnd(12)} ${r.id.padEnd(14)} ${r.template.padEnd(12)} ${r.url}`);
  console.log(`MQTT clients connect to: ${orchestrators.map((o) => o.url).join(', ')}`);
  console.log(
    `  e.g. mosquitto_sub -h ${orchestrators[0]?.host} -p ${orchestrators[0]?.port} -t 'taxi/#' -v`,
  );
  console.log(
    `Manager API: http://${listen.host}:${api.port}/api/status (and /metrics); decisions: ${decisionLog.file}`,
  );
  console.log('Ctrl-C stops everything.');
  await new Promise(() => undefined);
}
