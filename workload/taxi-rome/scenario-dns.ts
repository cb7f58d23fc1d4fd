import type { BrokelConfig } from '../../common/config/schema.ts';
import { BrokelError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { type GeoDns, startGeoDns } from '../../geo-dns/service.ts';
import type { Follow } from './mqtt-clients.ts';
import { resolveTarget } from './target.ts';

/**
 * s3's clients reach the orchestrators as devices do (issue #13): a geo-dns in the runner's process
 * on a free loopback port, kept current by the manager (as under `brokel up`), and the service name
 * resolved through it, at the start and again whenever a client is closed.
 */
export interface ScenarioDns {
  geo: GeoDns;
  /** Where clients look the service name up again (followRedirects). */
  follow: Follow;
  /** The orchestrator URLs the service name stands for now (waiting, bounded, for a first record). */
  urls(port: number, timeoutMs?: number): Promise<string[]>;
  close(): Promise<void>;
}

export async function startScenarioDns(config: BrokelConfig, log: Logger): Promise<ScenarioDns> {
  const geo = await startGeoDns({
    dns: config.dns,
    log: log.child({ component: 'geo-dns' }),
    listen: '127.0.0.1:0',
  });
  const follow: Follow = { dns: `127.0.0.1:${geo.server.port}`, name: config.dns.name };
  return {
    geo,
    follow,
    async urls(port, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!geo.directory.list().some((r) => r.state === 'ready')) {
        if (Date.now() > deadline)
          throw new BrokelError('dns_empty', `geo-dns has no ready orchestrator after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return resolveTarget({ ...follow, port });
    },
    close: () => geo.close(),
  };
}
