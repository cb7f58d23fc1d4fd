// test-lanes: shared
// The benchmarks' CPU counter for other processes (bench/lib/processes.ts, task-cpu.ts) against what a
// real child process says of itself (process.cpuUsage: getrusage, µs): CPU time, not wall time, so a
// busy machine does not change the answer. Clock ticks (10 ms) could not pass it: each burst is 13 ms.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { processCpuSeconds, processSwitches } from '../../bench/lib/processes.ts';
import { schedCpuSeconds } from '../../bench/lib/task-cpu.ts';

/**
 * A node child that, per line N on stdin, spins until it has used N ms more CPU and prints how much,
 * then its whole CPU time so far (all threads: getrusage), both in µs.
 */
const CHILD = `
const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const start = cpu();
  while (cpu() - start < Number(line) * 1000) {}
  const now = cpu();
  process.stdout.write(String(now - start) + ' ' + String(now) + '\\n');
});
`;

describe('benchmark CPU counters', () => {
  it('read a child process CPU time to within 2 ms, where clock ticks are 10 ms', async (t) => {
    const child = spawn(process.execPath, ['-e', CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
    t.after(() => child.kill('SIGKILL'));
    const replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    if (schedCpuSeconds(child.pid ?? -1) === undefined) {
      t.skip('this kernel shows no per-thread scheduler runtime (CONFIG_SCHED_DEBUG): ticks only');
      return;
    }
    /** The child's next reply: the burst it spun, and its whole CPU time when it replied, ms. */
    const reply = async () => {
      const [spun, total] = String((await replies.next()).value)
        .split(' ')
        .map((us) => Number(us) / 1000);
      return { spun: spun ?? Number.NaN, total: total ?? Number.NaN };
    };
    // The child's reply is written; what it does after (an idle event loop) costs next to nothing.
    const settled = async () => {
      await new Promise((r) => setTimeout(r, 20));
      return processCpuSeconds(child.pid ?? -1) * 1000;
    };
    // Let the child settle before measuring: start-up, and the spin loop's optimization, which V8 does
    // on a thread of its own while the child goes on (on a slow host, 2–4 ms of CPU after the first
    // bursts, counted in the reading after a reply and in the child's next reply).
    let said = 0;
    for (let i = 0; i < 5; i++) {
      child.stdin.write('20\n');
      said = (await reply()).total;
    }
    await new Promise((r) => setTimeout(r, 200));
    let read = await settled();
    const errors: number[] = [];
    for (let i = 0; i < 5; i++) {
      // Both count the same stretch, from one reply to the next, in all of the child's threads: the
      // burst, the line's read and the reply's write, and whatever a compiler or GC thread did
      // meanwhile (on a slow host that reached 2 ms outside the burst itself).
      child.stdin.write('13\n');
      const { spun, total } = await reply();
      const now = await settled();
      errors.push(now - read - (total - said));
      assert.ok(spun >= 13 && spun < 30, `the child spun ${spun} ms`);
      said = total;
      read = now;
    }
    t.diagnostic(`read − said, ms: ${errors.map((e) => e.toFixed(2)).join(', ')}`);
    for (const e of errors) assert.ok(Math.abs(e) < 2, `read − said ${e.toFixed(2)} ms`);
    child.stdin.end();
    await once(child, 'exit');
  });

  it('a process that is gone reads NaN', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    await once(child, 'exit');
    assert.ok(Number.isNaN(processCpuSeconds(child.pid ?? -1)));
    assert.equal(schedCpuSeconds(child.pid ?? -1), undefined);
    const gone = processSwitches(child.pid ?? -1);
    assert.ok(Number.isNaN(gone.voluntary) && Number.isNaN(gone.preempted));
  });

  it("counts a child's wake-ups: its 50 sleeps are 45 voluntary context switches at least", async (t) => {
    // Per line on stdin, the child sleeps 2 ms 50 times (each a wait in epoll that blocks), then says so.
    const SLEEPER = `
      require('node:readline').createInterface({ input: process.stdin }).on('line', async () => {
        for (let i = 0; i < 50; i++) await new Promise((r) => setTimeout(r, 2));
        process.stdout.write('slept\\n');
      });`;
    const child = spawn(process.execPath, ['-e', SLEEPER], { stdio: ['pipe', 'pipe', 'inherit'] });
    t.after(() => child.kill('SIGKILL'));
    const replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stdin.write('warm up\n');
    await replies.next();
    const before = processSwitches(child.pid ?? -1);
    child.stdin.write('go\n');
    await replies.next();
    const after = processSwitches(child.pid ?? -1);
    const woke = after.voluntary - before.voluntary;
    t.diagnostic(`voluntary ${woke}, preempted ${after.preempted - before.preempted}`);
    // Nearly every sleep blocks in epoll and is one voluntary switch; one whose 2 ms had passed by the
    // time the loop polled does not block (the full suite read 49, beside two other files, with 4
    // preemptions). A counter that read the wrong field (the preemptions) or nothing would read ~0.
    assert.ok(woke >= 45 && woke < 500, `${woke} wake-ups for 50 sleeps`);
    assert.ok(after.preempted >= before.preempted);
    child.stdin.end();
    await once(child, 'exit');
  });
});
