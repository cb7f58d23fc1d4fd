// test-process: own
// Its own process (scripts/run-tests.sh): it times real timers to a few milliseconds, which the garbage
// and leftover timers of other files in a shared process would disturb.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Manager } from '../../manager/manager.ts';
import { MemoryProvider } from '../helpers/memory-provider.ts';
import { startManagerOn } from '../helpers/remote-provider.ts';

/** Wraps the manager's tick to see whether two ever run at once. */
function watchOverlap(manager: Manager): { overlapped: boolean } {
  const seen = { overlapped: false };
  let running = 0;
  const tick = manager.tick.bind(manager);
  manager.tick = async () => {
    running += 1;
    if (running > 1) seen.overlapped = true;
    try {
      return await tick();
    } finally {
      running -= 1;
    }
  };
  return seen;
}

const gaps = (times: readonly number[]) => times.slice(1).map((t, i) => t - (times[i] ?? t));
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

describe('manager: periodic observations (ARCHITECTURE.md, control plane)', () => {
  it('ticks at a fixed rate, not interval + tick duration, when an observation is slow', async (t) => {
    const provider = new MemoryProvider();
    const { manager } = await startManagerOn(t, provider, {
      monitor: { intervalSeconds: 0.3, warmupObservations: 100 },
      levels: { brokers: { min: 1, max: 1 }, orchestrators: { min: 1, max: 1 } },
    });
    const seen = watchOverlap(manager);
    provider.listDelayMs = 150; // each tick takes ~150 ms: the old loop ticked every ~450 ms
    const from = provider.cpuCalls.length;
    await new Promise((r) => setTimeout(r, 3000));
    await manager.stop();
    const g = gaps(provider.cpuCalls.slice(from));
    assert.ok(g.length >= 7, `ticks in 3 s at 0.3 s: ${g.length + 1}`);
    const m = median(g);
    assert.ok(m > 240 && m < 360, `median tick period ${m.toFixed(0)} ms, interval 300 ms`);
    assert.equal(seen.overlapped, false, 'ticks never overlap');
  });

  it('keeps observing while a scale-out runs, one action in flight, no overlapping ticks', async (t) => {
    const provider = new MemoryProvider();
    provider.cpuValue = 0.95;
    const { manager } = await startManagerOn(t, provider, {
      monitor: { intervalSeconds: 0.2, warmupObservations: 1 },
      levels: { brokers: { min: 1, max: 3, upper: 0.7 }, orchestrators: { min: 1, max: 1 } },
    });
    const seen = watchOverlap(manager);
    provider.createDelayMs = 1500; // the scale-out waits 1.5 s for its replica
    provider.listDelayMs = 250; // and a tick takes longer than the interval: slots are skipped
    const started = performance.now();
    await new Promise((r) => setTimeout(r, 2500));
    const during = provider.cpuCalls.filter((c) => c > started + 300 && c < started + 1700);
    const status = await manager.status();
    await manager.stop();
    assert.ok(during.length >= 3, `observations while the add ran: ${during.length}`);
    assert.equal(seen.overlapped, false, 'ticks never overlap');
    const adds = manager.decisions.filter((d) => d.level === 'broker' && d.action === 'add');
    assert.ok(adds.length >= 1 && adds.length <= 2, `one add at a time (${adds.length} in 2.5 s)`);
    assert.ok(status.levels[0]?.replicas.length ?? 0 <= 3);
  });
});
