import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cliLoad } from '../helpers/cli-load.ts';
import { startProvider, waitFor } from '../helpers/resources.ts';

/** Blocks this process's event loop, as a busy manager process (s2: its load generator) would. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

// CFS enforces the quota per 100 ms period, so over a window of Δ seconds a capped group can use at
// most quota × (Δ + 0.1 s), plus what it runs before the throttle notices the quota is spent: up to a
// scheduler tick (4 ms at this kernel's CONFIG_HZ=250), which is 4 % of a 0.1-core quota over 1 s. A
// reading 1 s after the previous one is at most 1.14 of the quota (CI once read 1.109 against a 1.10
// bound that left the tick out).
const CFS_PERIOD_S = 0.1;
const TICK_S = 0.004;
const QUOTA = 0.1;

describe('local provider: CPU of a quota-capped replica (issue 11, defect 3)', () => {
  it('never reads above 1.0 + one CFS period over the interval, even when the reader is slow to get to it', async (t) => {
    const provider = await startProvider(t);
    const broker = await provider.create('broker', 'mosquitto', { cpuQuota: QUOTA });
    await provider.waitReady(broker.id, 10_000);
    cliLoad(t, broker.host, broker.port);
    const readings: number[] = [];
    await waitFor(
      async () => {
        await new Promise((r) => setTimeout(r, 500));
        const v = (await provider.cpu([broker.id])).get(broker.id) ?? 0;
        readings.push(v);
        return v > 0.5; // the old reading (below) is then 3 × v > 1.14: the check can fail
      },
      20_000,
      'the broker saturated at its quota',
    );
    // A round counts when the broker was still saturated in it (so the bound could be exceeded): on a
    // shared 2-core machine the spin below can starve the load generator for a round; up to 8 rounds.
    let saturatedRounds = 0;
    for (let round = 0; round < 8 && saturatedRounds < 3; round++) {
      await provider.cpu([broker.id]); // the previous reading
      const before = performance.now();
      await new Promise((r) => setTimeout(r, 1000));
      const reading = provider.cpu([broker.id]);
      busy(2000); // the reader is held up after asking: the time passes for the replica too
      const value = (await reading).get(broker.id) ?? Number.NaN;
      const elapsedS = (performance.now() - before) / 1000;
      readings.push(value);
      const limit = 1 + (CFS_PERIOD_S + TICK_S / QUOTA) / Math.min(elapsedS, 1);
      assert.ok(
        value <= limit,
        `reading ${value.toFixed(3)} > ${limit.toFixed(2)} (all: ${readings.map((r) => r.toFixed(2))})`,
      );
      if (value > 0.4) saturatedRounds += 1;
    }
    assert.equal(
      saturatedRounds,
      3,
      `3 rounds with the broker still saturated (> 0.4): ${readings.map((r) => r.toFixed(3))}`,
    );
    t.diagnostic(`readings: ${readings.map((r) => r.toFixed(3)).join(' ')}`);
  });
});
