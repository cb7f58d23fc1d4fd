// test-lanes: shared
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import type { CloudProvider, CreateOptions, Level } from '../../manager/providers/cloud-provider.ts';
import { startManagerOn } from '../helpers/remote-provider.ts';
import { leftoverCgroups, processesOf, startProvider, waitFor, within } from '../helpers/resources.ts';

// Issue #13 (s3 waited 180 s for a stuck broker add at its end): a manager that stops while a scaling
// action waits (here for a broker VM that takes 10 minutes to boot) ends within seconds, not after
// manager.actionTimeoutSeconds, and the provider's stop leaves no replica behind.

/** The real local provider; brokers created once `slow` is set boot after the provider's boot delay. */
function slowBrokers(real: CloudProvider, delaySeconds: number) {
  const state = { slow: false };
  const provider: CloudProvider = {
    kind: real.kind,
    list: () => real.list(),
    create: (level: Level, template: string, options: CreateOptions = {}) =>
      real.create(level, template, {
        ...options,
        ...(state.slow && level === 'broker' ? { bootDelaySeconds: delaySeconds } : {}),
      }),
    waitReady: (id, timeoutMs) => real.waitReady(id, timeoutMs),
    markDraining: (id) => real.markDraining(id),
    destroy: (id) => real.destroy(id),
    cpu: (ids) => real.cpu(ids),
    stop: () => real.stop(),
    close: () => real.close(),
  };
  return { provider, state };
}

describe('manager: stop with a scaling action in flight', () => {
  it('cancels a broker add stuck in its join: stop ends within seconds, the action is logged cancelled, nothing is left', async (t) => {
    const local = await startProvider(t);
    const { provider, state } = slowBrokers(local, 600);
    const { manager, decisionLog } = await startManagerOn(t, provider, {
      monitor: { intervalSeconds: 0.5, warmupObservations: 1 },
      levels: { brokers: { min: 1, max: 2 }, orchestrators: { min: 1, max: 1 } },
    });
    state.slow = true;
    manager.setManualTarget('broker', 2);
    await waitFor(
      async () => (await provider.list()).filter((r) => r.level === 'broker').length === 2,
      20_000,
      'the second broker created (booting)',
    );
    const inFlight = (await manager.status()).levels.find((l) => l.level === 'broker')?.actionInFlight;
    assert.equal(inFlight, 'add');
    await new Promise((r) => setTimeout(r, 500)); // the add waits for it to be ready
    const started = performance.now();
    // Before the fix this waited for manager.actionTimeoutSeconds (180 s).
    await within(manager.stop(), 10_000, 'manager.stop() with an add in flight');
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(`manager.stop() took ${seconds.toFixed(2)} s with a broker add in flight`);
    assert.ok(seconds < 5, `stop took ${seconds.toFixed(1)} s`);
    await decisionLog.flush();
    const lines = (await readFile(decisionLog.file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; action?: string; outcome?: string });
    assert.ok(
      lines.some((l) => l.level === 'broker' && l.action === 'add' && l.outcome === 'cancelled'),
      'the add is logged as cancelled',
    );
    // The replica the cancelled add created is the provider's: its stop destroys it with the rest.
    assert.equal((await provider.list()).filter((r) => r.state === 'booting').length, 1);
    await within(provider.stop(), 30_000, 'provider stop');
    const deployment = local.stateDir.split('/').pop() ?? '#';
    assert.deepEqual(processesOf(`/brokel/${deployment}/`), [], 'no replica process left');
    assert.deepEqual(leftoverCgroups(deployment), [], 'no cgroup left');
  });
});
