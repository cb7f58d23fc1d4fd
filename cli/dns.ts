import { loadConfig } from '../common/config/load.ts';
import { ConfigError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { formatHostPort, parseHostPort } from '../common/net/host-port.ts';
import { onShutdown } from '../common/shutdown.ts';
import { startGeoDns } from '../geo-dns/service.ts';
import { parseCommandArgs } from './args.ts';

export const DNS_USAGE =
  'dns --listen HOST:PORT [--config FILE] [--api HOST:PORT --token T]\n' +
  '                           run geo-dns standalone (UDP+TCP); the manager registers orchestrators\n' +
  '                           through the token-protected API (token also from BROKEL_DNS_TOKEN)';

/** `brokel dns`: geo-dns on its own, with the registry API a remote manager keeps current. */
export async function runDns(argv: string[], log: Logger, env = process.env): Promise<number> {
  const { values, positionals } = parseCommandArgs('dns', argv, {
    listen: { type: 'string' },
    config: { type: 'string', short: 'c' },
    api: { type: 'string' },
    token: { type: 'string' },
  });
  if (positionals.length > 0)
    throw new ConfigError([
      { path: 'dns', message: `unexpected argument ${JSON.stringify(positionals[0])}` },
    ]);
  const config = await loadConfig(values.config);
  const listen = values.listen ?? config.dns.listen;
  parseHostPort(listen, '--listen');
  const apiListen = values.api ?? config.dns.api.listen;
  const token = values.token ?? env.BROKEL_DNS_TOKEN ?? config.dns.api.token;
  if (apiListen !== undefined) parseHostPort(apiListen, '--api');
  if (apiListen !== undefined && (token === undefined || token.length < 16))
    throw new ConfigError([
      {
        path: '--token',
        message:
          'the registry API needs a token of 16 characters or more (--token, BROKEL_DNS_TOKEN or dns.api.token)',
      },
    ]);
  const geo = await startGeoDns({
    dns: config.dns,
    log: log.child({ component: 'geo-dns' }),
    listen,
    ...(apiListen !== undefined && token !== undefined ? { api: { listen: apiListen, token } } : {}),
  });
  onShutdown(() => geo.close(), log);
  const where = formatHostPort({ host: geo.server.host, port: geo.server.port });
  console.log(`brokel dns: ${config.dns.name} answered on ${where} (UDP and TCP), zone ${config.dns.zone}`);
  console.log(`  e.g. dig @${geo.server.host} -p ${geo.server.port} ${config.dns.name} A`);
  if (geo.api)
    console.log(`  registry API: http://${apiListen?.replace(/:\d+$/, '')}:${geo.api.port}/records`);
  await new Promise(() => undefined);
  return 0;
}
