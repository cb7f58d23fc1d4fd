import { loadConfig } from '../common/config/load.ts';
import { ConfigError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { formatHostPort, parseHostPort } from '../common/net/host-port.ts';
import { onShutdown } from '../common/shutdown.ts';
import { LocalProvider } from '../manager/providers/local/local-provider.ts';
import { startCloudServer } from '../manager/providers/local/rest-server.ts';
import { parseCommandArgs } from './args.ts';

export const CLOUD_USAGE =
  'cloud serve --listen HOST:PORT --token T [-c FILE] [--deployment NAME]\n' +
  '                           this machine as an OpenNebula-like cloud front-end (REST API, local provider)';

/** The smallest bearer token accepted (it guards process creation on this machine). */
const MIN_TOKEN_LENGTH = 16;

/**
 * `brokel cloud serve`: the local provider (replicas are processes here, sized by their CPU quota)
 * behind the REST API the opennebula provider speaks, for a manager running elsewhere. `-c` reads
 * provider.local and brokers.users from a brokel.yaml; `--deployment` names the replicas (`cloud`).
 */
export async function runCloud(argv: string[], log: Logger): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'serve') throw new ConfigError([{ path: 'cloud', message: `usage: brokel ${CLOUD_USAGE}` }]);
  const { values } = parseCommandArgs('cloud serve', rest, {
    listen: { type: 'string' },
    token: { type: 'string' },
    config: { type: 'string', short: 'c' },
    deployment: { type: 'string' },
  });
  if (values.listen === undefined) throw new ConfigError([{ path: '--listen', message: 'is required' }]);
  if (values.token === undefined || values.token.length < MIN_TOKEN_LENGTH)
    throw new ConfigError([
      { path: '--token', message: `is required, at least ${MIN_TOKEN_LENGTH} characters` },
    ]);
  const listen = parseHostPort(values.listen, '--listen');
  const config = await loadConfig(values.config);
  const deployment = values.deployment ?? 'cloud';
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(deployment))
    throw new ConfigError([{ path: '--deployment', message: `${JSON.stringify(deployment)} is not a name` }]);
  const provider = await LocalProvider.start({
    deployment,
    config: config.provider.local,
    users: config.brokers.users,
    logger: log.child({ component: 'provider' }),
  });
  const server = await startCloudServer({
    provider,
    ...listen,
    token: values.token,
    log: log.child({ component: 'cloud-api' }),
  });
  onShutdown(async () => {
    await server.close();
    await provider.stop();
  }, log);
  console.log(`brokel: cloud API on http://${formatHostPort({ host: listen.host, port: server.port })}/vms`);
  console.log('Ctrl-C stops it and destroys every VM it runs.');
  await new Promise(() => undefined);
  return 0;
}
