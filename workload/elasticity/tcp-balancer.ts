import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * Seed-000's set-up as a scenario (issue #14): independent brokers behind a plain TCP balancer
 * (HAProxy `mode tcp`, `balance roundrobin`), no orchestrator. Each connection is piped whole to the
 * next broker in turn, so a subscriber sees only what publishers on its own broker sent.
 */
export interface TcpBalancer {
  port: number;
  /** Connections given to each backend so far. */
  counts: number[];
  close(): Promise<void>;
}

export async function startTcpBalancer(
  backends: ReadonlyArray<{ host: string; port: number }>,
  host = '127.0.0.1',
): Promise<TcpBalancer> {
  if (backends.length === 0) throw new RangeError('a balancer needs at least one backend');
  const counts = backends.map(() => 0);
  const sockets = new Set<Socket>();
  let next = 0;
  const server: Server = createServer((client) => {
    const i = next++ % backends.length;
    counts[i] = (counts[i] ?? 0) + 1;
    const backend = backends[i] as { host: string; port: number };
    const upstream = createConnection({ host: backend.host, port: backend.port });
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    }
    client.pipe(upstream).on('error', () => client.destroy());
    upstream.pipe(client).on('error', () => upstream.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('balancer: no TCP address');
  return {
    port: address.port,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
