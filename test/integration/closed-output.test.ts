// test-lanes: shared
// A reader that leaves (`brokel … | head`) ends no command mid-way (common/closed-output.ts). Node
// ignores SIGPIPE, so a write to the closed pipe failed with EPIPE, an unhandled 'error' on
// process.stdout: `brokel simulate` died with a stack trace and exit code 1 after its run, and `brokel
// up` died after starting its replicas and left them running. Each command here starts with its stdout
// already closed by the reader (as `brokel … | true`), so its first line meets EPIPE.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../manager/providers/local/address-pool.ts';
import { down, smallLocalConfig, workDir } from '../helpers/brokel-process.ts';
import { defer } from '../helpers/remote-provider.ts';
import { leftoverCgroups, processesOf, waitFor, within } from '../helpers/resources.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** `node bin/brokel.js ARGS` with its stdout closed by the reader at once: exit code and stderr. */
async function withClosedStdout(
  t: TestContext,
  args: readonly string[],
  timeoutMs: number,
): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  const child = spawn(process.execPath, ['bin/brokel.js', ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BROKEL_LOG_LEVEL: 'warn' },
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const ended = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { ...(await within(ended, timeoutMs, `brokel ${args[0]} to end`)), stderr };
}

describe('a command whose reader leaves (EPIPE on stdout)', () => {
  it('brokel simulate runs to its end and exits 0, without a stack trace', async (t) => {
    const run = await withClosedStdout(t, ['simulate', '--days', '0.05', '--max-brokers', '20'], 60_000);
    assert.deepEqual([run.code, run.signal], [0, null], run.stderr);
    assert.doesNotMatch(run.stderr, /EPIPE|Error/);
  });

  it('brokel status --watch stops watching and exits 0', async (t) => {
    const dir = await workDir(t, 'brokel-closed-');
    const file = join(dir, 'brokel.yaml');
    // No manager answers there: each round prints that it is unreachable, to the closed stdout.
    await writeFile(file, `api: { listen: 127.0.0.1:${await freePort('127.0.0.1')} }\n`);
    const run = await withClosedStdout(t, ['status', '--watch', '--every', '0.2', '-c', file], 30_000);
    assert.deepEqual([run.code, run.signal], [0, null], run.stderr);
    assert.doesNotMatch(run.stderr, /EPIPE|Error/);
  });

  it('brokel up (local demo) stops as on SIGTERM: it destroys its replicas and exits 0', async (t) => {
    const dir = await workDir(t, 'brokel-closed-');
    const deployment = `co${process.pid}`;
    const { file } = await smallLocalConfig(dir, deployment);
    // Whatever happens below, nothing is left running (a no-op when up cleaned up after itself); `defer`
    // runs it before the folder's removal, so that `down` still finds the file.
    defer(t, () => down(file));
    // What ran from the deployment's state folder while it ran: its replicas were started.
    const seen = new Set<string>();
    const watch = setInterval(() => {
      for (const p of processesOf(`/brokel/${deployment}/`)) seen.add(p);
    }, 100);
    const run = await withClosedStdout(t, ['up', '-c', file], 90_000).finally(() => clearInterval(watch));
    assert.deepEqual([run.code, run.signal], [0, null], run.stderr);
    const started = [...seen].join('\n');
    assert.match(started, /mosquitto/);
    assert.match(started, /bin\/brokel\.js orchestrator/);
    // Its replicas (a Mosquitto and an orchestrator, running from the deployment's state folder) are
    // gone with their cgroups, as when Ctrl-C ends the demo.
    await waitFor(() => processesOf(`/brokel/${deployment}/`).length === 0, 10_000, 'the replicas to end');
    assert.deepEqual(leftoverCgroups(deployment), []);
  });
});
