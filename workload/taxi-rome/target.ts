import DNS from 'dns2';
import { BrokelError, ConfigError } from '../../common/errors.ts';
import { parseHostPort } from '../../common/net/host-port.ts';

/** Where clients connect: a URL, or a name resolved through a given DNS server (the geo-dns). */
export type Target = { url: string } | { dns: string; name: string; port: number };

/**
 * Asks `server` (HOST:PORT, UDP) for the A records of `name` with dns2's client. Rejects when the
 * server does not answer within `timeoutMs` or answers with no address.
 */
export async function resolveA(server: string, name: string, timeoutMs = 3000): Promise<string[]> {
  const { host, port } = parseHostPort(server, '--dns');
  if (port === 0)
    throw new ConfigError([{ path: '--dns', message: `${JSON.stringify(server)}: port 0 is no server` }]);
  // dns2's UDP client, given the same timeout: through `new DNS(...)` its socket stayed open for dns2's
  // default 10 s after an unanswered query (a geo-dns already stopped), keeping a finished test's process alive.
  const query = DNS.UDPClient({ dns: host, port, timeout: timeoutMs, retryOverTCP: false });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new BrokelError('dns_timeout', `DNS ${server}: no answer for ${name} in ${timeoutMs} ms`, {
            retryable: true,
          }),
        ),
      timeoutMs,
    );
  });
  try {
    const answer = await Promise.race([query(name, 'A'), timeout]);
    const addresses = answer.answers
      .filter((a) => a.type === DNS.Packet.TYPE.A && typeof a.address === 'string')
      .map((a) => a.address as string);
    if (addresses.length === 0)
      throw new BrokelError('dns_no_address', `DNS ${server}: no A record for ${name}`, { retryable: true });
    return addresses;
  } finally {
    clearTimeout(timer);
  }
}

/** The broker URLs a target stands for (one per address the DNS gave; clients are spread over them). */
export async function resolveTarget(target: Target): Promise<string[]> {
  if ('url' in target) return [target.url];
  const addresses = await resolveA(target.dns, target.name);
  return addresses.map((a) => `mqtt://${a.includes(':') ? `[${a}]` : a}:${target.port}`);
}
