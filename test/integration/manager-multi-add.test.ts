// test-timeout-ms: 240000
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { loadUntil, qos1Probe } from '../helpers/load.ts';
import { startManager } from '../helpers/manager.ts';
import { waitFor } from '../helpers/resources.ts';

/**
 * levels.brokers.maxAddPerAction above one (docs/control-plane.md): one scale-out of the reactive policy
 * adds enough brokers to bring the level load to the middle of its band. Real Mosquittos behind a real
 * orchestrator, a QoS 1 probe through the whole run.
 */
describe('manager: several brokers in one scale-out (maxAddPerAction)', () => {
  it('a saturated broker level of 1 grows to 3 in one action; every new broker becomes active; zero QoS 1 loss', async (t) => {
    const { manager, provider, decisionLog } = await startManager(t, {
      monitor: { intervalSeconds: 0.5, warmupObservations: 2 },
      levels: {
        // Band 2-20, middle 0.11: a level of 1 whose load crosses upper (smoothed, past 0.22) wants
        // ceil(1 × load ÷ 0.11) ≥ 3, so the first scale-out adds 2 (maxAddPerAction); the band is low so
        // that no observation lands between 0.2 and 0.22 (which would add one), and nothing scales in.
        brokers: { lower: 0.02, upper: 0.2, min: 1, max: 3, cpuQuota: 0.1, maxAddPerAction: 2 },
        orchestrators: { min: 1, max: 1 },
      },
      manager: { drainQuietSeconds: 0.5 },
    });
    const activeBrokers = async () =>
      (await manager.status()).levels[0]?.replicas.filter((r) => r.poolState === 'active').length ?? 0;
    const orchestrator = (await provider.list()).find((r) => r.level === 'orchestrator');
    if (!orchestrator) throw new Error('no orchestrator');
    const probe = await qos1Probe(t, orchestrator.url, 'multi/#', ['multi/1', 'multi/2'], 20, 50);
    // Bounded load: QoS 0 through the orchestrator, at most 60 s, until the level has grown.
    const load = await loadUntil(t, orchestrator.url, 'load', async () => (await activeBrokers()) >= 2);
    assert.ok(load.reached || (await activeBrokers()) >= 2, 'scaled out');
    await waitFor(async () => (await activeBrokers()) === 3, 30_000, 'three active brokers');
    const { sent } = await probe.stop();
    assert.equal(probe.counts.distinct, sent, `QoS 1 loss: ${sent - probe.counts.distinct} of ${sent}`);

    await decisionLog.flush();
    const adds = (await readFile(decisionLog.file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; decision: string; count?: number; reason: string })
      .filter((l) => l.level === 'broker' && l.decision === 'add');
    t.diagnostic(adds.map((a) => `${a.decision} ${a.count ?? 1}: ${a.reason}`).join(' | '));
    // The first scale-out created both: one logged add of 2, no second add.
    assert.equal(adds.length, 1, JSON.stringify(adds));
    assert.equal(adds[0]?.count, 2);
    assert.match(adds[0]?.reason ?? '', /above upper 0\.2: 2 replicas, towards the band's middle 0\.11/);
    const brokers = (await provider.list()).filter((r) => r.level === 'broker');
    assert.equal(brokers.length, 3);
  });
});
