import { createServer, connect as netConnect, type Socket } from 'node:net';
import type { TestContext } from 'node:test';

/**
 * A TCP relay on 127.0.0.1 to `target` whose first `lossy` connections lose everything the client sends
 * once the broker answered (its CONNACK): the client's PUBLISHes are written, and accepted by the
 * socket, but never reach the broker, as on a link that fails after the write. An MQTT client writes
 * nothing after CONNECT before the CONNACK, so the CONNECT always passes. Later connections are relayed
 * as they are. Every socket is destroyed at teardown.
 */
export async function startDropAfterConnack(
  t: TestContext,
  target: { host: string; port: number },
  lossy = 1,
): Promise<{ id: string; dropped: () => number }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let dropped = 0;
  const server = createServer({ noDelay: true }, (client) => {
    const lose = accepted < lossy;
    accepted += 1;
    const upstream = netConnect({ ...target, noDelay: true });
    let answered = false;
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      if (lose && answered) dropped += chunk.length;
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      answered = true;
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as { port: number };
  return { id: `127.0.0.1:${port}`, dropped: () => dropped };
}
