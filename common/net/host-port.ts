import { ConfigError } from '../errors.ts';

export interface HostPort {
  host: string;
  port: number;
}

/** `host:port` or `[v6]:port` → its parts (port 0 allowed: any free port); a ConfigError naming `what` otherwise. */
export function parseHostPort(value: string, what: string): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(value);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  const problem = (message: string) => new ConfigError([{ path: what, message }]);
  if (host === undefined) throw problem(`${JSON.stringify(value)} is not HOST:PORT`);
  if (port > 65_535) throw problem(`${JSON.stringify(value)}: port ${port} is above 65535`);
  return { host, port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
