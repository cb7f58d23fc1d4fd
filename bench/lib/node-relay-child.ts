// Starts bench/lib/node-relay.ts as a child process in front of one broker (bench/node-floor.ts, and
// its test): resolves once it prints the port it listens on, within `readyTimeoutMs`.
import { spawn } from 'node:child_process';
import type { Target } from './bench-client.ts';
import { stopChild, trackChild } from './exit-cleanup.ts';
import { readyPort } from './processes.ts';

export interface RelayChild {
  pid: number;
  port: number;
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone. */
  stop(): Promise<void>;
}

const READY = /node-relay: listening on [^:]+:(\d+)/;

/**
 * `runArgs`: node's arguments before the broker's address, i.e. the relay's compiled file (what the
 * bench measures), or `--import tsx bench/lib/node-relay.ts` from `cwd` (what a test runs).
 */
export async function startRelayChild(
  runArgs: readonly string[],
  broker: Target,
  options: { cwd?: string; readyTimeoutMs: number },
): Promise<RelayChild> {
  const child = spawn(process.execPath, [...runArgs, broker.host, String(broker.port)], {
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  trackChild(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = () => stopChild(child, exited, 5_000);
  try {
    const port = await readyPort(child, READY, { name: 'node-relay', timeoutMs: options.readyTimeoutMs });
    if (child.pid === undefined) throw new Error('node-relay has no pid');
    return { pid: child.pid, port, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
