// test-lanes: shared
// Runs beside other files: it runs scripts/run-tests.sh on a few tiny unit files of its own and reads
// what the run printed; nothing timed but the runner's own test timeout (HANG_TIMEOUT_MS), which a test
// here hangs into.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { within } from '../helpers/resources.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));

/** A unit file whose one test reports the process it ran in. */
const reporter = (name: string, header = '') =>
  `${header}import { it } from 'node:test';\nit('${name}', (t) => t.diagnostic('${name} ran in ' + process.pid));\n`;

/**
 * The nested run's test timeout, which bounds each batch process as a whole: long enough for a batch to
 * start (Node, tsx) and reach its tests on a loaded machine. At 3 s, beside two other files, the hanging
 * batch had not reached its test when it was ended, and the other was still in its last one.
 */
const HANG_TIMEOUT_MS = 10_000;

const HANGS = `import { describe, it } from 'node:test';
describe('a suite', () => {
  it('hangs forever', () => new Promise(() => setInterval(() => undefined, 1000)));
});
`;

/** Writes `files` into a fresh <tmp>/test/unit/ and runs scripts/run-tests.sh on them from the repo. */
async function runOn(t: TestContext, files: Record<string, string>, timeoutMs?: number) {
  const dir = mkdtempSync(join(tmpdir(), 'run-tests-batches-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const unit = join(dir, 'test', 'unit');
  mkdirSync(unit, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(unit, name), text);
  // As a developer starts it: without this file's node:test child marker, which would make the nested
  // runner report to this process instead of printing.
  const { NODE_TEST_CONTEXT: _child, ...inherited } = process.env;
  const env = { ...inherited, ...(timeoutMs ? { BROKEL_TEST_TIMEOUT_MS: String(timeoutMs) } : {}) };
  const run = spawn('bash', ['scripts/run-tests.sh', unit], {
    cwd: repo,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (run.exitCode === null) run.kill('SIGTERM');
  });
  let stdout = '';
  let stderr = '';
  run.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  run.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await within(
    new Promise<number | null>((resolve) => run.once('exit', resolve)),
    60_000,
    'run-tests.sh to exit',
  );
  return { code, stdout, stderr };
}

/** The PID each named test reported. */
function pids(stdout: string): Map<string, string> {
  return new Map([...stdout.matchAll(/(\w+) ran in (\d+)/g)].map((m) => [m[1] as string, m[2] as string]));
}

/** The folders in test-output/ whose names start with `prefix` (the suite's own run has some too). */
const outputDirs = (prefix: string) => {
  try {
    return readdirSync(join(repo, 'test-output')).filter((name) => name.startsWith(prefix));
  } catch {
    return [];
  }
};

const FAILS = `import assert from 'node:assert/strict';
import { it } from 'node:test';
it('compares two fleets', () => assert.deepEqual({ taxis: 3 }, { taxis: 4 }));
`;

const AGAIN = 'run-tests: the failures again';

describe('scripts/run-tests.sh runs unit files in shared processes', () => {
  it('two batches share two processes; a file headed `test-process: own` gets its own; every test runs', async (t) => {
    const before = outputDirs('unit-batches.');
    const reportsBefore = outputDirs('reports.');
    const { code, stdout, stderr } = await runOn(t, {
      'a.test.ts': reporter('alpha'),
      'b.test.ts': reporter('bravo'),
      'c.test.ts': reporter('charlie'),
      'own.test.ts': reporter('own', '// test-process: own\n'),
    });
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, /ℹ pass 4\b/);
    const ran = pids(stdout);
    assert.deepEqual([...ran.keys()].sort(), ['alpha', 'bravo', 'charlie', 'own']);
    // Sorted, then dealt in turn: a and c in the first batch, b in the second.
    assert.equal(ran.get('alpha'), ran.get('charlie'), 'a and c share a process');
    assert.notEqual(ran.get('alpha'), ran.get('bravo'), 'b runs in the other batch');
    for (const other of ['alpha', 'bravo']) assert.notEqual(ran.get('own'), ran.get(other), 'own runs alone');
    assert.deepEqual(outputDirs('unit-batches.'), before, 'the run removed its entry files');
    assert.ok(!stdout.includes(AGAIN), 'a run that passed prints no failures');
    assert.deepEqual(outputDirs('reports.'), reportsBefore, 'the run removed its reports');
  });

  it('a failure in an early group is printed again at the very end, with its assertion, after the later groups', async (t) => {
    const reportsBefore = outputDirs('reports.');
    const { code, stdout, stderr } = await runOn(t, {
      'a.test.ts': reporter('alpha'),
      'fails.test.ts': FAILS,
      // A timeout of its own puts it in a group of its own, run after the default one (groups sort by
      // timeout): its output comes after the failure's first report.
      'late.test.ts': reporter('late', '// test-timeout-ms: 300001\n'),
    });
    assert.equal(code, 1, `${stdout}\n${stderr}`);
    const again = stdout.lastIndexOf(AGAIN);
    assert.ok(
      again > stdout.lastIndexOf('late ran in'),
      `the repeat is not after the last group:\n${stdout}`,
    );
    const tail = stdout.slice(again);
    assert.match(tail, /✖ compares two fleets/);
    assert.match(tail, /\+ {3}taxis: 3\n {2}- {3}taxis: 4/);
    assert.match(tail, /fails\.test\.ts:3/, 'the test file frame stays');
    assert.doesNotMatch(tail, /node:internal/, "node's own frames are left out");
    assert.deepEqual(outputDirs('reports.'), reportsBefore, 'the run removed its reports');
  });

  it('a test that hangs fails the run at the timeout, and the run names it', async (t) => {
    const { code, stdout, stderr } = await runOn(
      t,
      { 'a.test.ts': reporter('alpha'), 'hang.test.ts': HANGS, 'z.test.ts': reporter('zulu') },
      HANG_TIMEOUT_MS,
    );
    assert.equal(code, 1, `${stdout}\n${stderr}`);
    assert.match(stdout, new RegExp(`test timed out after ${HANG_TIMEOUT_MS}ms`));
    assert.match(stderr, /run-tests: unit-\d ended inside the test: hangs forever/);
    assert.ok(pids(stdout).has('zulu'), 'the other batch ran');
  });
});
