import { createServer, connect as netConnect, type Socket } from 'node:net';
import type { TestContext } from 'node:test';

/**
 * A user-space TCP relay on an ephemeral loopback port in front of `target` (this kernel has no
 * netem): bytes in one direction arrive `delayMs` late, in order. 'from-target' (default): a broker
 * behind it answers late (a slower or farther broker); 'to-target': what is sent to it arrives late,
 * and is lost if the target dies first. Closed, with every socket, at teardown.
 */
export async function delayRelay(
  t: TestContext,
  target: { host: string; port: number },
  delayMs: number,
  direction: 'from-target' | 'to-target' = 'from-target',
): Promise<{ url: string; port: number }> {
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  };
  const server = createServer((client) => {
    const upstream = netConnect({ host: target.host, port: target.port, noDelay: true });
    client.setNoDelay(true);
    track(client);
    track(upstream);
    const [from, to] = direction === 'from-target' ? [upstream, client] : [client, upstream];
    to.pipe(from); // the other direction, undelayed
    from.on('data', (chunk: Buffer) => {
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, delayMs);
    });
    // A close on either side closes the other (after the delayed bytes went out).
    upstream.on('close', () => setTimeout(() => client.destroy(), delayMs + 1));
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const port = (server.address() as { port: number }).port;
  return { url: `mqtt://127.0.0.1:${port}`, port };
}
