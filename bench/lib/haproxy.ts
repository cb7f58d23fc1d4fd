// HAProxy in `mode tcp` in front of one broker: the reference a TCP proxy sets for throughput, CPU and
// latency (FIELD-NOTES: `maxconn 4000`; 20000 refuses to start under this machine's open-file limit).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Target } from './bench-client.ts';
import { stopChild, trackChild } from './exit-cleanup.ts';

export interface HaproxyChild {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts `haproxy -db` (foreground) relaying 127.0.0.1:<free port> to `broker`; resolves once it accepts. */
export async function startHaproxy(broker: Target, readyTimeoutMs: number): Promise<HaproxyChild> {
  const host = '127.0.0.1';
  const port = await freePort(host);
  const dir = mkdtempSync(join(tmpdir(), 'brokel-haproxy-'));
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    [
      'global',
      '  maxconn 4000',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 1h',
      '  timeout server 1h',
      'frontend mqtt',
      `  bind ${host}:${port}`,
      '  default_backend broker',
      'backend broker',
      `  server b1 ${broker.host}:${broker.port}`,
      '',
    ].join('\n'),
  );
  const child = spawn('haproxy', ['-db', '-f', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` },
  });
  trackChild(child);
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-2000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    await stopChild(child, exited, 5_000);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + readyTimeoutMs;
  while (!(await accepts(host, port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy did not start: ${stderr.trim() || 'no output'}`);
    }
    await sleep(50);
  }
  if (child.pid === undefined) throw new Error('haproxy has no pid');
  return { pid: child.pid, port, stop };
}
