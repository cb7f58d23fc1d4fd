// test-timeout-ms: 120000
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { leftoverCgroups, pidAlive, processesOf, waitFor, within } from '../helpers/resources.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A test file that leaves what an interrupted run leaves: a capped Mosquitto replica (a detached
 * process group and its cgroups, torn down only by the provider's `after` hook), a detached `sleep` of
 * its own, and one started with an empty environment (no BROKEL_TEST_RUN marker: only the run's pids
 * cgroup finds it); it writes what it started to FIXTURE_OUT and waits.
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
  const bare = spawn('/bin/sleep', ['601'], { detached: true, stdio: 'ignore', env: {} });
  bare.unref();
  const deployment = provider.stateDir.split('/').pop();
  writeFileSync(
    process.env.FIXTURE_OUT ?? '',
    JSON.stringify({ deployment, sleeper: sleeper.pid, bare: bare.pid }),
  );
  await new Promise((resolve) => setTimeout(resolve, 90_000));
});
`;

/**
 * A test file that passes and leaves two detached `sleep`s behind (a test that forgets its clean-up):
 * one with the run's environment, one with an empty one.
 */
const LEAKER = `
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { it } from 'node:test';

it('forgets what it started', () => {
  const sleeper = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
  sleeper.unref();
  const bare = spawn('/bin/sleep', ['601'], { detached: true, stdio: 'ignore', env: {} });
  bare.unref();
  writeFileSync(process.env.FIXTURE_OUT ?? '', JSON.stringify({ sleeper: sleeper.pid, bare: bare.pid }));
});
`;

interface Started {
  deployment?: string;
  sleeper: number;
  bare: number;
}

/** The pids cgroup (v1) folder this process is in, if the machine has that hierarchy. */
function ownPidsCgroup(): string | undefined {
  if (!existsSync('/sys/fs/cgroup/pids')) return undefined;
  const line = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((l) => /^\d+:pids:/.test(l));
  return line === undefined
    ? undefined
    : `/sys/fs/cgroup/pids${line.replace(/^\d+:pids:/, '').replace(/\/$/, '')}`;
}

/** The pids cgroup folders a run of run-tests.sh started as `runner` made (brokel-run-tests-<pid>-<ns>). */
function runCgroups(runner: number | undefined): string[] {
  const own = ownPidsCgroup();
  if (own === undefined || runner === undefined) return [];
  // The inner run's folder is made below the one its runner started in: this process's.
  return readdirSync(own).filter((name) => name.startsWith(`brokel-run-tests-${runner}-`));
}

/**
 * `scripts/run-tests.sh` on one test file, as a run of its own (not as a child of this test runner:
 * NODE_TEST_CONTEXT dropped), as a developer starts it. Whatever happens, nothing it started outlives
 * the test: its replica processes and sleepers (as the fixture wrote them down) are killed in `after`.
 */
function startRun(t: TestContext, fixture: string) {
  const dir = mkdtempSync(join(tmpdir(), 'brokel-interrupted-'));
  writeFileSync(join(dir, 'fixture.test.ts'), fixture);
  const out = join(dir, 'started.json');
  const { NODE_TEST_CONTEXT: _child, ...env } = process.env;
  const run: ChildProcess = spawn('bash', ['scripts/run-tests.sh', dir], {
    cwd: repo,
    env: { ...env, FIXTURE_OUT: out },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const io = { output: '', stderr: '' };
  run.stdout?.on('data', (chunk: Buffer) => {
    io.output += chunk.toString();
  });
  run.stderr?.on('data', (chunk: Buffer) => {
    io.stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => run.once('exit', (code) => resolve(code)));
  // One hook, the folder removed last: with the folder's removal in a hook of its own, registered
  // first and so run first, `out` was gone before this read it, and nothing here ever ran.
  t.after(() => {
    if (run.exitCode === null) run.kill('SIGKILL');
    const started = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as Started) : undefined;
    rmSync(dir, { recursive: true, force: true });
    if (started === undefined) return;
    if (started.deployment !== undefined) {
      for (const line of processesOf(`/brokel/${started.deployment}/`))
        process.kill(Number(line.split(' ')[0]), 'SIGKILL');
      // The interrupted provider never removed its state folder (the run ends processes and cgroups).
      rmSync(join(tmpdir(), 'brokel', started.deployment), { recursive: true, force: true });
    }
    for (const pid of [started.sleeper, started.bare]) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  });
  /** What the fixture started, once it wrote it (or fails with the run's output). */
  const started = async (): Promise<Started> => {
    await waitFor(
      () => existsSync(out) || run.exitCode !== null,
      60_000,
      'the fixture to start its processes',
    );
    assert.ok(existsSync(out), `the fixture started nothing:\n${io.output}\n${io.stderr}`);
    return JSON.parse(readFileSync(out, 'utf8')) as Started;
  };
  return { run, io, exited, started };
}

describe('scripts/run-tests.sh ends what its test files leave', () => {
  it('interrupted (TERM): ends the processes they started and removes their replica cgroups', async (t) => {
    const { run, io, exited, started } = startRun(t, FIXTURE);
    const { deployment, sleeper, bare } = await started();
    assert.ok(deployment !== undefined);
    assert.ok(processesOf(`/brokel/${deployment}/`).length > 0, 'the replica runs');
    assert.ok(leftoverCgroups(deployment).length > 0, 'the replica has its cgroups');
    assert.ok(pidAlive(sleeper), 'the sleeper runs');
    assert.ok(pidAlive(bare), 'the sleeper without the environment runs');
    if (ownPidsCgroup() !== undefined)
      assert.equal(runCgroups(run.pid).length, 1, 'the run has its pids cgroup');

    run.kill('SIGTERM');
    assert.equal(await within(exited, 30_000, 'run-tests.sh to exit'), 130);
    assert.match(io.stderr, /interrupted; ending what this run started/);
    assert.deepEqual(processesOf(`/brokel/${deployment}/`), [], 'no replica process left');
    assert.equal(pidAlive(sleeper), false, 'the sleeper ended');
    assert.equal(
      pidAlive(bare),
      false,
      'the sleeper without the environment ended (found by the pids cgroup)',
    );
    assert.deepEqual(leftoverCgroups(deployment), [], 'no replica cgroup left');
    assert.deepEqual(runCgroups(run.pid), [], 'no pids cgroup of the run left');
  });

  it('ended on its own: lists and ends what a test left running, and fails', async (t) => {
    const { run, io, exited, started } = startRun(t, LEAKER);
    const code = await within(exited, 60_000, 'run-tests.sh to exit');
    const { sleeper, bare } = await started();
    assert.match(io.output, /pass 1\b/, 'the test itself passed');
    assert.equal(code, 1, `a run that leaves processes fails:\n${io.stderr}`);
    assert.match(io.stderr, /2 process\(es\) the run started outlived it/);
    assert.match(io.stderr, /sleep 600/);
    assert.match(io.stderr, /sleep 601/);
    assert.equal(pidAlive(sleeper), false, 'the sleeper ended');
    assert.equal(pidAlive(bare), false, 'the sleeper without the environment ended');
    assert.deepEqual(runCgroups(run.pid), [], 'no pids cgroup of the run left');
  });
});
