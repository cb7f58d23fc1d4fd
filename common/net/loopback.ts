import { ConfigError } from '../errors.ts';
import { parseIp } from './cidr.ts';

const V4_LOOPBACK = 127n << 24n; // 127.0.0.0/8 (RFC 1122 §3.2.1.3)

/**
 * True when a listen host only accepts connections from this machine: 127.0.0.0/8 (also as
 * IPv4-mapped IPv6), `::1`, or `localhost`. Anything else (0.0.0.0, `::`, a routable address, a
 * name) counts as reachable from the network.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.toLowerCase() === 'localhost') return true;
  const ip = parseIp(bare);
  if (!ip) return false;
  if (ip.family === 4) return ip.value >> 24n === V4_LOOPBACK >> 24n;
  return ip.value === 1n;
}

/**
 * Refuses an HTTP API that would listen off loopback without a bearer token: a ConfigError naming
 * `tokenField` (the flag or config path that supplies the token) and the address.
 */
export function requireTokenOffLoopback(
  host: string,
  token: string | undefined,
  tokenField: string,
  listenField: string,
): void {
  if ((token ?? '') !== '' || isLoopbackHost(host)) return;
  throw new ConfigError([
    {
      path: tokenField,
      message: `is required when ${listenField} (${host}) is not a loopback address`,
    },
  ]);
}
