import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../../manager/providers/local/address-pool.ts';
import { defer } from './remote-provider.ts';
import { within } from './resources.ts';

/** A fresh folder under the system's temporary one, removed at teardown (`defer`: after what used it). */
export async function workDir(t: TestContext, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  defer(t, () => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** `node bin/brokel.js down -c FILE`: exit code and output, bounded. */
export async function down(file: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['bin/brokel.js', 'down', '-c', file],
      { timeout: 60_000, env: { ...process.env, BROKEL_LOG_LEVEL: 'warn' } },
    );
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/**
 * `DIR/brokel.yaml` for the local demo at its smallest: one broker (0.2 core) and one orchestrator, no
 * geo-dns, the manager's API on a free loopback port, the decision log in DIR.
 */
export async function smallLocalConfig(
  dir: string,
  deployment: string,
  /** More top-level lines of the file (a `provider:` section). */
  extra: readonly string[] = [],
): Promise<{ file: string; apiPort: number }> {
  const apiPort = await freePort('127.0.0.1');
  const file = join(dir, 'brokel.yaml');
  await writeFile(
    file,
    [
      `deployment: ${deployment}`,
      `manager: { decisionLog: ${join(dir, 'decisions.jsonl')} }`,
      'monitor: { intervalSeconds: 0.5 }',
      'levels: { brokers: { min: 1, max: 1, cpuQuota: 0.2 }, orchestrators: { min: 1, max: 1 } }',
      `api: { listen: 127.0.0.1:${apiPort} }`,
      'dns: { enabled: false }',
      ...extra,
      '',
    ].join('\n'),
  );
  return { file, apiPort };
}

/**
 * `node bin/brokel.js up -c FILE [...extra]` started (node directly, so its PID is the manager's):
 * SIGTERM at teardown if still running; `exited` its exit code, `closed` the same once its output
 * is read to the end; `output()` what it printed so far (stdout and stderr).
 */
export function spawnUp(
  t: TestContext,
  file: string,
  extra: readonly string[] = [],
): {
  child: ChildProcess;
  exited: Promise<number | null>;
  closed: Promise<number | null>;
  output: () => string;
} {
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
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, exited, closed, output: () => out };
}

/**
 * spawnUp, resolved once it printed its last start-up line (`Ctrl-C …`, after where clients
 * connect); `dashboard` is the address it printed for the dashboard ('' when none).
 */
export async function up(
  t: TestContext,
  file: string,
  extra: readonly string[] = [],
): Promise<{ child: ChildProcess; exited: Promise<number | null>; output: () => string; dashboard: string }> {
  const { child, exited, output } = spawnUp(t, file, extra);
  const printed = new Promise<string>((resolve, reject) => {
    let clients = false;
    let dashboard = '';
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      if (line.startsWith('MQTT clients connect to:')) clients = true;
      dashboard = /^Dashboard: open (\S+) in a browser/.exec(line)?.[1] ?? dashboard;
      if (clients && line.startsWith('Ctrl-C ')) resolve(dashboard);
    });
    void exited.then((code) => reject(new Error(`brokel up exited with ${code}: ${output()}`)));
  });
  const dashboard = await within(printed, 60_000, 'brokel up to print where clients connect');
  return { child, exited, output, dashboard };
}
