// test-lanes: shared
// The benchmarks' allocation counter (bench/lib/heap-sampler.ts: V8's sampling heap profiler over a
// child's inspector) against a real child process that allocates a known amount, all of it garbage at
// once: the sampled bytes must come out at what was allocated (collected objects included), named by
// the function that allocated them; a window without that work reads next to nothing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { freeLoopbackPort, HeapSampler, topAllocators } from '../../bench/lib/heap-sampler.ts';

/** Per line N on stdin: N arrays of 1,000 doubles (8,016 bytes of elements each), dropped at once. */
const CHILD = `
function burn(n) { let kept = 0; for (let i = 0; i < n; i++) kept += new Array(1000).fill(0.5).length; return kept; }
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  process.stdout.write(String(burn(Number(line))) + '\\n');
});
`;

describe('benchmark allocation sampler', () => {
  it('reads what a child process allocated, collected objects included, and who allocated it', async (t) => {
    const port = await freeLoopbackPort();
    const child = spawn(process.execPath, [`--inspect=127.0.0.1:${port}`, '-e', CHILD], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    t.after(() => child.kill('SIGKILL'));
    const replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    // The inspector is listening once node says so on stderr.
    await new Promise<void>((resolve) =>
      child.stderr.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('Debugger listening')) resolve();
      }),
    );
    const sampler = await HeapSampler.attach(port);
    t.after(() => sampler.close());
    child.stdin.write('100\n'); // warm up: compile burn()
    await replies.next();

    await sampler.start();
    child.stdin.write('2000\n');
    assert.equal(Number((await replies.next()).value), 2_000_000);
    const { total, rows } = topAllocators(await sampler.stop(), 5);
    const expected = 2000 * 8016;
    t.diagnostic(`sampled ${total} bytes for ${expected}; top: ${rows[0]?.name}`);
    assert.ok(total > expected * 0.9 && total < expected * 1.15, `sampled ${total} bytes for ${expected}`);
    assert.match(rows[0]?.name ?? '', /^burn /);
    assert.ok((rows[0]?.share ?? 0) > 0.9);

    await sampler.start();
    await new Promise((r) => setTimeout(r, 200));
    const idle = topAllocators(await sampler.stop(), 5).total;
    assert.ok(idle < 1_000_000, `an idle window sampled ${idle} bytes`);
    sampler.close(); // node waits for an attached inspector before it exits
    child.stdin.end();
    await once(child, 'exit');
  });
});
