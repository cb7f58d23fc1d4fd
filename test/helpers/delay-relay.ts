import { createServer, connect as netConnect, type Socket } from 'node:net';
import type { TestContext } from 'node:test';

/**
 * A user-space TCP relay on an ephemeral loopback port in front of `target` (this kernel has no
 * netem): bytes from the target back to the connecting side arrive `delayMs` late, in order, so a
 * broker behind it answers late (a slower or farther broker). Closed, with every socket, at teardown.
 */
export async function delayRelay(
  t: TestContext,
  target: { host: string; port: number },
  delayMs: number,
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
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      setTimeout(() => {
        if (!client.destroyed) client.write(chunk);
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
