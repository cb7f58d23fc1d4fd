// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { delayRelay } from '../helpers/delay-relay.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { publishSeq, startOrchestrator } from '../helpers/orchestrator.ts';
import { connectClient, waitFor, within } from '../helpers/resources.ts';

// Issue #13 (s3): clients moving between orchestrators, and pool changes that meet them.
// - A broker that joins the pool while a session is still connecting must still get that session's
//   link and subscriptions, else it is never "synced" on the replica and the manager's join waits
//   until manager.actionTimeoutSeconds (180 s in CI).
// - A persistent session that comes back while a broker drains must get what that broker queued
//   for it while it was away, else those messages die with the broker.
// - An orchestrator whose session a broker hands to a newer connection of the same client (v5: 0x8E;
//   Mosquitto 2.0.11 just closes the old one) must not take it back (ping-pong).

describe('orchestrator: sessions that move, and pool changes meeting them', () => {
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
    await waitFor(() => got >= 20, 8000, 'the 20 messages queued on the draining broker');
    assert.equal(back.connected, true);
  });

  it('a persistent session that left while its link to a joining broker was opening: that broker gets its subscriptions before it is synced', async (t) => {
    const a = await TestMosquitto.start(t);
    const b = await TestMosquitto.start(t);
    // b answers 600 ms late: the session's join of b still waits for its CONNACK when the client leaves
    // (moved to another orchestrator). b then holds a session of the client without its subscriptions.
    const slow = await delayRelay(t, { host: '127.0.0.1', port: b.port }, 600);
    const { orchestrator, url } = await startOrchestrator(t, [a.url]);
    const id = 'half-joined-1';
    const first = await connectClient(t, url, { clientId: id, clean: false });
    await within(first.subscribeAsync('half/#', { qos: 1 }), 10_000, 'SUBACK');
    orchestrator.setBrokers([
      { url: a.url, state: 'active' },
      { url: slow.url, state: 'joining' },
    ]);
    await new Promise((r) => setTimeout(r, 200));
    await first.endAsync();
    const entry = () => orchestrator.status().brokers.find((x) => x.url === slow.url);
    await waitFor(() => entry()?.synced === true, 8000, 'the joining broker synced on the replica');
    orchestrator.setBrokers([
      { url: a.url, state: 'active' },
      { url: slow.url, state: 'active' },
    ]);
    // While the client is away, 20 messages reach b: they must wait there for its session.
    const direct = await connectClient(t, b.url, { clientId: 'half-pub' });
    await publishSeq(direct, 'away', ['half/x'], 20, 1);
    let got = 0;
    await connectClient(t, url, { clientId: id, clean: false }, (c) =>
      c.on('message', () => {
        got += 1;
      }),
    );
    // Before the fix b had no subscription of the client: 0 of these came.
    await waitFor(() => got >= 20, 8000, 'the 20 messages b queued while the client was away');
    await waitFor(() => entry()?.synced === true, 8000, 'b synced for the resumed session');
    await publishSeq(direct, 'back', ['half/x'], 20, 1);
    await waitFor(() => got >= 40, 8000, 'the 20 messages published at b after the resume');
  });

  it('a resumed persistent session re-subscribes at a broker that has its session but is not in the record as having the subscriptions', async (t) => {
    const a = await TestMosquitto.start(t);
    const b = await TestMosquitto.start(t);
    const id = 'leftover-1';
    const one = await startOrchestrator(t, [a.url]);
    const first = await connectClient(t, one.url, { clientId: id, clean: false });
    await within(first.subscribeAsync('left/#', { qos: 1 }), 10_000, 'SUBACK');
    await first.endAsync(); // the record on a: subscriptions at a only
    // What a cut-short link leaves (a join or a CONNECT ended by the client leaving, a join replay
    // taken over by the client's own link): b holds a session of the client without its subscriptions.
    const stray = await connectClient(t, b.url, { clientId: id, clean: false });
    await stray.endAsync();
    // The client resumes at an orchestrator whose pool has both from its start: b says session present.
    const two = await startOrchestrator(t, [a.url, b.url]);
    let got = 0;
    await connectClient(t, two.url, { clientId: id, clean: false }, (c) =>
      c.on('message', () => {
        got += 1;
      }),
    );
    const entry = () => two.orchestrator.status().brokers.find((x) => x.url === b.url);
    await waitFor(() => entry()?.synced === true, 8000, 'b synced for the resumed session');
    const direct = await connectClient(t, b.url, { clientId: 'left-pub' });
    await publishSeq(direct, 'p', ['left/x'], 20, 1);
    // Before the fix b's "session present" was taken for "has the subscriptions": 0 of 20 came.
    await waitFor(() => got >= 20, 8000, 'the 20 messages published at b');
  });

  it('a join replay that reads a record still naming this replica for a client that left here recreates the session', async (t) => {
    const a = await TestMosquitto.start(t);
    const b = await TestMosquitto.start(t);
    const { orchestrator, url } = await startOrchestrator(t, [a.url]);
    const id = 'stale-holder-1';
    const records = await connectClient(t, a.url, { clientId: 'stale-reader' });
    let live: Buffer | undefined;
    records.on('message', (_topic, payload, packet) => {
      if (packet.retain && payload.length > 0 && live === undefined) live = Buffer.from(payload);
    });
    const first = await connectClient(t, url, { clientId: id, clean: false });
    await within(first.subscribeAsync('stale/#', { qos: 1 }), 10_000, 'SUBACK');
    await within(records.subscribeAsync(`$brokel/sessions/${id}`, { qos: 0 }), 10_000, 'record read');
    await waitFor(() => live !== undefined, 5000, 'the live record (online: this replica)');
    await first.endAsync();
    // A broker that lags (CPU-starved) has not processed the client's `online: null` yet when the join
    // replay reads it: the record still names this replica as the holder.
    await records.publishAsync(`$brokel/sessions/${id}`, live as Buffer, { qos: 1, retain: true });
    orchestrator.setBrokers([
      { url: a.url, state: 'active' },
      { url: b.url, state: 'joining' },
    ]);
    const entry = () => orchestrator.status().brokers.find((x) => x.url === b.url);
    await waitFor(() => entry()?.synced === true, 8000, 'the joining broker synced on the replica');
    orchestrator.setBrokers([
      { url: a.url, state: 'active' },
      { url: b.url, state: 'active' },
    ]);
    const direct = await connectClient(t, b.url, { clientId: 'stale-pub' });
    await publishSeq(direct, 'away', ['stale/x'], 20, 1);
    let got = 0;
    await connectClient(t, url, { clientId: id, clean: false }, (c) =>
      c.on('message', () => {
        got += 1;
      }),
    );
    // Before the fix the replay skipped it ("its live session here replays it"): 0 of 20 came.
    await waitFor(() => got >= 20, 8000, 'the 20 messages b queued while the client was away');
  });

  for (const version of [4, 5] as const) {
    it(`v${version}: a session the broker hands to the same client at another orchestrator ends here, no ping-pong`, async (t) => {
      const broker = await TestMosquitto.start(t);
      const a = await startOrchestrator(t, [broker.url]);
      const b = await startOrchestrator(t, [broker.url]);
      const id = `mover-v${version}`;
      const opts = { clientId: id, clean: false, protocolVersion: version, reconnectPeriod: 0 };
      // The client's old connection at a lingers (a slow orchestrator, a half-dead socket) while
      // the client connects again through b.
      const old = await connectClient(t, a.url, opts);
      let oldReason: number | undefined;
      old.on('disconnect', (p) => {
        oldReason = p.reasonCode;
      });
      const oldClosed = new Promise<void>((resolve) => old.once('close', () => resolve()));
      const moved = await connectClient(t, b.url, opts);
      await within(moved.subscribeAsync('moved/#', { qos: 1 }), 10_000, 'SUBACK at b');
      await within(oldClosed, 5000, 'the stale session at a closed');
      if (version === 5) assert.equal(oldReason, 0x8e, 'v5: DISCONNECT 0x8E (session taken over)');
      // Through b's claim (orchestrator/registry/claims.ts), not after the brokers' closes (the fallback).
      const metrics = await a.orchestrator.metrics.registry.metrics();
      assert.match(metrics, /^brokel_orchestrator_sessions_taken_over_total\{by="replica"\} 1$/m, metrics);
      // Before the fix a reconnected its link (taking the session back from b, which took it back…).
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(a.orchestrator.status().sessions, 0, 'a holds no session for the client');
      assert.equal(b.orchestrator.status().brokers[0]?.sessions, 1, "b's link is up");
      let got = 0;
      moved.on('message', () => {
        got += 1;
      });
      const direct = await connectClient(t, broker.url, { clientId: `pub-${id}` });
      await publishSeq(direct, 'p', ['moved/x'], 20, 1);
      await waitFor(() => got >= 20, 8000, 'the 20 messages at the moved client');
      assert.equal(moved.connected, true);
    });
  }
});
