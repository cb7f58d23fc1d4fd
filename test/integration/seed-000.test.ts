// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { startTcpBalancer } from '../../workload/elasticity/tcp-balancer.ts';
import { publishSeq, settle, startOrchestrator, subscriber, type Tally } from '../helpers/orchestrator.ts';
import { connectClient, startProvider } from '../helpers/resources.ts';

describe("seed-000's set-up: independent brokers behind a plain TCP balancer (issue #14)", () => {
  it('a subscriber gets only what publishers on its own broker sent: with 2 brokers it misses half; through an orchestrator, none', async (t) => {
    const provider = await startProvider(t);
    const brokers = [];
    for (let i = 0; i < 2; i++) {
      const created = await provider.create('broker', 'mosquitto');
      brokers.push(await provider.waitReady(created.id, 30_000));
    }
    const balancer = await startTcpBalancer(brokers.map((b) => ({ host: b.host, port: b.port })));
    t.after(() => balancer.close());
    // Connected one after another, so round-robin puts s0, s2 on broker 0 and s1, s3 on broker 1;
    // then the publishers the same way.
    const seed = await run(t, `mqtt://127.0.0.1:${balancer.port}`, 'seed');
    assert.deepEqual(balancer.counts, [4, 4]);
    for (const [i, s] of seed.subs.entries()) {
      assert.equal(s.distinct, seed.sent / 2, `subscriber ${i}: ${s.distinct} of ${seed.sent}`);
      t.diagnostic(
        `TCP balancer, subscriber ${i}: received ${s.distinct} of ${seed.sent} (missed ${seed.sent - s.distinct})`,
      );
    }
    // The same brokers and clients through one orchestrator: every subscriber gets everything.
    const { url } = await startOrchestrator(
      t,
      brokers.map((b) => b.url),
    );
    const brokel = await run(t, url, 'brokel');
    for (const [i, s] of brokel.subs.entries())
      assert.equal(s.distinct, brokel.sent, `orchestrator, subscriber ${i}`);
    t.diagnostic(`orchestrator: every subscriber received ${brokel.sent} of ${brokel.sent}`);
  });
});

/** 4 QoS 1 subscribers then 4 publishers (50 messages each) connected one after another to `url`. */
async function run(t: TestContext, url: string, prefix: string): Promise<{ subs: Tally[]; sent: number }> {
  const subs: Tally[] = [];
  for (let i = 0; i < 4; i++) subs.push((await subscriber(t, url, `${prefix}/#`, 1)).counts);
  const pubs = [];
  for (let i = 0; i < 4; i++) pubs.push(await connectClient(t, url));
  const each = 50;
  await Promise.all(pubs.map((p, i) => publishSeq(p, `p${i}`, [`${prefix}/a`, `${prefix}/b`], each, 1, 10)));
  const sent = each * pubs.length;
  await settle(subs, sent, 1500); // all of it, or nothing more for 1.5 s
  return { subs, sent };
}
