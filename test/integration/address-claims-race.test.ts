// test-lanes: shared
// Address claims raced by processes (manager/providers/local/address-pool.ts): four processes claim the
// same 400 addresses at the same moment, fresh and then stale (left by a dead owner). Each address must
// go to exactly one. With the claim file created first and its owner written after, a process read it
// empty, took it for stale and claimed it too: 596 claims won for 400 addresses, and in the full suite two
// replicas started on one address ("Address already in use"). In one process the race does not show:
// the file system calls of one process do not interleave that finely.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AddressClaims } from '../../manager/providers/local/address-pool.ts';
import { within } from '../helpers/resources.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const KEYS = Array.from({ length: 400 }, (_, i) => `127.9.${Math.floor(i / 200)}.${(i % 200) + 1}`);
// Each claimer says `ready` once loaded, spins until the start time the test then sends it, claims, prints
// what it won, and stays alive until the test closes its stdin: a claim whose owner has exited is stale
// and rightly taken over, so a claimer that ended before a slower one had read its claims made the
// fresh race fail (92 of 400 "claimed twice" with three test files at once on 2 cores).
const CLAIMER = `
import { createInterface } from 'node:readline';
import { AddressClaims } from './manager/providers/local/address-pool.ts';
const [dir, keys] = [process.argv[1], JSON.parse(process.argv[2])];
const claims = new AddressClaims(dir);
const lines = createInterface({ input: process.stdin });
lines.once('line', async (line) => {
  const startAt = Number(line);
  while (Date.now() < startAt) {}
  const won = [];
  for (const key of keys) if (await claims.claim(key)) won.push(key);
  console.log(JSON.stringify({ pid: process.pid, won }));
});
console.log('ready');
`;

/** Starts `n` processes that claim KEYS from the same moment on; resolves what each won. */
async function race(dir: string, n: number): Promise<Array<{ pid: number; won: string[] }>> {
  const children = Array.from({ length: n }, () =>
    spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', CLAIMER, dir, JSON.stringify(KEYS)],
      {
        cwd: repoRoot,
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    ),
  );
  try {
    // Each claimer's output, a line at a time; a claimer that exits first ends its lines early.
    const lines = children.map((child) => createInterface({ input: child.stdout })[Symbol.asyncIterator]());
    const next = async (i: number): Promise<string> => {
      const line = await lines[i]?.next();
      if (line === undefined || line.done) throw new Error(`claimer ${i} exited before its answer`);
      return line.value;
    };
    await within(Promise.all(children.map((_, i) => next(i))), 30_000, 'every claimer loaded');
    const startAt = Date.now() + 200;
    for (const child of children) child.stdin.write(`${startAt}\n`);
    const answers = await within(Promise.all(children.map((_, i) => next(i))), 30_000, 'every answer');
    return answers.map((json) => JSON.parse(json) as { pid: number; won: string[] });
  } finally {
    // Only now, with every claimer's answer in (or a failure), may they end: stdin closed, they exit.
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.stdin.end();
        await within(exited, 10_000, 'a claimer to exit').catch(() => child.kill('SIGKILL'));
      }),
    );
  }
}

function assertEachOnce(results: Array<{ won: string[] }>): void {
  const all = results.flatMap((r) => r.won);
  const twice = all.filter((key, i) => all.indexOf(key) !== i);
  assert.deepEqual(
    twice.slice(0, 5),
    [],
    `${twice.length} addresses claimed twice (${all.length} claims won)`,
  );
  assert.equal(all.length, KEYS.length, 'every address claimed by one process');
}

describe('address claims raced by processes', () => {
  it('four processes claim 400 free addresses at once: each goes to exactly one', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'claims-race-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const results = await race(join(dir, 'claims'), 4);
    assertEachOnce(results);
    // Each claim file names its winner; nothing written aside is left.
    const files = await readdir(join(dir, 'claims'));
    assert.equal(
      files.length,
      KEYS.length,
      `files left: ${files.filter((f) => !KEYS.includes(f)).slice(0, 3)}`,
    );
    for (const r of results)
      for (const key of r.won.slice(0, 20))
        assert.equal(Number(await readFile(join(dir, 'claims', key), 'utf8')), r.pid);
  });

  it('four processes take over 400 stale claims (a dead owner) at once: each goes to exactly one', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'claims-stale-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const claims = new AddressClaims(join(dir, 'claims'));
    for (const key of KEYS) await claims.adopt(key, 2 ** 22 + 12345); // above pid_max: not alive
    assertEachOnce(await race(join(dir, 'claims'), 4));
  });
});
