// test-timeout-ms: 360000
// test-lanes: shared
// These two (chaos and soak, 2 minutes each) form a group of their own and run side by side: neither
// measures CPU or latency (the soak sets its rate from the capacity it measures first), and both passed
// beside each other and three 10-minute chaos seeds at load average 7.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { it } from 'node:test';
import { processesOf, within } from '../helpers/resources.ts';

/**
 * Issue 17's soak, short form: the 2 minutes the issue asks for (`npm run soak -- --seconds 120`):
 * `brokel up` with 2 brokers and 1 orchestrator, QoS 1 at half the measured capacity, the
 * manager's and the orchestrator's RSS and fds sampled every 0.5 s after a 40 s warm-up (RSS bound +10 %:
 * bench/soak.ts says why; the long form keeps +5 %). The pass/fail
 * rule itself is tested in test/unit/soak-verdict.test.ts.
 */
it('npm run soak, short form: RSS and fds of the manager and the orchestrator stay flat, nothing lost', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/soak.ts', '--seconds', '120'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  const code = await within(
    new Promise<number | null>((resolve) => child.once('exit', resolve)),
    240_000,
    'the soak to finish',
  );
  t.diagnostic(
    out
      .split('\n')
      .filter((l) => /capacity|RSS|messages:|soak:/.test(l))
      .join(' | '),
  );
  assert.equal(code, 0, out);
  assert.match(out, /soak: PASS/);
  assert.match(out, /manager: RSS .* ok/);
  assert.match(out, /orchestrator0: RSS .* ok/);
  assert.match(out, /messages: [\d,]+ sent, 0 lost/);
  // Its replicas run from its temporary folder (/tmp/brokel-soak-*): none may be left.
  assert.deepEqual(processesOf('brokel-soak-'), [], 'no replica of the soak is left running');
});
