import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { Orchestrator } from '../../orchestrator/orchestrator.ts';
import { type FaultRelay, startFaultRelay } from '../helpers/fault-relay.ts';
import { startOrchestrator } from '../helpers/orchestrator.ts';
import { connectClient, startProvider, within } from '../helpers/resources.ts';

/**
 * Network faults between an orchestrator and one of its two brokers (issue 17): a QoS 1 stream runs
 * through one orchestrator; broker B sits behind a fault relay that adds 50 ms delay, resets every
 * connection, throttles it, and then blackholes B for a few seconds (a partition without a reset). The
 * orchestrator's upstream keepalive (1 s here: a PINGREQ each second, no PINGRESP by the next one
 * means down) is what detects the partition. Counted: sent, lost (must be 0), duplicated,
 * reordered, the longest gap between two deliveries, publishes refused.
 */
interface Report {
  sent: number;
  acked: number;
  refused: number;
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
  longestStallMs: number;
  /** Longest time from a publish to its first delivery. */
  maxLatencyMs: number;
  timeline: string[];
}

const PERIOD_MS = 10;
const KEEPALIVE_S = 1;

async function stack(
  t: TestContext,
): Promise<{ url: string; relay: FaultRelay; orchestrator: Orchestrator }> {
  const provider = await startProvider(t);
  const [a, b] = await Promise.all([1, 2].map(async () => provider.create('broker', 'mosquitto')));
  const brokerA = await provider.waitReady(a?.id ?? '', 10_000);
  const brokerB = await provider.waitReady(b?.id ?? '', 10_000);
  const relay = await startFaultRelay(t, { host: brokerB.host, port: brokerB.port });
  const orch = await startOrchestrator(t, [brokerA.url, `mqtt://${relay.host}:${relay.port}`], {
    limits: { upstreamKeepaliveSeconds: KEEPALIVE_S },
  });
  return { url: orch.url, relay, orchestrator: orch.orchestrator };
}

/** Publishes `seq` every PERIOD_MS at QoS 1 while `faults` runs, then waits for the stream to settle. */
async function run(
  pub: MqttClient,
  sub: MqttClient,
  faults: (mark: (what: string) => void) => Promise<void>,
): Promise<Report> {
  const start = Date.now();
  const timeline: string[] = [];
  const mark = (what: string) => timeline.push(`${((Date.now() - start) / 1000).toFixed(1)} s ${what}`);
  const seen = new Map<number, number>();
  let last = -1;
  let reordered = 0;
  let lastAt = Date.now();
  let longestStallMs = 0;
  let maxLatencyMs = 0;
  const sentAt: number[] = [];
  sub.on('message', (_topic, payload) => {
    const seq = Number(payload.toString());
    if (!seen.has(seq)) maxLatencyMs = Math.max(maxLatencyMs, Date.now() - (sentAt[seq] ?? 0));
    seen.set(seq, (seen.get(seq) ?? 0) + 1);
    if (seq < last) reordered += 1;
    else last = seq;
    const now = Date.now();
    longestStallMs = Math.max(longestStallMs, now - lastAt);
    lastAt = now;
  });
  let sent = 0;
  let acked = 0;
  let refused = 0;
  const timer = setInterval(() => {
    const seq = sent++;
    sentAt[seq] = Date.now();
    pub.publish('faults/stream', String(seq), { qos: 1 }, (err) => {
      if (err) refused += 1;
      else acked += 1;
    });
  }, PERIOD_MS);
  try {
    await faults(mark);
  } finally {
    clearInterval(timer);
  }
  mark(`stopped publishing (${sent} sent)`);
  await within(
    (async () => {
      while (acked + refused < sent || seen.size < acked) await new Promise((r) => setTimeout(r, 20));
    })(),
    15_000,
    'every publish acknowledged and delivered',
  ).catch((err: Error) => mark(err.message));
  let delivered = 0;
  let duplicated = 0;
  for (const count of seen.values()) {
    delivered += 1;
    duplicated += count - 1;
  }
  let lost = 0;
  for (let seq = 0; seq < sent; seq += 1) if (!seen.has(seq)) lost += 1;
  return {
    sent,
    acked,
    refused,
    delivered,
    lost,
    duplicated,
    reordered,
    longestStallMs,
    maxLatencyMs,
    timeline,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('orchestrator under network faults towards one broker (fault relay)', () => {
  it('50 ms delay, a 2 kB/s throttle, a reset and a 4 s blackhole of broker B: no QoS 1 message lost', async (t) => {
    const { url, relay, orchestrator } = await stack(t);
    /** Marks when broker B's links stop (or start again) counting as in place for every session. */
    const watchB = async (mark: (what: string) => void, ms: number) => {
      let wasSynced = true;
      for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) {
        const b = orchestrator.status().brokers[1];
        const synced = b?.synced === true && b.sessions === 2;
        if (synced !== wasSynced)
          mark(
            `orchestrator: B ${synced ? 'back' : 'down'} (${JSON.stringify(b && { state: b.state, synced: b.synced, sessions: b.sessions })})`,
          );
        wasSynced = synced;
      }
    };
    const sub = await connectClient(t, url, { protocolVersion: 5, clientId: 'faults-sub', clean: true });
    await within(sub.subscribeAsync('faults/stream', { qos: 1 }), 5000, 'SUBACK');
    const pub = await connectClient(t, url, { protocolVersion: 5, clientId: 'faults-pub', clean: true });
    let clientsClosed = 0;
    for (const c of [sub, pub]) c.on('close', () => (clientsClosed += 1));
    const report = await run(pub, sub, async (mark) => {
      await sleep(1000);
      relay.setDelay(50);
      mark('B: +50 ms delay each way');
      await sleep(2000);
      relay.setDelay(0);
      mark('B: delay off; throttled to 2 kB/s each way');
      relay.setBandwidth(2000);
      await sleep(2000);
      relay.setBandwidth(undefined);
      mark('B: throttle off');
      await sleep(1000);
      mark(`B: reset (${relay.connections} connections)`);
      relay.reset();
      await watchB(mark, 2000);
      relay.setBlackhole(true);
      mark(`B: blackhole (${relay.connections} connections)`);
      await watchB(mark, 4000);
      relay.setBlackhole(false);
      mark(`B: healed (${relay.connections} connections)`);
      await watchB(mark, 3000);
    });
    t.diagnostic(JSON.stringify(report));
    assert.equal(clientsClosed, 0, 'the clients stay connected');
    assert.equal(report.refused, 0, 'no publish refused');
    assert.equal(report.lost, 0, `lost: ${JSON.stringify(report)}`);
    assert.ok(report.sent > 500, `${report.sent} sent`);
  });
});
