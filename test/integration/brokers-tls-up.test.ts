import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crossableTempDir } from '../../common/os-user.ts';
import { freePort } from '../../manager/providers/local/address-pool.ts';
import { up } from '../helpers/brokel-process.ts';
import { publishSeq, settle, subscriber } from '../helpers/orchestrator.ts';
import { connectClient, leftoverCgroups, waitFor, within } from '../helpers/resources.ts';

interface Replica {
  id: string;
  url: string;
  state: string;
}
interface Status {
  levels: Array<{ level: string; replicas: Replica[] }>;
}
interface OrchestratorBrokers {
  brokers: Array<{ url: string; state: string; synced: boolean; published: number; sessions: number }>;
}

const TOKEN = 'brokers-tls-test-token-0123456789';

/**
 * Issue 17, `brokers.tls: true` end to end: a real `brokel up` (local provider, real Mosquitto) makes
 * the deployment's CA in its state dir, every broker replica a TLS listener with a certificate for its
 * own address, and hands its orchestrators `mqtts://` URLs and the CA. Clients publish and subscribe
 * through the orchestrator; the orchestrator reports its traffic on the TLS URL (8883), never on the
 * broker's plain port. A scale-up moves retained messages over TLS too (the manager verifies the CA).
 */
describe('brokers.tls: true (brokel up, local provider, Mosquitto)', () => {
  it('brokers get TLS listeners, orchestrators mqtts:// URLs and the CA; QoS 1 and retained moves flow over TLS', async (t) => {
    // The replicas' data dirs are in it, and Mosquitto run as root opens its files as the mosquitto user.
    const dir = await crossableTempDir('brokel-tls-up-');
    t.after(() => rm(dir, { recursive: true, force: true }));
    const deployment = `tls${process.pid}`;
    const stateDir = join(dir, 'state');
    const apiPort = await freePort('127.0.0.1');
    const dnsPort = await freePort('127.0.0.1');
    const file = join(dir, 'brokel.yaml');
    await writeFile(
      file,
      [
        `deployment: ${deployment}`,
        `manager: { decisionLog: ${join(dir, 'decisions.jsonl')}, adminToken: ${TOKEN} }`,
        'monitor: { intervalSeconds: 0.5, warmupObservations: 2 }',
        'levels: { brokers: { min: 1, max: 2, cpuQuota: 0.5 }, orchestrators: { min: 1, max: 1 } }',
        'brokers: { tls: true }',
        `api: { listen: 127.0.0.1:${apiPort} }`,
        `dns: { listen: 127.0.0.1:${dnsPort} }`,
        `provider: { kind: local, local: { stateDir: ${stateDir} } }`,
        '',
      ].join('\n'),
    );
    const manager = await up(t, file);
    const api = `http://127.0.0.1:${apiPort}`;
    const status = async () => (await (await fetch(`${api}/api/status`)).json()) as Status;
    const level = (s: Status, name: string) => s.levels.find((l) => l.level === name)?.replicas ?? [];
    const first = await status();
    const broker = level(first, 'broker')[0];
    const orchestrator = level(first, 'orchestrator')[0];
    assert.ok(broker && orchestrator, JSON.stringify(first));
    assert.match(broker.url, /^mqtts:\/\/127\.\d+\.\d+\.\d+:8883$/, 'the broker is handed out as mqtts://');
    assert.equal(existsSync(join(stateDir, 'tls', 'ca.crt')), true, 'the CA is kept in the state dir');
    const record = JSON.parse(
      await readFile(join(stateDir, 'replicas', `${orchestrator.id}.json`), 'utf8'),
    ) as {
      host: string;
      ports: { admin: number };
    };
    const brokersOfOrchestrator = async () => {
      const res = await fetch(`http://${record.host}:${record.ports.admin}/status`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      return ((await res.json()) as OrchestratorBrokers).brokers;
    };

    const sub = await subscriber(t, orchestrator.url, 'tls/#', 1);
    const pub = await connectClient(t, orchestrator.url, { protocolVersion: 5 });
    await publishSeq(pub, 'a', ['tls/1'], 20, 1);
    await settle([sub.counts], 20);
    assert.equal(sub.counts.distinct, 20);
    const links = await brokersOfOrchestrator();
    assert.deepEqual(
      links.map((b) => [b.url, b.state]),
      [[broker.url, 'active']],
      'the orchestrator knows the broker only by its TLS URL',
    );
    assert.ok((links[0]?.published ?? 0) >= 20, 'the publishes went over the TLS link');

    // Retained messages, then a second broker: the manager moves those the new one owns, over TLS.
    const topics = Array.from({ length: 12 }, (_, i) => `tls/r/${i}`);
    for (const topic of topics)
      await within(pub.publishAsync(topic, `kept ${topic}`, { qos: 1, retain: true }), 10_000, 'PUBACK');
    const scaled = await fetch(`${api}/api/scale`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ level: 'brokers', target: 2 }),
    });
    assert.equal(scaled.status, 200, await scaled.text());
    await waitFor(
      async () => {
        const b = await brokersOfOrchestrator().catch(() => []);
        return b.length === 2 && b.every((x) => x.state === 'active' && x.synced);
      },
      60_000,
      'the second broker active on the orchestrator',
    );
    for (const b of await brokersOfOrchestrator()) assert.match(b.url, /^mqtts:\/\/.*:8883$/);
    const late = await connectClient(t, orchestrator.url, { protocolVersion: 5 });
    const retained = new Map<string, string>();
    late.on('message', (topic, payload) => retained.set(topic, payload.toString()));
    await within(late.subscribeAsync('tls/r/#', { qos: 1 }), 10_000, 'SUBACK');
    await waitFor(() => retained.size === topics.length, 10_000, 'every retained message');
    for (const topic of topics) assert.equal(retained.get(topic), `kept ${topic}`);

    manager.child.kill('SIGTERM');
    assert.equal(await within(manager.exited, 60_000, 'brokel up to exit'), 0);
    assert.equal(existsSync(join(stateDir, 'tls')), false, 'the CA goes with the deployment');
    assert.deepEqual(leftoverCgroups(deployment), []);
  });
});
