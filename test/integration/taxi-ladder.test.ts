import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runLadder } from '../../workload/ladder/run.ts';
import { formatLadder, ladderSteps } from '../../workload/ladder/tally.ts';
import { startOrchestrator } from '../helpers/orchestrator.ts';
import { startProvider } from '../helpers/resources.ts';

/**
 * `brokel taxi ladder`, reduced (issue 17's loss ladder; the full one is 5 periods × 3 publisher counts
 * of 10 s): 100 ms, 1 ms and flat out, with 1 and 2 publishers, 1 s a step, QoS 1 through a real
 * orchestrator over two Mosquitto brokers (round-robin, so reordering is expected and counted).
 * Every acknowledged message must arrive; the rates must climb with the steps.
 */
describe('taxi ladder (reduced)', () => {
  it('counts loss, duplicates and latency per step, and loses nothing through the orchestrator', async (t) => {
    const provider = await startProvider(t);
    const brokers = await Promise.all(
      [1, 2].map(async () => {
        const b = await provider.create('broker', 'mosquitto');
        return provider.waitReady(b.id, 10_000);
      }),
    );
    const orch = await startOrchestrator(
      t,
      brokers.map((b) => b.url),
    );
    const steps = ladderSteps([100, 1, 0], [1, 2]);
    assert.deepEqual(
      steps.map((s) => [s.periodMs, s.publishers]),
      [
        [100, 1],
        [100, 2],
        [1, 1],
        [1, 2],
        [0, 1],
        [0, 2],
      ],
    );
    const results = await runLadder({
      urls: [orch.url],
      protocolVersion: 4,
      qos: 1,
      steps,
      stepSeconds: 1,
      settleSeconds: 5,
      inflight: 64,
      runId: `ladder${process.pid}`,
    });
    assert.equal(results.length, 6);
    for (const r of results) {
      assert.equal(r.lost, 0, `step ${r.step.index}: nothing acknowledged is lost`);
      assert.equal(r.acked, r.sent, `step ${r.step.index}: everything acknowledged`);
      assert.equal(r.received, r.acked);
      assert.ok(r.latencyMs.p50 !== null && r.latencyMs.p50 >= 0);
    }
    const [slow, , fast, , flat] = results;
    assert.ok(slow && slow.sent >= 8 && slow.sent <= 12, `about 10 at 100 ms: ${slow?.sent}`);
    assert.ok(fast && fast.sent > 5 * slow.sent, `1 ms sends far more: ${fast?.sent}`);
    assert.ok(flat && flat.sent > 0);
    const table = formatLadder(results);
    assert.match(table, /flat out/);
    assert.equal(table.trim().split('\n').length, 7, 'a header and one row per step');
  });
});
