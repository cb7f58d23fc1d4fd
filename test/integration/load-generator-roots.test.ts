// test-lanes: shared
// Two load generators on the same broker (the soak's --direct-reference alternates them): with their
// own topic roots each counts only its own deliveries; with one root each subscriber also gets the
// other's messages, which made the soak print negative losses (deliveries late through the orchestrator
// landed in the next phase). Real Mosquitto, real sockets; no rate or
// latency is asserted.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { issue12Load, LoadGenerator } from '../../bench/lib/load-generator.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';

const options = (clientIdPrefix: string, topicRoot?: string) =>
  issue12Load(1, clientIdPrefix, {
    publishers: 2,
    subscribers: 2,
    windowPerPublisher: 50,
    maxSamples: 10_000,
    topicRoot,
  });

/** Paced phases of a and b at the same time; what each counted. */
async function together(t: TestContext, rootA?: string, rootB?: string) {
  const broker = await TestMosquitto.start(t);
  const target = { host: '127.0.0.1', port: broker.port };
  const a = await LoadGenerator.connect(target, options(`roots${process.pid}a`, rootA));
  t.after(() => a.close());
  const b = await LoadGenerator.connect(target, options(`roots${process.pid}b`, rootB));
  t.after(() => b.close());
  const phase = (g: LoadGenerator) =>
    g.runPhase({
      rate: 500,
      warmupMs: 0,
      measureMs: 1000,
      maxMessages: 2000,
      drainTimeoutMs: 5000,
      cpu: () => ({}),
    });
  const [ra, rb] = await Promise.all([phase(a), phase(b)]);
  return { ra, rb };
}

describe('load generators sharing a broker', () => {
  it('with their own topic roots, each delivers exactly what it sent', async (t) => {
    const { ra, rb } = await together(t, 'taxi', 'dir0');
    for (const [name, r] of Object.entries({ ra, rb })) {
      assert.ok(r.sent > 0, `${name}: nothing sent`);
      assert.equal(r.lost, 0, `${name}: sent ${r.sent}, lost ${r.lost}`);
    }
  });

  it('with one root, the other generator’s messages are counted as deliveries (the defect the roots fix)', async (t) => {
    const { ra, rb } = await together(t);
    // a's subscribers also receive b's messages and b's a's: each counts about twice what it sent.
    assert.ok(ra.lost < 0 && rb.lost < 0, `lost ${ra.lost} / ${rb.lost}: no cross-talk seen`);
  });
});
