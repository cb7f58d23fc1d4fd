import { join } from 'node:path';
import { loadConfig } from '../common/config/load.ts';
import { applyReload } from '../common/config/reload.ts';
import type { BrokelConfig } from '../common/config/schema.ts';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { parseHostPort } from '../common/net/host-port.ts';
import { onShutdown } from '../common/shutdown.ts';
import { startGeoDns } from '../geo-dns/service.ts';
import { deploymentAdminToken, forgetDeploymentAdminToken } from '../manager/admin-token.ts';
import { startManagerApi } from '../manager/api-server.ts';
import { deploymentBrokerTls, forgetDeploymentBrokerTls } from '../manager/broker-tls.ts';
import { assembleControlPlane } from '../manager/control-plane.ts';
import { HttpDnsRegistry, NoDnsRegistry } from '../manager/dns-registry.ts';
import { forgetManualTargets } from '../manager/manual-targets.ts';
import { createProvider } from '../manager/providers/create-provider.ts';
import { checkTemplateNames } from './check-templates.ts';
import { watchConfigFile } from './config-watch.ts';

/**
 * Whether stopping `brokel up` ends the deployment (pure): only the local provider's embedded demo
 * does, unless --keep-replicas; a manager on kubernetes or opennebula never takes the data plane with it.
 */
export function endsDeployment(providerKind: string, keepReplicas: boolean): boolean {
  return providerKind === 'local' && !keepReplicas;
}

/**
 * `brokel up`: the system on the embedded default (local provider): min replicas of each level, the
 * manager's loop, its API; prints where clients connect. Thresholds, min/max, α and the interval
 * reload on file change or SIGHUP (a bad file is refused and the running config stays). Ctrl-C or
 * SIGTERM stops the manager and leaves the replicas running for the next one (`brokel down` removes
 * them); only the local provider's demo ends everything, and says so, unless --keep-replicas.
 */
export async function runUp(
  initial: BrokelConfig,
  file: string | undefined,
  log: Logger,
  options: { keepReplicas: boolean } = { keepReplicas: false },
): Promise<void> {
  let config = initial;
  let configError: string | undefined;
  /** Paths the file changed that wait for a restart (reported in the log and in status). */
  let restartRequired: string[] = [];
  const provider = await createProvider(config, log.child({ component: 'provider' }));
  const teardown = endsDeployment(provider.kind, options.keepReplicas);
  // Until the manager's API is up, a step that fails undoes the steps before it (newest first) and
  // the error ends `brokel up`: geo-dns left listening kept the process running on after the error.
  const endProvider = async (): Promise<void> => {
    if (!teardown) return provider.close();
    await forgetDeploymentAdminToken(provider.stateDir);
    await forgetManualTargets(provider.stateDir);
    await forgetDeploymentBrokerTls(provider.stateDir);
    await provider.stop();
  };
  const undo: Array<() => Promise<unknown>> = [endProvider];
  const unwind = async (err: unknown): Promise<never> => {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    throw err;
  };
  // geo-dns: in this process, or a standalone one's registry API (dns.registry), or none.
  const { registry } = config.dns;
  const geo =
    registry.url || !config.dns.enabled
      ? undefined
      : await startGeoDns({ dns: config.dns, log: log.child({ component: 'geo-dns' }) }).catch(unwind);
  if (geo) undo.push(() => geo.close());
  const dns = geo
    ? geo.directory
    : registry.url && registry.token
      ? new HttpDnsRegistry(registry.url.replace(/\/$/, ''), registry.token)
      : new NoDnsRegistry();
  const adminToken = await deploymentAdminToken(config.manager.adminToken, provider.stateDir).catch(unwind);
  const brokerTls = config.brokers.tls
    ? await deploymentBrokerTls(provider.stateDir, config.deployment).catch(unwind)
    : undefined;
  const { manager, metrics, decisionLog, topology } = assembleControlPlane({
    ...(brokerTls ? { brokerTls } : {}),
    provider,
    config: () => config,
    decisionLogFile:
      config.manager.decisionLog ?? join(provider.stateDir, '..', `${config.deployment}-decisions.jsonl`),
    adminToken,
    log,
    dns,
    stateDir: provider.stateDir,
  });
  const listen = parseHostPort(config.api.listen, 'api.listen');
  const api = await startManagerApi({
    manager,
    metrics,
    ...listen,
    log,
    registries: geo ? [geo.server.metrics.registry] : [],
    adminToken,
    readAccess: config.api.readAccess,
    dashboard: {
      manager,
      config: () => config,
      orchestratorStatus: (r) => topology.client(r).status(),
      ...(geo
        ? { dnsRecords: () => geo.directory.list(), dnsAnswers: () => geo.server.metrics.tally.rows() }
        : {}),
    },
    extra: () => ({
      deployment: config.deployment,
      configFile: file ?? null,
      configError: configError ?? null,
      restartRequired,
      thresholds: config.levels,
    }),
  }).catch(unwind);
  if (teardown)
    log.warn(
      { provider: provider.kind },
      'local demo: stopping this manager (Ctrl-C, SIGTERM) destroys every replica; `brokel up --keep-replicas` keeps them',
    );
  const stop = async (): Promise<void> => {
    await manager.stop();
    if (teardown) {
      log.warn('local demo: destroying every replica (the demo ends)');
      await topology.drainOrchestrators(2000);
    }
    await api.close();
    await geo?.close();
    await endProvider();
    if (!teardown)
      log.warn(
        { provider: provider.kind },
        'manager stopped; every replica keeps running (the next `brokel up` adopts them, `brokel down` removes them)',
      );
  };
  onShutdown(stop, log);
  const reload = async () => {
    if (!file) return;
    try {
      const next = await loadConfig(file);
      checkTemplateNames(next, file);
      const applied = applyReload(initial, next);
      config = applied.config;
      configError = undefined;
      restartRequired = applied.restartRequired;
      if (restartRequired.length > 0)
        log.warn(
          { file, restartRequired },
          'config reloaded; these changes need a restart of brokel up and are not applied yet',
        );
      else log.info({ file }, 'config reloaded');
    } catch (err) {
      configError = errorMessage(err);
      log.error({ file, err: configError }, 'config rejected: the running config stays');
    }
  };
  if (file) {
    watchConfigFile(file, () => void reload());
    process.on('SIGHUP', () => void reload());
  }
  try {
    await manager.start();
  } catch (err) {
    // The deployment did not start (a replica that could not be made, a template refused): end what
    // did start as Ctrl-C would, so that `brokel up` exits with the error. It printed the error and ran
    // on, its API and geo-dns up, the replicas made so far running, until a signal.
    log.error({ err: errorMessage(err) }, 'the deployment did not start: stopping');
    await stop().catch((e: unknown) => log.error({ err: errorMessage(e) }, 'stop failed'));
    throw err;
  }
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
  console.log(
    teardown
      ? 'Ctrl-C ends the demo: every replica is destroyed (brokel up --keep-replicas keeps them).'
      : 'Ctrl-C stops the manager; the replicas keep running (brokel down removes them).',
  );
  await new Promise(() => undefined);
}
