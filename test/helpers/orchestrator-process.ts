import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { within } from './resources.ts';

export interface OrchestratorProcess {
  child: ChildProcess;
  port: number;
  pid: number;
  alive(): boolean;
  /** What it printed so far (stdout and stderr). */
  output(): string;
}

/**
 * `node bin/brokel.js orchestrator` (not npx: its PID is the orchestrator's) on an ephemeral loopback
 * port with extra flags; SIGTERM by PID at teardown.
 */
export async function orchestratorProcess(
  t: TestContext,
  brokerUrls: readonly string[],
  extraArgs: readonly string[] = [],
): Promise<OrchestratorProcess> {
  const args = [
    'bin/brokel.js',
    'orchestrator',
    '--listen',
    '127.0.0.1:0',
    '--brokers',
    brokerUrls.join(','),
  ];
  const child = spawn(process.execPath, [...args, '--log-level', 'error', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  t.after(async () => {
    if (!alive()) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await within(exited, 15_000, 'the orchestrator process to exit').catch(() => child.kill('SIGKILL'));
  });
  const port = await within(
    new Promise<number>((resolve, reject) => {
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        output += `${line}\n`;
        const m = /MQTT on 127\.0\.0\.1:(\d+)/.exec(line);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', () => reject(new Error(`orchestrator exited: ${output}`)));
    }),
    20_000,
    'the orchestrator to print its port',
  );
  return { child, port, pid: child.pid ?? 0, alive, output: () => output };
}
