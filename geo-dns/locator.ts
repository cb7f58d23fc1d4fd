import { type Cidr, cidrContains, parseCidr, parseIp } from '../common/net/cidr.ts';
import type { GeoLocation } from './geo.ts';
import type { GeoIpLookup } from './geoip.ts';

export interface StaticLocation extends GeoLocation {
  cidr: string;
}

/** Where a client is, how that was found, and the prefix length the finding holds for (ECS scope). */
export interface Located {
  location: GeoLocation | undefined;
  source: 'static' | 'geoip' | 'unknown';
  prefix: number;
}

/** Places a client address: static CIDR entries first (longest prefix wins), then the GeoIP database. */
export class Locator {
  private readonly entries: Array<{ cidr: Cidr; location: GeoLocation }>;

  constructor(
    entries: readonly StaticLocation[],
    private readonly geoip: GeoIpLookup | undefined,
  ) {
    this.entries = entries
      .map(({ cidr, ...location }) => ({ cidr: parseCidr(cidr), location }))
      .filter((e): e is { cidr: Cidr; location: GeoLocation } => e.cidr !== undefined)
      .sort((a, b) => b.cidr.prefix - a.cidr.prefix);
  }

  locate(address: string): Located {
    const ip = parseIp(address);
    if (!ip) return { location: undefined, source: 'unknown', prefix: 0 };
    const entry = this.entries.find((e) => cidrContains(e.cidr, ip));
    if (entry) return { location: entry.location, source: 'static', prefix: entry.cidr.prefix };
    const hit = this.geoip?.lookup(address.replace(/^::ffff:/i, ''), ip.family);
    if (hit) return { location: hit.location, source: 'geoip', prefix: hit.prefix };
    return { location: undefined, source: 'unknown', prefix: 0 };
  }
}
