// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { Packet } from 'mqtt-packet';
import type { Orchestrator } from '../../orchestrator/orchestrator.ts';
import { retainedOwner } from '../../orchestrator/routing/strategies.ts';
import { connectPacket, connectTcp, encode, expectPacket, writeRaw } from '../helpers/mqtt-wire.ts';
import { publishSeq, settle, startOrchestrator, subscriber } from '../helpers/orchestrator.ts';
import { connectClient, startProvider, waitFor, within } from '../helpers/resources.ts';

// Lazy upstream links (docs/data-plane.md "Upstream links per client"): a clean session that never
// subscribed keeps one link, to its home broker, until routing needs another broker.

async function threeBrokers(t: TestContext) {
  const provider = await startProvider(t);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await provider.create('broker', 'mosquitto')).id);
  const ready = await Promise.all(ids.map((id) => provider.waitReady(id, 10_000)));
  return { provider, ready, urls: ready.map((r) => r.url) };
}

/** Upstream links of the orchestrator's sessions, per broker url. */
function linksPerBroker(orchestrator: Orchestrator): Map<string, number> {
  return new Map(orchestrator.status().brokers.map((b) => [b.url, b.sessions]));
}

function total(links: Map<string, number>): number {
  return [...links.values()].reduce((n, v) => n + v, 0);
}

describe('orchestrator: lazy upstream links', () => {
  it('an idle clean session holds one upstream link; a subscriber holds one per broker', async (t) => {
    const { urls } = await threeBrokers(t);
    const { orchestrator, url } = await startOrchestrator(t, urls);
    await connectClient(t, url, { clientId: 'idle-1' });
    await connectClient(t, url, { clientId: 'idle-2', protocolVersion: 5 });
    await waitFor(() => total(linksPerBroker(orchestrator)) === 2, 2000, 'two links for two idle clients');
    await subscriber(t, url, 'lazy/#', 1, { clientId: 'sub-1' });
    assert.equal(total(linksPerBroker(orchestrator)), 5, 'the subscriber is on all 3 brokers');
    // A persistent session is on every broker from its CONNECT (its subscriptions live there).
    await connectClient(t, url, { clientId: 'persist-1', clean: false });
    assert.equal(total(linksPerBroker(orchestrator)), 8);
    assert.equal(
      orchestrator.status().brokers.every((b) => b.synced),
      true,
      'a lazy session lacks nothing on the brokers it has no link to',
    );
  });

  it('an UNSUBSCRIBE sent with the CONNECT is answered although the session drops its other links', async (t) => {
    const { urls } = await threeBrokers(t);
    const { orchestrator, port } = await startOrchestrator(t, urls);
    const conn = await connectTcp(t, port);
    const unsubscribe: Packet = { cmd: 'unsubscribe', messageId: 7, unsubscriptions: ['early/#'] };
    await writeRaw(conn, Buffer.concat([encode(connectPacket('early-unsub', 4), 4), encode(unsubscribe, 4)]));
    await expectPacket(conn, 'connack', 5000);
    assert.equal((await expectPacket(conn, 'unsuback', 5000)).messageId, 7);
    await waitFor(() => total(linksPerBroker(orchestrator)) === 1, 2000, 'one link left');
  });

  it('a client-affinity publisher keeps its one link; QoS 0 and 1 arrive in order at a subscriber', async (t) => {
    const { urls } = await threeBrokers(t);
    const { orchestrator, url } = await startOrchestrator(t, urls, { routing: 'client-affinity' });
    const sub = await subscriber(t, url, 'aff/#', 1, { clientId: 'aff-sub' });
    const pub = await connectClient(t, url, { clientId: 'aff-pub' });
    await publishSeq(pub, 'q1', ['aff/1', 'aff/2'], 200, 1);
    await publishSeq(pub, 'q0', ['aff/1'], 50, 0);
    await settle([sub.counts], 250);
    assert.equal(sub.counts.distinct, 250);
    assert.equal(sub.counts.reordered, 0);
    assert.equal(total(linksPerBroker(orchestrator)), 3 + 1, 'subscriber on 3, publisher on its home only');
    // A retained publish goes to its topic's owner: when that is not the home broker, every link opens.
    const home = [...linksPerBroker(orchestrator)].find(([, n]) => n === 2)?.[0];
    const ids = urls.map((u) => u.slice('mqtt://'.length));
    const topic = Array.from({ length: 40 }, (_, i) => `aff/r${i}`).find(
      (x) => `mqtt://${retainedOwner(x, ids)}` !== home,
    );
    assert.ok(topic);
    await pub.publishAsync(topic, 'kept', { qos: 1, retain: true });
    assert.equal(total(linksPerBroker(orchestrator)), 3 + 3);
    const owner = `mqtt://${retainedOwner(topic, ids)}`;
    const direct = await connectClient(t, owner);
    const got = new Promise<string>((resolve) => direct.on('message', (_, p) => resolve(p.toString())));
    await direct.subscribeAsync(topic, { qos: 1 });
    assert.equal(await within(got, 3000, 'the retained value on its owner'), 'kept');
  });

  it('a round-robin publisher opens every link on its first publish without waiting for them: nothing lost (QoS 0), spread once they are open', async (t) => {
    const { urls } = await threeBrokers(t);
    const { orchestrator, url } = await startOrchestrator(t, urls);
    const sub = await subscriber(t, url, 'rr/#', 0, { clientId: 'rr-sub' });
    const pub = await connectClient(t, url, { clientId: 'rr-pub' });
    assert.equal(total(linksPerBroker(orchestrator)), 3 + 1);
    await publishSeq(pub, 'q0', ['rr/1'], 60, 0);
    await settle([sub.counts], 60);
    assert.equal(sub.counts.distinct, 60, 'the publishes made while the links opened were kept');
    await waitFor(() => total(linksPerBroker(orchestrator)) === 3 + 3, 5000, 'every link open');
    // The first ones went to the links there were (its home broker); from here, all three.
    const before = orchestrator.status().brokers.map((b) => b.published);
    await publishSeq(pub, 'q0b', ['rr/1'], 60, 0);
    await settle([sub.counts], 120);
    assert.equal(sub.counts.distinct, 120);
    const published = orchestrator.status().brokers.map((b, i) => b.published - (before[i] ?? 0));
    assert.equal(
      published.every((n) => n >= 15),
      true,
      `round-robin spreads over all 3: ${published}`,
    );
  });

  it('a lazy QoS 1 publisher whose home broker dies goes on through the others, none lost', async (t) => {
    const { provider, ready, urls } = await threeBrokers(t);
    const { orchestrator, url } = await startOrchestrator(t, urls, { routing: 'client-affinity' });
    const sub = await subscriber(t, url, 'loss/#', 1, { clientId: 'loss-sub' });
    const pub = await connectClient(t, url, { clientId: 'loss-pub' });
    const home = [...linksPerBroker(orchestrator)].find(([, n]) => n === 2)?.[0];
    const homeReplica = ready.find((r) => r.url === home);
    assert.ok(homeReplica, 'the publisher has one home broker');
    await publishSeq(pub, 'before', ['loss/1'], 50, 1);
    process.kill(provider.details(homeReplica.id)?.pid ?? -1, 'SIGKILL');
    await waitFor(() => (linksPerBroker(orchestrator).get(home ?? '') ?? 0) === 0, 5000, 'home link down');
    await publishSeq(pub, 'after', ['loss/1'], 50, 1, 50, 15_000);
    await settle([sub.counts], 100);
    assert.equal(sub.counts.distinct, 100, 'every acknowledged publish reached the subscriber');
  });
});
