// test-timeout-ms: 600000
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { loadUntil, qos1Probe } from '../helpers/load.ts';
import { startManager } from '../helpers/manager.ts';
import { connectClient, waitFor } from '../helpers/resources.ts';

describe('manager: broker-level elasticity with real Mosquitto and orchestrators', () => {
  it('scales brokers out under load and back in when it stops, with zero QoS 1 loss throughout', async (t) => {
    const { manager, provider, decisionLog } = await startManager(t, {
      monitor: { intervalSeconds: 0.5, warmupObservations: 2 },
      levels: {
        brokers: { lower: 0.25, upper: 0.6, min: 1, max: 3, cpuQuota: 0.1 },
        orchestrators: { min: 1, max: 1 },
      },
      manager: { drainQuietSeconds: 0.5 },
    });
    const activeBrokers = async () =>
      (await manager.status()).levels[0]?.replicas.filter((r) => r.poolState === 'active').length ?? 0;
    assert.equal(await activeBrokers(), 1);
    const orchestrator = (await provider.list()).find((r) => r.level === 'orchestrator');
    if (!orchestrator) throw new Error('no orchestrator');
    // A QoS 1 publisher and subscriber through the whole run.
    const probe = await qos1Probe(t, orchestrator.url, 'probe/#', ['probe/1', 'probe/2'], 20, 50);
    // Bounded load: QoS 0 through the orchestrator, at most 60 s, until a second broker is active.
    const load = await loadUntil(t, orchestrator.url, 'load', async () => (await activeBrokers()) >= 2);
    const { reached: scaledOut, sink } = load;
    const outSeconds = load.ms / 1000;
    assert.ok(scaledOut || (await activeBrokers()) >= 2, 'scaled out to at least 2 brokers');
    t.diagnostic(
      `second broker active ${outSeconds.toFixed(1)} s after the load started; sink got ${sink.counts.total}`,
    );
    t.after(() =>
      t.diagnostic(
        `QoS 1 probe: ${probe.counts.distinct} received of ${probe.sent} sent, ${probe.counts.duplicates} duplicates`,
      ),
    );
    // Load stops: back in to min.
    await waitFor(
      async () => (await provider.list()).filter((r) => r.level === 'broker').length === 1,
      60_000,
      'scale in to 1',
    );
    const { sent: probeSent } = await probe.stop();
    assert.equal(
      probe.counts.distinct,
      probeSent,
      `QoS 1 loss: ${probeSent - probe.counts.distinct} of ${probeSent}`,
    );
    await decisionLog.flush();
    const lines = (await readFile(decisionLog.file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const adds = lines.filter((l) => l.level === 'broker' && l.decision === 'add');
    const removes = lines.filter((l) => l.level === 'broker' && l.decision === 'remove');
    assert.ok(adds.length >= 1 && removes.length >= 1, 'the decision log has the add and the remove');
    assert.ok(
      lines.some((l) => l.decision === 'none' && typeof l.load === 'number' && typeof l.upper === 'number'),
    );
  });
});

describe('manager: orchestrator-level elasticity', () => {
  it('adds an orchestrator when the level is overloaded and drains and removes it when load stops, zero QoS 1 loss', async (t) => {
    const { manager, provider, decisionLog } = await startManager(t, {
      monitor: { intervalSeconds: 0.5, warmupObservations: 2 },
      levels: {
        brokers: { min: 1, max: 1, cpuQuota: 0.5 },
        orchestrators: { lower: 0.2, upper: 0.6, min: 1, max: 2, cpuQuota: 0.2 },
      },
    });
    const orchestrators = async () => (await provider.list()).filter((r) => r.level === 'orchestrator');
    const [first] = await orchestrators();
    if (!first) throw new Error('no orchestrator');
    const probe = await qos1Probe(t, first.url, 'oprobe/#', ['oprobe/1'], 10, 100);
    // Bounded load through the first orchestrator: at most 60 s, until a second one is ready.
    const load = await loadUntil(
      t,
      first.url,
      'oload',
      async () => (await orchestrators()).filter((o) => o.state === 'ready').length >= 2,
    );
    const scaledOut = load.reached;
    assert.ok(scaledOut, 'a second orchestrator became ready');
    t.diagnostic(`second orchestrator ready ${(load.ms / 1000).toFixed(1)} s after the load started`);
    await waitFor(async () => (await orchestrators()).length === 1, 60_000, 'scale in to 1 orchestrator');
    assert.equal((await orchestrators())[0]?.id, first.id, 'the idle newcomer was the one removed');
    const { sent: probeSent } = await probe.stop();
    assert.equal(
      probe.counts.distinct,
      probeSent,
      `QoS 1 loss: ${probeSent - probe.counts.distinct} of ${probeSent}`,
    );
    await manager.stop();
    await decisionLog.flush();
    const lines = (await readFile(decisionLog.file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(lines.some((l) => l.level === 'orchestrator' && l.decision === 'add'));
    assert.ok(lines.some((l) => l.level === 'orchestrator' && l.decision === 'remove'));
    assert.ok(
      lines.some((l) => l.level === 'orchestrator' && l.action?.startsWith('remove') && l.outcome === 'done'),
    );
  });
});

describe('manager: removing a broker moves its retained messages', () => {
  it('after a broker is drained and destroyed, every retained topic still has its last value, once', async (t) => {
    const { provider, topology } = await startManager(t, {
      monitor: { intervalSeconds: 3600 }, // no tick: the test drives the action itself
      levels: { brokers: { min: 2, max: 2 }, orchestrators: { min: 1, max: 1 } },
      manager: { drainQuietSeconds: 0.3 },
    });
    const brokers = (await provider.list()).filter((r) => r.level === 'broker');
    const orchestrator = (await provider.list()).find((r) => r.level === 'orchestrator');
    if (!orchestrator || brokers.length !== 2) throw new Error('setup');
    const pub = await connectClient(t, orchestrator.url);
    for (let i = 0; i < 30; i++) await pub.publishAsync(`ret/${i}`, `old${i}`, { qos: 1, retain: true });
    for (let i = 0; i < 30; i++) await pub.publishAsync(`ret/${i}`, `v${i}`, { qos: 1, retain: true });
    const victim = brokers[1];
    if (!victim) throw new Error('no victim');
    await topology.removeBroker(victim.id);
    assert.deepEqual(
      (await provider.list()).filter((r) => r.level === 'broker').map((r) => r.id),
      [brokers[0]?.id],
    );
    const got = new Map<string, string[]>();
    const fresh = await connectClient(t, orchestrator.url, {}, (c) =>
      c.on('message', (topic, payload, packet) => {
        if (packet.retain) got.set(topic, [...(got.get(topic) ?? []), payload.toString()]);
      }),
    );
    await fresh.subscribeAsync('ret/#', { qos: 1 });
    await waitFor(() => got.size === 30, 5000, '30 retained topics');
    for (let i = 0; i < 30; i++) assert.deepEqual(got.get(`ret/${i}`), [`v${i}`]);
  });
});
