// test-timeout-ms: 120000
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { leftoverCgroups, pidAlive, processesOf, waitFor, within } from '../helpers/resources.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A test file that leaves what an interrupted run leaves: a capped Mosquitto replica (a detached
 * process group and its cgroups, torn down only by the provider's `after` hook) and a detached `sleep`
 * of its own; it writes what it started to FIXTURE_OUT and waits.
 */
const FIXTURE = `
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { it } from 'node:test';
import { startProvider } from ${JSON.stringify(join(repo, 'test/helpers/resources.ts'))};

it('starts a replica and a sleeper, then waits to be interrupted', async (t) => {
  const provider = await startProvider(t);
  const broker = await provider.create('broker', 'mosquitto', { cpuQuota: 0.5 });
  await provider.waitReady(broker.id, 20_000);
  const sleeper = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
  sleeper.unref();
  const deployment = provider.stateDir.split('/').pop();
  writeFileSync(process.env.FIXTURE_OUT ?? '', JSON.stringify({ deployment, sleeper: sleeper.pid }));
  await new Promise((resolve) => setTimeout(resolve, 90_000));
});
`;

interface Started {
  deployment: string;
  sleeper: number;
}

describe('scripts/run-tests.sh interrupted', () => {
  it('ends the processes its test files started and removes their replica cgroups (TERM)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'brokel-interrupted-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'leaves.test.ts'), FIXTURE);
    const out = join(dir, 'started.json');
    // Not as a child of this test runner (NODE_TEST_CONTEXT): a run of its own, as a developer starts it.
    const { NODE_TEST_CONTEXT: _child, ...env } = process.env;
    const run: ChildProcess = spawn('bash', ['scripts/run-tests.sh', dir], {
      cwd: repo,
      env: { ...env, FIXTURE_OUT: out },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let stderr = '';
    run.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    run.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => run.once('exit', (code) => resolve(code)));
    let started: Started | undefined;
    // Whatever happens below, nothing this test started outlives it.
    t.after(() => {
      if (run.exitCode === null) run.kill('SIGKILL');
      if (started === undefined) return;
      for (const line of processesOf(`/brokel/${started.deployment}/`))
        process.kill(Number(line.split(' ')[0]), 'SIGKILL');
      if (pidAlive(started.sleeper)) process.kill(started.sleeper, 'SIGKILL');
    });

    await waitFor(() => existsSync(out) || run.exitCode !== null, 60_000, 'the fixture to start its replica');
    assert.ok(existsSync(out), `the fixture started nothing:\n${output}\n${stderr}`);
    started = JSON.parse(readFileSync(out, 'utf8')) as Started;
    const deployment = started.deployment;
    assert.ok(processesOf(`/brokel/${deployment}/`).length > 0, 'the replica runs');
    assert.ok(leftoverCgroups(deployment).length > 0, 'the replica has its cgroups');
    assert.ok(pidAlive(started.sleeper), 'the sleeper runs');

    run.kill('SIGTERM');
    assert.equal(await within(exited, 30_000, 'run-tests.sh to exit'), 130);
    assert.match(stderr, /interrupted; ending what this run started/);
    assert.deepEqual(processesOf(`/brokel/${deployment}/`), [], 'no replica process left');
    assert.equal(pidAlive(started.sleeper), false, 'the sleeper ended');
    assert.deepEqual(leftoverCgroups(deployment), [], 'no cgroup left');
  });
});
