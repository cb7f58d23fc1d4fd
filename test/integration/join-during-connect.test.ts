import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { delayRelay } from '../helpers/delay-relay.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { publishSeq, startOrchestrator } from '../helpers/orchestrator.ts';
import { connectClient, waitFor, within } from '../helpers/resources.ts';

// Issue #13 (s3's stuck broker add): a broker that joins the pool while a session is still
// connecting must still get that session's link and subscriptions, else it is never "synced" on the
// replica and the manager's join waits until manager.actionTimeoutSeconds (180 s in CI).

describe('orchestrator: a broker joining while a session connects', () => {
  it('the connecting persistent session joins it after its CONNACK: synced, and deliveries from it arrive', async (t) => {
    const first = await TestMosquitto.start(t);
    const second = await TestMosquitto.start(t);
    // The first broker answers 700 ms late, so the CONNECT below is still connecting when the pool grows.
    const slow = await delayRelay(t, { host: '127.0.0.1', port: first.port }, 700);
    const { orchestrator, url } = await startOrchestrator(t, [slow.url]);
    const connecting = connectClient(t, url, { clientId: 'joiner-1', clean: false, connectTimeout: 10_000 });
    await new Promise((r) => setTimeout(r, 300));
    orchestrator.setBrokers([
      { url: slow.url, state: 'active' },
      { url: second.url, state: 'joining' },
    ]);
    const client = await within(connecting, 10_000, 'CONNACK of the persistent session');
    await within(client.subscribeAsync('join/#', { qos: 1 }), 10_000, 'SUBACK');
    const entry = () => orchestrator.status().brokers.find((b) => b.url === second.url);
    // Before the fix the session never linked to the new broker: synced stayed false for good.
    await waitFor(() => entry()?.synced === true, 8000, 'the joining broker synced on the replica');
    assert.equal(entry()?.sessions, 1, 'the session has a link to the joining broker');
    orchestrator.setBrokers([
      { url: slow.url, state: 'active' },
      { url: second.url, state: 'active' },
    ]);
    // A publish straight to the new broker reaches the session through its link there.
    const direct = await connectClient(t, second.url, { clientId: 'direct-pub' });
    let got = 0;
    client.on('message', () => {
      got += 1;
    });
    await publishSeq(direct, 'p', ['join/a'], 20, 1);
    await waitFor(() => got === 20, 8000, '20 deliveries from the joined broker');
  });
});
