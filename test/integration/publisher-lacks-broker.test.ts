// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { homeBrokerRanking } from '../../orchestrator/routing/strategies.ts';
import { startFaultRelay } from '../helpers/fault-relay.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { publishSeq, settle, startOrchestrator, subscriber, tally } from '../helpers/orchestrator.ts';
import { connectClient, waitFor, within } from '../helpers/resources.ts';

// A broker is routable while no session that receives lacks it (docs/data-plane.md "Publishers that
// lack a broker"). Before, a publisher whose new link to a broker timed out counted too: in a
// connection storm (4,500 clients, bench:orchestrator's connection scale) every broker had such a
// publisher, so every broker was unroutable and every session's publishes were held for seconds.

// Long enough that publishes waiting for the new link would show (they go out in milliseconds).
const LINK_TIMEOUT_MS = 2500;

describe('a session that cannot reach a broker', () => {
  it('a round-robin publisher does not wait for it and routes around it alone (the broker stays routable for the others); once it subscribes, the broker is held back until its link is back', async (t) => {
    const b1 = await TestMosquitto.start(t);
    const b2 = await TestMosquitto.start(t);
    const relay = await startFaultRelay(t, { host: '127.0.0.1', port: b2.port });
    const { orchestrator, url } = await startOrchestrator(t, [b1.url, `mqtt://127.0.0.1:${relay.port}`], {
      limits: { upstreamConnectTimeoutMs: LINK_TIMEOUT_MS, reconnectDelayMs: { first: 200, max: 400 } },
    });
    const [id1, id2] = orchestrator.status().brokers.map((b) => b.id);
    assert.ok(id1 && id2);
    const broker2 = () => orchestrator.status().brokers.find((b) => b.id === id2);
    const routable2 = () => broker2()?.synced;

    // What the orchestrator routes to b2, seen by a client of b2 itself.
    const watch = await connectClient(t, b2.url, { clientId: 'lack-watch' });
    const onB2 = tally(watch);
    await within(watch.subscribeAsync('lack/#', { qos: 1 }), 5000, 'watcher SUBACK');
    const { counts } = await subscriber(t, url, 'lack/#', 1, { clientId: 'lack-sub' });
    const other = await connectClient(t, url, { clientId: 'lack-other' });
    await publishSeq(other, 'warm', ['lack/other'], 4, 1); // linked to both brokers from here
    // A lazy publisher whose home is b1: linked to b1 only, until round-robin needs b2.
    // The broker ids come from the ephemeral ports: as many candidates as it takes (each is one of
    // two homes; 8 fixed ones all missed b1 once, 1 run in 256).
    const loneId = Array.from({ length: 200 }, (_, i) => `lack-lone-${i}`).find(
      (id) => homeBrokerRanking(id, [id1, id2])[0] === id1,
    );
    assert.ok(loneId, 'a client id whose home is b1');
    const lone = await connectClient(t, url, { clientId: loneId });
    await waitFor(() => broker2()?.sessions === 2, 3000, 'lone trimmed to b1');

    // b2 stops answering new connections (as with a full accept queue); links already open stay.
    relay.setSilentNew(true);
    // Round-robin: its publishes go to b1 at once, not after its new link to b2 timed out.
    const started = performance.now();
    await publishSeq(lone, 'lone', ['lack/lone'], 3, 1, 50, 10_000);
    const ackedMs = performance.now() - started;
    assert.ok(ackedMs < LINK_TIMEOUT_MS - 500, `acknowledged after ${ackedMs.toFixed(0)} ms`);
    await new Promise((r) => setTimeout(r, LINK_TIMEOUT_MS + 500)); // the link to b2 timed out
    assert.equal(broker2()?.sessions, 2, 'no lone link to b2');
    assert.equal(routable2(), true, 'b2 stays routable: the publisher that lacks it receives nothing');
    const before = onB2.distinct;
    await publishSeq(other, 'rr', ['lack/other'], 20, 1);
    assert.ok(onB2.distinct - before >= 8, `round-robin still reaches b2: ${onB2.distinct - before} of 20`);

    // Now it subscribes: a publish routed to b2 would miss it, so b2 is held back (routed to b1 only).
    const got = tally(lone);
    await within(lone.subscribeAsync('lack/in/#', { qos: 1 }), 5000, 'lone SUBACK');
    assert.equal(routable2(), false, 'b2 unroutable while a subscriber lacks it');
    const held = onB2.distinct;
    await publishSeq(other, 'in', ['lack/in/x'], 20, 1);
    await settle([got], 20);
    assert.equal(got.distinct, 20, 'the subscriber that lacks b2 gets everything');
    assert.equal(onB2.distinct, held, 'nothing was routed to b2 meanwhile');

    // b2 answers again: the subscriber's link comes back (reconnect with back-off), b2 is routable again.
    relay.setSilentNew(false);
    await waitFor(() => routable2() === true, 10_000, 'b2 routable again');
    await publishSeq(other, 'back', ['lack/in/x'], 20, 1);
    await settle([got], 40);
    assert.equal(got.distinct, 40);
    assert.ok(onB2.distinct > held, 'round-robin reaches b2 again');
    await settle([counts], 4 + 3 + 20 + 40);
    assert.equal(counts.distinct, 4 + 3 + 20 + 40, 'the first subscriber lost nothing');
    assert.equal(counts.duplicates, 0);
  });
});
