import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { asLogged, replayDecisionLog } from '../../manager/quality/replay.ts';
import { simulationSettings } from '../../manager/quality/simulator.ts';
import { loadUntil } from '../helpers/load.ts';
import { startManager } from '../helpers/manager.ts';
import { waitFor } from '../helpers/resources.ts';

describe('brokel simulate decides as the manager does (issue #14)', () => {
  it('a real hpa run: its logged observations, replayed through the simulator’s decide loop, give the same decisions', async (t) => {
    const { manager, provider, decisionLog, config } = await startManager(t, {
      policy: 'hpa',
      monitor: { intervalSeconds: 0.5, warmupObservations: 2 },
      hpa: { targetUtilization: 0.4, scaleDownStabilizationSeconds: 2, scaleUpPeriodSeconds: 1 },
      levels: {
        brokers: { min: 1, max: 3, cpuQuota: 0.1 },
        orchestrators: { min: 1, max: 1 },
      },
      manager: { drainQuietSeconds: 0.5 },
    });
    const brokers = async () => (await provider.list()).filter((r) => r.level === 'broker').length;
    const orchestrator = (await provider.list()).find((r) => r.level === 'orchestrator');
    if (!orchestrator) throw new Error('no orchestrator');
    // Bounded load until the hpa policy added a broker (at most 45 s), then none: it scales back in.
    const load = await loadUntil(t, orchestrator.url, 'replay', async () => (await brokers()) >= 2, {
      maxMs: 45_000,
    });
    assert.ok(load.reached, 'the hpa policy scaled out under load');
    await waitFor(async () => (await brokers()) === 1, 45_000, 'scale in to 1 broker');
    await manager.stop();
    await decisionLog.flush();
    const lines = (await readFile(decisionLog.file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const quotas = {
      broker: config.levels.brokers.cpuQuota,
      orchestrator: config.levels.orchestrators.cpuQuota,
    };
    const ticks = replayDecisionLog(lines, simulationSettings(config), quotas);
    let acted = 0;
    for (const { tick, logged, replayed } of ticks) {
      const mine = replayed.map((d) => asLogged(tick, d));
      assert.deepEqual(mine, logged, `tick ${tick}`);
      acted += logged.filter((d) => d.decision !== 'none').length;
    }
    const kinds = new Set(ticks.flatMap((x) => x.logged.map((d) => d.decision)));
    assert.ok(kinds.has('add') && kinds.has('remove'), `the run added and removed (${[...kinds]})`);
    t.diagnostic(`${ticks.length} observations replayed, ${acted} actions, all the same`);
  });
});
