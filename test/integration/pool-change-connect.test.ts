import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { delayRelay } from '../helpers/delay-relay.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { publishSeq, startOrchestrator } from '../helpers/orchestrator.ts';
import { connectClient, waitFor, within } from '../helpers/resources.ts';

// Issue #13 (s3): pool changes that meet a client moving between orchestrators.
// - A broker that joins the pool while a session is still connecting must still get that session's
//   link and subscriptions, else it is never "synced" on the replica and the manager's join waits
//   until manager.actionTimeoutSeconds (180 s in CI).
// - A persistent session that comes back while a broker drains must get what that broker queued
//   for it while it was away, else those messages die with the broker.

describe('orchestrator: sessions that connect while the pool changes', () => {
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

  it('a persistent session that resumes while a broker drains gets what that broker queued for it', async (t) => {
    const a = await TestMosquitto.start(t);
    const b = await TestMosquitto.start(t);
    const { orchestrator, url } = await startOrchestrator(t, [a.url, b.url]);
    const id = 'away-sub-1';
    const first = await connectClient(t, url, { clientId: id, clean: false });
    await within(first.subscribeAsync('away/#', { qos: 1 }), 10_000, 'SUBACK');
    await first.endAsync();
    // While it is away (being moved), 20 QoS 1 messages reach broker b, queued there for its session.
    const direct = await connectClient(t, b.url, { clientId: 'away-pub' });
    await publishSeq(direct, 'p', ['away/x'], 20, 1);
    orchestrator.setBrokers([
      { url: a.url, state: 'active' },
      { url: b.url, state: 'draining' },
    ]);
    let got = 0;
    const back = await connectClient(t, url, { clientId: id, clean: false }, (c) =>
      c.on('message', () => {
        got += 1;
      }),
    );
    // Before the fix the session linked to active and joining brokers only: b's queue never came.
    await waitFor(() => got >= 20, 8000, "the 20 messages queued on the draining broker");
    assert.equal(back.connected, true);
  });
});
