import { mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrokelConfig } from '../../common/config/schema.ts';
import { ConfigError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { CloudProvider } from './cloud-provider.ts';

/** A provider plus the folder where the manager keeps this deployment's own files (admin token). */
export type ManagedProvider = CloudProvider & { readonly stateDir: string };

/**
 * The manager's folder for a remote provider's deployment: nothing of the replicas lives there. Only
 * the deployment's own folder is private: the shared parent is made with the default permissions first,
 * since `mkdir -p`'s mode applies to every folder it makes, and a private `brokel` folder would keep a
 * local deployment's Mosquitto (which reads its password file after dropping to its own user) out of
 * its replica folders under it.
 */
export async function remoteStateDir(deployment: string, base = join(tmpdir(), 'brokel')): Promise<string> {
  await mkdir(base, { recursive: true });
  const dir = join(base, deployment);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** The opennebula provider's token: inline, or the trimmed content of tokenFile. */
async function opennebulaToken(config: BrokelConfig['provider']['opennebula']): Promise<string> {
  if (config.token !== undefined) return config.token;
  if (config.tokenFile === undefined)
    throw new ConfigError([{ path: 'provider.opennebula.token', message: 'token or tokenFile is required' }]);
  try {
    const token = (await readFile(config.tokenFile, 'utf8')).trim();
    if (token === '') throw new Error('the file is empty');
    return token;
  } catch (err) {
    throw new ConfigError([
      { path: 'provider.opennebula.tokenFile', message: `${config.tokenFile}: ${(err as Error).message}` },
    ]);
  }
}

/**
 * Opens the provider `provider.kind` names (the config was validated at load). Each provider's module
 * is imported only when chosen: @kubernetes/client-node alone costs about a second of CPU to load,
 * which every local `brokel up` (and every manager restart) would otherwise pay.
 */
export async function createProvider(config: BrokelConfig, log: Logger): Promise<ManagedProvider> {
  const { provider } = config;
  switch (provider.kind) {
    case 'local': {
      const { LocalProvider } = await import('./local/local-provider.ts');
      return LocalProvider.start({
        deployment: config.deployment,
        config: provider.local,
        users: config.brokers.users,
        logger: log,
      });
    }
    case 'kubernetes': {
      const { KubernetesProvider } = await import('./kubernetes/kubernetes-provider.ts');
      return KubernetesProvider.start({
        deployment: config.deployment,
        config: provider.kubernetes,
        stateDir: await remoteStateDir(config.deployment),
        logger: log,
      });
    }
    case 'opennebula': {
      const { OpenNebulaProvider } = await import('./opennebula/opennebula-provider.ts');
      const { url } = provider.opennebula;
      if (url === undefined)
        throw new ConfigError([
          { path: 'provider.opennebula.url', message: 'is required when kind is opennebula' },
        ]);
      return OpenNebulaProvider.start({
        deployment: config.deployment,
        ...provider.opennebula,
        url,
        token: await opennebulaToken(provider.opennebula),
        stateDir: await remoteStateDir(config.deployment),
        logger: log,
      });
    }
  }
}
