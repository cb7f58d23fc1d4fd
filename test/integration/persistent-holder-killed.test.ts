// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IClientOptions, MqttClient } from 'mqtt';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { publishSeq, settle, startOrchestrator, type Tally, tally } from '../helpers/orchestrator.ts';
import { orchestratorProcess } from '../helpers/orchestrator-process.ts';
import { connectClient, waitFor, within } from '../helpers/resources.ts';

const PERSISTENT: Array<{ name: string; options: IClientOptions }> = [
  { name: 'v4', options: { protocolVersion: 4, clean: false } },
  { name: 'v5', options: { protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 300 } } },
];

/**
 * Found by `npm run chaos` (session 5, seeds 1, 7 and 8: 37, 473 and 934 messages lost, persistent
 * subscribers only; docs/chaos.md defect 3). The orchestrator holding persistent sessions is SIGKILLed:
 * their registry records keep `online: <dead replica>`. A broker that joins while those clients are away
 * is skipped by the join replay (session-registry.ts replayAway: "a session some orchestrator holds is
 * left to that orchestrator's live session"), and nobody else gives it their subscriptions, so what is
 * routed there before they come back is lost for them. The sibling test in persistent-sessions.test.ts
 * passes only because there the clients leave with DISCONNECT (the record then says `online: null`).
 * Fixed by presence (orchestrator/registry/presence.ts): the holder's presence record is cleared by its
 * Will when it dies, so the join replay takes its sessions for away.
 */
describe('persistent sessions whose orchestrator was SIGKILLed, and a joining broker', () => {
  it('what is routed to a broker that joined while the clients were away reaches them when they come back', async (t) => {
    const [a, b] = await Promise.all([TestMosquitto.start(t), TestMosquitto.start(t)]);
    if (!a || !b) throw new Error('brokers');
    const x = await orchestratorProcess(t, [a.url]);
    const y = await startOrchestrator(t, [a.url]);
    const xUrl = `mqtt://127.0.0.1:${x.port}`;
    for (const p of PERSISTENT) {
      const clean = p.options.protocolVersion === 5; // a v5 session starts with Clean Start 1
      const c = await connectClient(t, xUrl, { ...p.options, clean, clientId: `held-${p.name}` });
      await within(c.subscribeAsync('ph/#', { qos: 1 }), 10_000, 'SUBACK');
    }
    // Presence records on A (one per live orchestrator): X's goes when A notices X's death (its Will).
    const present = new Map<string, number>();
    const watch = await connectClient(t, a.url);
    watch.on('message', (topic, payload) => present.set(topic, payload.length));
    await within(watch.subscribeAsync('$brokel/presence/+', { qos: 0 }), 10_000, 'SUBACK');
    const live = () => [...present.values()].filter((n) => n > 0).length;
    await waitFor(() => live() === 2, 10_000, 'X and Y present on A');
    // The holder dies without a word: no DISCONNECT, no record saying the clients are away.
    const exited = new Promise((resolve) => x.child.once('exit', resolve));
    x.child.kill('SIGKILL');
    await within(exited, 10_000, 'the orchestrator process to die');
    await waitFor(() => live() === 1, 10_000, "A to clear X's presence"); // a join within ms may still see X
    // B joins Y's pool (joining, synced, then active), as the manager does it.
    y.orchestrator.setBrokers([
      { url: a.url, state: 'active' },
      { url: b.url, state: 'joining' },
    ]);
    await waitFor(
      () => y.orchestrator.status().brokers.find((s) => s.url === b.url)?.synced === true,
      10_000,
      'B synced',
    );
    y.orchestrator.setBrokers([
      { url: a.url, state: 'active' },
      { url: b.url, state: 'active' },
    ]);
    const pub = await connectClient(t, y.url);
    await publishSeq(pub, 'p', ['ph/1', 'ph/2'], 40, 1, 10);
    const toB = y.orchestrator.status().brokers.find((s) => s.url === b.url)?.published ?? 0;
    assert.ok(toB >= 10, `messages were routed to the new broker (${toB})`);
    const back: Array<{ name: string; client: MqttClient; counts: Tally }> = [];
    for (const p of PERSISTENT) {
      let counts: Tally | undefined;
      const client = await connectClient(t, y.url, { ...p.options, clientId: `held-${p.name}` }, (c) => {
        counts = tally(c);
      });
      back.push({ name: p.name, client, counts: counts as Tally });
    }
    await settle(
      back.map((c) => c.counts),
      40,
      1500,
    );
    for (const c of back) assert.equal(c.counts.distinct, 40, `${c.name} persistent client received all 40`);
  });
});
