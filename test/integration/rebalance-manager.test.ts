// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { followRedirects } from '../../workload/taxi-rome/follow-redirects.ts';
import { resolveA } from '../../workload/taxi-rome/target.ts';
import { startTestDns } from '../helpers/dns.ts';
import { startManager } from '../helpers/manager.ts';
import { startTestManagerApi } from '../helpers/manager-api.ts';
import { waitFor } from '../helpers/resources.ts';

const NAME = 'mqtt.brokel.test';
const TOKEN = 'rebalance-test-token-0123456789';

describe('rebalancing through the manager (orchestrator processes, geo-dns, manager API)', () => {
  it('POST /api/rebalance splits 12 clients over 2 orchestrators, the status shows sessions and the run; removing one evacuates it', async (t) => {
    const geo = await startTestDns(t, { name: NAME, ttlSeconds: 0 });
    const { manager, provider, topology } = await startManager(
      t,
      {
        monitor: { intervalSeconds: 600 }, // no tick during the test: only what the test asks for
        levels: { brokers: { min: 1, max: 1 }, orchestrators: { min: 2, max: 2 } },
        rebalance: {
          absThreshold: 2,
          evictPerSecond: 50,
          cooldownSeconds: 0,
          settleSeconds: 3,
          drainTimeoutSeconds: 10,
        },
      },
      geo.directory,
    );
    const { base } = await startTestManagerApi(t, manager, { adminToken: TOKEN });
    const [o1, o2] = (await provider.list()).filter((r) => r.level === 'orchestrator');
    if (!o1 || !o2) throw new Error('two orchestrators');
    const dnsServer = `127.0.0.1:${geo.server.port}`;
    const clients: MqttClient[] = [];
    for (let i = 0; i < 12; i++) {
      const client = mqtt.connect(`mqtt://${o1.host}:${o1.port}`, {
        clientId: `rbm-${i}`,
        protocolVersion: i % 2 === 0 ? 4 : 5,
        reconnectPeriod: 200,
      });
      followRedirects(client, async () => (await resolveA(dnsServer, NAME, 1000))[0]);
      t.after(() => new Promise<void>((resolve) => client.end(true, {}, () => resolve())));
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
      });
      clients.push(client);
    }
    const sessions = async () => {
      const status = await manager.status();
      const replicas = status.levels.find((l) => l.level === 'orchestrator')?.replicas ?? [];
      return Object.fromEntries(replicas.map((r) => [r.id, r.sessions]));
    };
    assert.deepEqual(await sessions(), { [o1.id]: 12, [o2.id]: 0 });

    const response = await fetch(`${base}/api/rebalance`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(response.status, 202);
    await waitFor(
      async () => (await manager.status()).rebalance?.state === 'finished',
      20_000,
      'rebalance over',
    );
    const run = (await manager.status()).rebalance;
    assert.equal(run?.outcome, 'balanced', JSON.stringify(run));
    await waitFor(
      async () => {
        const s = await sessions();
        return (s[o1.id] ?? 0) + (s[o2.id] ?? 0) === 12;
      },
      5000,
      'every client back',
    );
    const after = await sessions();
    t.diagnostic(`after POST /api/rebalance: ${JSON.stringify(after)}, ${JSON.stringify(run)}`);
    assert.ok(Math.abs((after[o1.id] ?? 0) - (after[o2.id] ?? 0)) <= 2, JSON.stringify(after));
    assert.equal(run?.moved, 5);
    // geo-dns holds are released: both orchestrators are answered again.
    assert.deepEqual(
      geo.directory
        .list()
        .map((r) => [r.id, r.state])
        .sort(),
      [
        [o1.id, 'ready'],
        [o2.id, 'ready'],
      ].sort(),
    );

    // Scale-in: the same machinery evacuates o1 to o2, then o1 is destroyed.
    await topology.removeOrchestrator(o1.id);
    await waitFor(async () => (await sessions())[o2.id] === 12, 10_000, 'every client on o2');
    assert.equal(
      (await provider.list()).some((r) => r.id === o1.id),
      false,
      'o1 destroyed',
    );
    assert.equal((await manager.status()).rebalance?.kind, 'evacuation');
    assert.equal((await manager.status()).rebalance?.outcome, 'evacuated');
  });
});
