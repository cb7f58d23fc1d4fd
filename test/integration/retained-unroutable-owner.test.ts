// test-lanes: shared
import assert from 'node:assert/strict';
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import type { MqttClient } from 'mqtt';
import { silentLogger } from '../../common/logger.ts';
import { retainedOwner } from '../../common/retained-owner.ts';
import { moveRetained } from '../../manager/retained-move.ts';
import { Orchestrator } from '../../orchestrator/orchestrator.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { connectClient, waitFor, within } from '../helpers/resources.ts';

/**
 * A TCP relay in front of a broker that can refuse new connections while the ones it relays go on:
 * one session's link to the broker cannot open, the others' stay up.
 */
async function gateRelay(t: TestContext, port: number): Promise<{ port: number; refuse: boolean }> {
  const sockets = new Set<Socket>();
  const gate = { port: 0, refuse: false };
  const server = createServer({ noDelay: true }, (client) => {
    if (gate.refuse) return void client.destroy();
    const upstream = netConnect({ host: '127.0.0.1', port, noDelay: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gate.port = (server.address() as { port: number }).port;
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return gate;
}

/** The retained values one broker holds on `topics`, read directly: all of them come before a marker. */
async function retainedOn(t: TestContext, port: number, topics: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const marker = `h3/marker/${port}`;
  const c = await connectClient(t, `mqtt://127.0.0.1:${port}`, {}, (client) =>
    client.on('message', (topic, payload, packet) => {
      if (packet.retain && topic !== marker) out.set(topic, payload.toString());
    }),
  );
  const seen = new Promise<void>((resolve) => c.on('message', (topic) => topic === marker && resolve()));
  await c.subscribeAsync([...topics, marker], { qos: 1 });
  await c.publishAsync(marker, 'end', { qos: 1 }); // a broker answers one connection in order
  await within(seen, 5000, `the marker from port ${port}`);
  await c.endAsync(true);
  return out;
}

describe('a retained publish while its owner is active but not routable (pool-change-random seed 11)', () => {
  it('goes to the owner the move used, not to another broker: one retained value per topic', async (t) => {
    const a = await TestMosquitto.start(t);
    const n = await TestMosquitto.start(t);
    const gate = await gateRelay(t, n.port);
    const idA = `127.0.0.1:${a.port}`;
    const idN = `127.0.0.1:${gate.port}`;
    // Two topics whose owner is N once it is active (rendezvous over the active brokers).
    const owned = Array.from({ length: 64 }, (_, k) => `h3/r/${k}`).filter(
      (topic) => retainedOwner(topic, [idA, idN]) === idN,
    );
    const [t2, t0] = owned as [string, string];
    const orchestrator = new Orchestrator({
      routing: 'round-robin',
      brokers: [{ url: `mqtt://${idA}`, state: 'active' }],
      limits: { reconnectDelayMs: { first: 50, max: 100 } },
      log: silentLogger(),
    });
    t.after(() => orchestrator.close());
    const url = `mqtt://127.0.0.1:${await orchestrator.listen('127.0.0.1', 0)}`;
    const status = () => orchestrator.status().brokers.find((b) => b.id === idN);

    // A publisher with every link (it subscribed), and the first values, on A (the only broker).
    const pub: MqttClient = await connectClient(t, url, { protocolVersion: 4 });
    await pub.subscribeAsync('h3/none', { qos: 0 });
    await pub.publishAsync(t2, 'old', { qos: 2, retain: true });
    await pub.publishAsync(t0, 'old', { qos: 1, retain: true });

    // N joins as the manager does it: synced, the retained values it now owns move to it, active.
    orchestrator.setBrokers([
      { url: `mqtt://${idA}`, state: 'active' },
      { url: `mqtt://${idN}`, state: 'joining' },
    ]);
    await waitFor(() => status()?.synced === true, 5000, 'N synced');
    await moveRetained({ sources: [`mqtt://${idA}`], owners: [idA, idN], auth: {}, timeoutMs: 5000 });
    orchestrator.setBrokers([
      { url: `mqtt://${idA}`, state: 'active' },
      { url: `mqtt://${idN}`, state: 'active' },
    ]);

    // A persistent session connects and cannot reach N yet: N is active, but not routable
    // (a session lacks it), as after the away-join of seed 11 (its subscriber came back).
    gate.refuse = true;
    await connectClient(t, url, { protocolVersion: 4, clean: false, clientId: 'h3-away' });
    assert.equal(status()?.synced, false, 'N is not routable while the session lacks it');

    // New values meanwhile: QoS 0 (no acknowledgement to hold), then QoS 2, as in seed 11.
    pub.publish(t0, 'new', { qos: 0, retain: true });
    const acked = pub.publishAsync(t2, 'new', { qos: 2, retain: true });
    let early = false;
    void acked.then(() => {
      early = gate.refuse;
    });
    await new Promise((r) => setTimeout(r, 200));
    gate.refuse = false; // the session reaches N (its reconnect), N is routable again
    await within(acked, 5000, 'the QoS 2 retained publish acknowledged');
    await waitFor(() => status()?.synced === true, 5000, 'N routable again');

    const onA = await retainedOn(t, a.port, [t0, t2]);
    const onN = await retainedOn(t, n.port, [t0, t2]);
    assert.deepEqual(
      { onA: Object.fromEntries(onA), onN: Object.fromEntries(onN) },
      { onA: {}, onN: { [t0]: 'new', [t2]: 'new' } },
    );
    assert.equal(early, false, 'the QoS 2 one is not acknowledged before it is at its owner');
  });
});
