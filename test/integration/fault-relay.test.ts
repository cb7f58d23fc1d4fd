import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { startFaultRelay } from '../helpers/fault-relay.ts';
import { within } from '../helpers/resources.ts';

/** An echo server on 127.0.0.1, closed at teardown. */
async function echoServer(t: TestContext): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as { port: number }).port;
}

/** A client through the relay that collects what comes back. */
async function client(t: TestContext, port: number) {
  const socket = netConnect({ host: '127.0.0.1', port, noDelay: true });
  t.after(() => {
    socket.destroy();
  });
  const state = { received: 0, errors: [] as string[], closed: false };
  socket.on('data', (chunk: Buffer) => {
    state.received += chunk.length;
  });
  socket.on('error', (err: NodeJS.ErrnoException) => state.errors.push(err.code ?? err.message));
  socket.on('close', () => {
    state.closed = true;
  });
  await once(socket, 'connect');
  return { socket, state };
}

async function until(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<number> {
  const start = Date.now();
  await within(
    (async () => {
      while (!predicate()) await new Promise((r) => setTimeout(r, 5));
    })(),
    timeoutMs,
    what,
  );
  return Date.now() - start;
}

describe('fault relay (test helper): delay, bandwidth, reset, blackhole', () => {
  it('relays bytes unchanged with no fault', async (t) => {
    const relay = await startFaultRelay(t, { host: '127.0.0.1', port: await echoServer(t) });
    const c = await client(t, relay.port);
    const chunks: Buffer[] = [];
    c.socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const sent = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
    c.socket.write(sent);
    await until('echo of 100 kB', () => c.state.received >= sent.length);
    assert.ok(Buffer.concat(chunks).equals(sent));
    assert.equal(relay.connections, 1);
  });

  it('adds the delay each way (a round trip takes at least 2 × delay)', async (t) => {
    const relay = await startFaultRelay(t, { host: '127.0.0.1', port: await echoServer(t) });
    const c = await client(t, relay.port);
    relay.setDelay(100);
    c.socket.write('ping');
    const ms = await until('delayed echo', () => c.state.received >= 4);
    assert.ok(ms >= 195, `round trip ${ms} ms with 100 ms each way`);
    assert.ok(ms < 1000, `round trip ${ms} ms`);
  });

  it('throttles to the bandwidth (20 kB at 40 kB/s each way takes about 0.5 s)', async (t) => {
    const relay = await startFaultRelay(t, { host: '127.0.0.1', port: await echoServer(t) });
    const c = await client(t, relay.port);
    relay.setBandwidth(40_000);
    c.socket.write(Buffer.alloc(20_000, 7));
    const ms = await until('throttled echo', () => c.state.received >= 20_000);
    assert.ok(ms >= 450, `20 kB at 40 kB/s took ${ms} ms`);
    relay.setBandwidth(undefined);
    const start = Date.now();
    c.socket.write(Buffer.alloc(20_000, 7));
    await until('unthrottled echo', () => c.state.received >= 40_000);
    assert.ok(Date.now() - start < 300, 'unlimited again');
  });

  it('blackhole: nothing passes, the socket stays open, and what was held flows when it heals', async (t) => {
    const relay = await startFaultRelay(t, { host: '127.0.0.1', port: await echoServer(t) });
    const c = await client(t, relay.port);
    relay.setBlackhole(true);
    c.socket.write('lost?');
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(c.state.received, 0, 'nothing crossed the partition');
    assert.equal(c.state.closed, false, 'no reset, no FIN');
    relay.setBlackhole(false);
    await until('held bytes after healing', () => c.state.received >= 5, 2000);
  });

  it('reset: every relayed connection gets a RST; new connections still work', async (t) => {
    const relay = await startFaultRelay(t, { host: '127.0.0.1', port: await echoServer(t) });
    const a = await client(t, relay.port);
    const b = await client(t, relay.port);
    await until('both relayed', () => relay.connections === 2);
    relay.reset();
    await until('both closed', () => a.state.closed && b.state.closed);
    assert.deepEqual([a.state.errors, b.state.errors], [['ECONNRESET'], ['ECONNRESET']]);
    const c = await client(t, relay.port);
    c.socket.write('again');
    await until('echo after reset', () => c.state.received >= 5);
  });
});
