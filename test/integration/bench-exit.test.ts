// test-lanes: shared
// A benchmark leaves nothing behind however it ends (bench/lib/exit-cleanup.ts): a reader that goes
// away (`| head`: EPIPE on its output) used to kill it as an uncaught error and leave its Mosquitto, the
// Mosquitto's cgroup and state, and its orchestrator running; a SIGTERM did the same. A real bench
// (bench:profile-fixed, one Mosquitto and one orchestrator, a short paced load) is ended both ways.
// Two lanes: it measures nothing, and its load is paced at 400 msg/s.
import assert from 'node:assert/strict';
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { leftoverCgroups, pidAlive, waitFor } from '../helpers/resources.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const PIDS = /orchestrator pid (\d+), mosquitto pid (\d+)/;

type Bench = ChildProcessByStdio<null, Readable, Readable>;

function startBench(t: TestContext, seconds: number): Bench {
  const bench = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'bench/profile-fixed.ts',
      '--rate',
      '400',
      '--seconds',
      String(seconds),
      '--qos',
      '1',
      '--no-profile',
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => {
    if (bench.exitCode === null && bench.signalCode === null) bench.kill('SIGKILL');
  });
  return bench;
}

/** The two PIDs the bench prints before it measures. */
async function childPids(bench: Bench): Promise<number[]> {
  for await (const line of createInterface({ input: bench.stdout })) {
    const m = PIDS.exec(line);
    if (m) return [Number(m[1]), Number(m[2])];
  }
  throw new Error('the bench ended before it printed its PIDs');
}

function exited(bench: Bench): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve) => bench.once('exit', (code, signal) => resolve({ code, signal })));
}

/**
 * What the bench made and left: its local provider's (deployment `bench-prof-<its pid>`) cgroups and
 * state, and its profile folders (`brokel-prof-<its pid>-*`).
 */
function leftovers(benchPid: number): string[] {
  const deployment = `bench-prof-${benchPid}`;
  const state = join(tmpdir(), 'brokel', deployment);
  const profiles = readdirSync(tmpdir())
    .filter((name) => name.startsWith(`brokel-prof-${benchPid}-`))
    .map((name) => join(tmpdir(), name));
  return [...leftoverCgroups(deployment), ...(existsSync(state) ? [state] : []), ...profiles];
}

describe('a benchmark ended from outside', () => {
  it('runs to its end when its reader goes away, and leaves no process, cgroup or state', async (t) => {
    const bench = startBench(t, 2);
    const end = exited(bench);
    const stderr: string[] = [];
    bench.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    const pids = await childPids(bench);
    assert.deepEqual(pids.filter(pidAlive), pids, 'the orchestrator and Mosquitto run');
    // `| head` exits: the bench's next line meets a closed pipe (EPIPE).
    bench.stdout.destroy();
    const { code, signal } = await end;
    assert.equal(signal, null);
    assert.equal(code, 0, `the bench ended by itself, with success: ${stderr.join('').slice(-2000)}`);
    await waitFor(() => !pids.some(pidAlive), 10_000, 'the orchestrator and Mosquitto to end');
    assert.deepEqual(leftovers(bench.pid ?? -1), [], 'no cgroup, state or profile folder left');
  });

  it('stops its orchestrator and Mosquitto on SIGTERM and exits 143', async (t) => {
    const bench = startBench(t, 30);
    const end = exited(bench);
    const pids = await childPids(bench);
    assert.deepEqual(pids.filter(pidAlive), pids, 'the orchestrator and Mosquitto run');
    bench.kill('SIGTERM');
    const { code } = await end;
    assert.equal(code, 143);
    await waitFor(() => !pids.some(pidAlive), 10_000, 'the orchestrator and Mosquitto to end');
    assert.deepEqual(leftovers(bench.pid ?? -1), [], 'no cgroup, state or profile folder left');
  });
});
