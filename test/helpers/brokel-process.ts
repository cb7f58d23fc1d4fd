import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { within } from './resources.ts';

/**
 * `node bin/brokel.js up -c FILE [...extra]` (node directly, so its PID is the manager's), resolved
 * once it printed its last start-up line (`Ctrl-C …`, after where clients connect); SIGTERM at teardown
 * if still running. `output()` is what it printed so far (stdout and stderr); `dashboard` is the address
 * it printed for the dashboard ('' when none).
 */
export async function up(
  t: TestContext,
  file: string,
  extra: readonly string[] = [],
): Promise<{ child: ChildProcess; exited: Promise<number | null>; output: () => string; dashboard: string }> {
  const child = spawn(process.execPath, ['bin/brokel.js', 'up', '-c', file, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BROKEL_LOG_LEVEL: 'warn' },
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  let out = '';
  child.stderr?.on('data', (d) => {
    out += d;
  });
  child.stdout?.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const printed = new Promise<string>((resolve, reject) => {
    let clients = false;
    let dashboard = '';
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      if (line.startsWith('MQTT clients connect to:')) clients = true;
      dashboard = /^Dashboard: open (\S+) in a browser/.exec(line)?.[1] ?? dashboard;
      if (clients && line.startsWith('Ctrl-C ')) resolve(dashboard);
    });
    void exited.then((code) => reject(new Error(`brokel up exited with ${code}: ${out}`)));
  });
  const dashboard = await within(printed, 60_000, 'brokel up to print where clients connect');
  return { child, exited, output: () => out, dashboard };
}
