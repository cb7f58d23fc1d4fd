import { isIP } from 'node:net';
import type { BrokelConfig } from '../common/config/schema.ts';
import type { JsonServer } from '../common/http/json-server.ts';
import type { Logger } from '../common/logger.ts';
import { parseHostPort } from '../common/net/host-port.ts';
import type { ZoneConfig } from './answer.ts';
import { openGeoIp } from './geoip.ts';
import { Locator } from './locator.ts';
import { dnsMetrics } from './metrics.ts';
import { OrchestratorDirectory } from './records.ts';
import { startRegistryApi } from './registry-api.ts';
import { type RunningDnsServer, startDnsServer } from './server.ts';

export type DnsConfig = BrokelConfig['dns'];

export interface GeoDns {
  server: RunningDnsServer;
  directory: OrchestratorDirectory;
  /** The registry API, when one was asked for (standalone server). */
  api?: JsonServer;
  close(): Promise<void>;
}

export function zoneConfig(dns: DnsConfig, listenHost: string): ZoneConfig {
  const specific = isIP(listenHost) !== 0 && listenHost !== '0.0.0.0' && listenHost !== '::';
  return {
    zone: dns.zone,
    name: dns.name,
    ttlSeconds: dns.ttlSeconds,
    nsName: `ns.${dns.zone}`,
    nsAddresses: specific ? [listenHost] : [],
  };
}

/**
 * geo-dns as configured: the GeoIP database (configured, else the shipped one), the static
 * locations, the DNS server on `listen` (or the `listen` override), and the registry API when
 * `api` is given. The directory it returns is what a co-located manager registers with.
 */
export async function startGeoDns(options: {
  dns: DnsConfig;
  log: Logger;
  listen?: string;
  api?: { listen: string; token: string };
}): Promise<GeoDns> {
  const { dns, log } = options;
  const geoip = await openGeoIp(dns.geoipDatabase);
  log.info({ geoip: geoip.source, staticLocations: dns.locations.length }, 'geo-dns locations loaded');
  const locator = new Locator(dns.locations, geoip);
  const metrics = dnsMetrics();
  const directory = new OrchestratorDirectory((all) => {
    for (const state of ['ready', 'draining'] as const)
      metrics.records.set({ state }, all.filter((r) => r.state === state).length);
    metrics.tally.keepOnly(new Set(all.map((r) => r.id)));
  });
  const bootSerial = Math.floor(Date.now() / 1000);
  const { host, port } = parseHostPort(options.listen ?? dns.listen, 'dns.listen');
  const server = await startDnsServer({
    host,
    port,
    log,
    metrics,
    zone: zoneConfig(dns, host),
    serial: () => (bootSerial + directory.version) >>> 0,
    records: () => directory.list(),
    locate: (address) => locator.locate(address),
    choice: { tieKm: dns.tieKm, topK: dns.topK },
    cacheEntries: dns.cacheEntries,
  });
  let api: JsonServer | undefined;
  if (options.api) {
    try {
      api = await startRegistryApi({
        directory,
        metrics,
        ...parseHostPort(options.api.listen, 'dns.api.listen'),
        token: options.api.token,
        log,
      });
    } catch (err) {
      await server.close();
      throw err;
    }
  }
  return {
    server,
    directory,
    ...(api ? { api } : {}),
    close: async () => {
      await api?.close();
      await server.close();
    },
  };
}
