import type { BrokelConfig } from '../common/config/schema.ts';
import type { Logger } from '../common/logger.ts';
import { onShutdown } from '../common/shutdown.ts';
import { LocalProvider } from '../manager/providers/local/local-provider.ts';

/**
 * `brokel up`: the system on the embedded default (the local provider). Until the manager lands it
 * starts the broker level's minimum replicas, prints where clients connect, and on Ctrl-C/SIGTERM
 * stops everything it started.
 */
export async function runUp(config: BrokelConfig, log: Logger): Promise<void> {
  if (config.provider.kind !== 'local') {
    throw new Error(`provider.kind: ${config.provider.kind} is not available yet; use local`);
  }
  const provider = await LocalProvider.start({
    deployment: config.deployment,
    config: config.provider.local,
    users: config.brokers.users,
    logger: log.child({ component: 'provider' }),
  });
  onShutdown(() => provider.stop(), log);
  const adopted = (await provider.list()).filter((r) => r.level === 'broker' && r.state !== 'failed');
  const templates = [config.levels.brokers.template].flat();
  const level = config.levels.brokers;
  for (let i = adopted.length; i < level.min; i++) {
    const template = templates[i % templates.length] ?? 'mosquitto';
    await provider.create(
      'broker',
      template,
      level.cpuQuota === undefined ? {} : { cpuQuota: level.cpuQuota },
    );
  }
  const replicas = await Promise.all(
    (await provider.list()).filter((r) => r.level === 'broker').map((r) => provider.waitReady(r.id, 120_000)),
  );
  console.log(`brokel: ${replicas.length} broker replica(s) ready (deployment ${config.deployment}):`);
  for (const r of replicas)
    console.log(`  ${r.id}  ${r.template}  ${r.url}  cpuQuota=${r.cpuQuota ?? 'none'}`);
  console.log('Connect MQTT clients to the address above, e.g.');
  console.log(`  mosquitto_sub -h ${replicas[0]?.host} -p ${replicas[0]?.port} -t 'taxi/#' -v`);
  console.log('Ctrl-C stops everything.');
  await new Promise(() => undefined);
}
