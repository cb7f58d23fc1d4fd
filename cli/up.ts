import { watch } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../common/config/load.ts';
import type { BrokelConfig } from '../common/config/schema.ts';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { parseHostPort } from '../common/net/host-port.ts';
import { onShutdown } from '../common/shutdown.ts';
import { startGeoDns } from '../geo-dns/service.ts';
import { deploymentAdminToken, forgetDeploymentAdminToken } from '../manager/admin-token.ts';
import { startManagerApi } from '../manager/api-server.ts';
import { assembleControlPlane } from '../manager/control-plane.ts';
import { HttpDnsRegistry, NoDnsRegistry } from '../manager/dns-registry.ts';
import { createProvider } from '../manager/providers/create-provider.ts';
import { checkTemplateNames } from './check-templates.ts';

/**
 * `brokel up`: the system on the embedded default (local provider): min replicas of each level, the
 * manager's loop, its API; prints where clients connect. Thresholds, min/max, α and the interval
 * reload on file change or SIGHUP (a bad file is refused and the running config stays). Ctrl-C or
 * SIGTERM drains and stops everything.
 */
export async function runUp(initial: BrokelConfig, file: string | undefined, log: Logger): Promise<void> {
  let config = initial;
  let configError: string | undefined;
  const provider = await createProvider(config, log.child({ component: 'provider' }));
  // geo-dns: in this process, or a standalone one's registry API (dns.registry), or none.
  const { registry } = config.dns;
  const geo =
    registry.url || !config.dns.enabled
      ? undefined
      : await startGeoDns({ dns: config.dns, log: log.child({ component: 'geo-dns' }) });
  const dns = geo
    ? geo.directory
    : registry.url && registry.token
      ? new HttpDnsRegistry(registry.url.replace(/\/$/, ''), registry.token)
      : new NoDnsRegistry();
  const adminToken = await deploymentAdminToken(config.manager.adminToken, provider.stateDir);
  const { manager, metrics, decisionLog, topology } = assembleControlPlane({
    provider,
    config: () => config,
    decisionLogFile:
      config.manager.decisionLog ?? join(provider.stateDir, '..', `${config.deployment}-decisions.jsonl`),
    adminToken,
    log,
    dns,
  });
  const listen = parseHostPort(config.api.listen, 'api.listen');
  const api = await startManagerApi({
    manager,
    metrics,
    ...listen,
    log,
    registries: geo ? [geo.server.metrics.registry] : [],
    adminToken,
    dashboard: {
      manager,
      config: () => config,
      orchestratorStatus: (r) => topology.client(r).status(),
      ...(geo ? { dnsRecords: () => geo.directory.list() } : {}),
    },
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
    await geo?.close();
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
  if (geo)
    console.log(
      `geo-dns: ${config.dns.name} on ${geo.server.host}:${geo.server.port} (UDP/TCP), e.g. dig @${geo.server.host} -p ${geo.server.port} ${config.dns.name}`,
    );
  else if (registry.url) console.log(`geo-dns: orchestrators registered at ${registry.url}`);
  const base = `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${api.port}`;
  console.log(`Dashboard: open ${base}/ in a browser (live; or \`brokel status --watch\` here)`);
  console.log(`Manager API: ${base}/api/status (and /metrics); decisions: ${decisionLog.file}`);
  console.log('Ctrl-C stops everything.');
  await new Promise(() => undefined);
}
