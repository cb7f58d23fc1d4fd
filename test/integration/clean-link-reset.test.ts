// test-timeout-ms: 60000
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { OrchestratorLimits } from '../../orchestrator/limits.ts';
import { startFaultRelay } from '../helpers/fault-relay.ts';
import { connectTcp, expectPacket, handshake, writePacket } from '../helpers/mqtt-wire.ts';
import { startOrchestrator } from '../helpers/orchestrator.ts';
import { connectClient, startProvider, waitFor, within } from '../helpers/resources.ts';

/**
 * A clean subscriber's link to one broker is reset while another client keeps publishing to that
 * broker (issue 17's chaos run found the loss): the orchestrator's upstream session outlives the blip
 * (Session Expiry Interval limits.upstreamLinkGraceSeconds, resumed with Clean Start 0), so the broker
 * queues what arrives meanwhile and sends it when the link is back. When the client itself leaves,
 * every upstream session ends for good (DISCONNECT with Session Expiry Interval 0).
 */
const TOPIC = 'h7/stream';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stack(t: TestContext, limits: Partial<OrchestratorLimits> = {}) {
  const provider = await startProvider(t);
  const [a, b] = await Promise.all([1, 2].map(async () => provider.create('broker', 'mosquitto')));
  const brokerA = await provider.waitReady(a?.id ?? '', 10_000);
  const brokerB = await provider.waitReady(b?.id ?? '', 10_000);
  const relay = await startFaultRelay(t, { host: brokerB.host, port: brokerB.port });
  const orch = await startOrchestrator(t, [brokerA.url, `mqtt://${relay.host}:${relay.port}`], { limits });
  return { brokerA, brokerB, relay, url: orch.url, orchestrator: orch.orchestrator };
}

/** Seqs received per subscriber (payload `seq`), with duplicates counted. */
function counter(sub: MqttClient): Map<number, number> {
  const seen = new Map<number, number>();
  sub.on('message', (_topic, payload) => {
    const seq = Number(payload.toString());
    seen.set(seq, (seen.get(seq) ?? 0) + 1);
  });
  return seen;
}

/** A direct (v5, resumed) connection with this client id: whether the broker still held a session. */
async function sessionPresent(t: TestContext, url: string, clientId: string): Promise<boolean> {
  let present = false;
  const c = await connectClient(t, url, { protocolVersion: 5, clientId, clean: false }, (client) =>
    client.once('connect', (ack) => {
      present = ack.sessionPresent;
    }),
  );
  await c.endAsync();
  return present;
}

describe('a clean session whose link to one broker resets (upstream link grace)', () => {
  it('clean 3.1.1 and v5 subscribers lose nothing published to that broker while their link was reset 4 times', async (t) => {
    const { brokerB, relay, url } = await stack(t);
    const subs = await Promise.all(
      [4, 5].map((v) =>
        connectClient(t, url, { protocolVersion: v as 4 | 5, clientId: `h7-clean-v${v}`, clean: true }),
      ),
    );
    const seen = subs.map(counter);
    for (const s of subs) await within(s.subscribeAsync(TOPIC, { qos: 1 }), 5000, 'SUBACK');
    // The publisher talks to broker B directly: its link is never reset.
    const pub = await connectClient(t, brokerB.url, { protocolVersion: 5, clientId: 'h7-direct-pub' });
    let sent = 0;
    let acked = 0;
    const resetsAt: number[] = [];
    const timer = setInterval(() => {
      const seq = sent++;
      pub.publish(TOPIC, String(seq), { qos: 1 }, (err) => {
        if (!err) acked += 1;
      });
    }, 10);
    try {
      for (let i = 0; i < 4; i += 1) {
        await sleep(700);
        resetsAt.push(sent);
        relay.reset();
      }
      await sleep(700);
    } finally {
      clearInterval(timer);
    }
    await waitFor(() => acked === sent, 5000, 'every publish acknowledged by broker B');
    await waitFor(() => seen.every((m) => m.size >= sent), 10_000, 'every publish delivered').catch(
      () => undefined,
    );
    const report = seen.map((m, i) => {
      let lost = 0;
      let duplicated = 0;
      // Which seqs, as [first, last] runs: a reset's window lost whole reads differently from scattered drops.
      const runs: Array<[number, number]> = [];
      for (let seq = 0; seq < sent; seq += 1) {
        if (m.has(seq)) continue;
        lost += 1;
        const last = runs.at(-1);
        if (last && last[1] === seq - 1) last[1] = seq;
        else runs.push([seq, seq]);
      }
      for (const n of m.values()) duplicated += n - 1;
      const ranges = runs.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`));
      return { version: i === 0 ? 4 : 5, sent, lost, duplicated, ranges, resetsAt };
    });
    t.diagnostic(JSON.stringify(report));
    // 350 at 10 ms over 3.5 s on a quiet machine; a loaded one fires the timer less often, which is fine.
    assert.ok(sent > 100, `${sent} sent`);
    for (const r of report) assert.equal(r.lost, 0, `v${r.version} subscriber lost: ${JSON.stringify(r)}`);
  });

  it('the upstream sessions end with the client: DISCONNECT, a dropped connection, a takeover [MQTT-3.14.2-2]', async (t) => {
    const { brokerA, brokerB, relay, url } = await stack(t);
    const directs = [brokerA.url, brokerB.url];
    const subscribed = async (clientId: string, version: 4 | 5) => {
      const c = await connectClient(t, url, { protocolVersion: version, clientId, clean: true });
      await within(c.subscribeAsync(TOPIC, { qos: 1 }), 5000, 'SUBACK');
      return c;
    };
    // A reset first, so the links ending below are resumed ones (connected with Clean Start 0).
    const graceful = await subscribed('h7-end-graceful', 5);
    const dropped = await subscribed('h7-end-dropped', 4);
    relay.reset();
    await sleep(1000);
    await graceful.endAsync();
    dropped.stream.destroy();
    const taken = await subscribed('h7-end-taken', 5);
    const taker = await subscribed('h7-end-taken', 4);
    await within(
      new Promise<void>((r) => (taken.connected ? taken.once('close', () => r()) : r())),
      5000,
      'the first connection closed by the takeover',
    );
    await taker.endAsync();
    await sleep(300);
    const left: string[] = [];
    for (const id of ['h7-end-graceful', 'h7-end-dropped', 'h7-end-taken'])
      for (const direct of directs) if (await sessionPresent(t, direct, id)) left.push(`${id} at ${direct}`);
    assert.deepEqual(left, [], 'upstream sessions left behind');
  });

  it('a resumed upstream session gets the subscriptions changed while its link was down, and only those', async (t) => {
    const { brokerB, relay, url, orchestrator } = await stack(t, { upstreamConnectTimeoutMs: 300 });
    const sub = await connectClient(t, url, { protocolVersion: 5, clientId: 'h7-restore', clean: true });
    const got: string[] = [];
    sub.on('message', (topic, payload) => got.push(`${topic}=${payload.toString()}`));
    await within(sub.subscribeAsync(['h7/old', 'h7/kept'], { qos: 1 }), 5000, 'SUBACK');
    // B unreachable (its connections reset, new ones hang) while the client changes its subscriptions.
    relay.setBlackhole(true);
    relay.reset();
    await within(sub.unsubscribeAsync('h7/old'), 5000, 'UNSUBACK');
    await within(sub.subscribeAsync('h7/new', { qos: 1 }), 5000, 'SUBACK');
    relay.reset();
    relay.setBlackhole(false);
    await waitFor(() => orchestrator.status().brokers[1]?.synced === true, 10_000, 'B synced again');
    const pub = await connectClient(t, brokerB.url, { protocolVersion: 5, clientId: 'h7-restore-pub' });
    for (const topic of ['h7/old', 'h7/kept', 'h7/new']) await pub.publishAsync(topic, 'x', { qos: 1 });
    await waitFor(() => got.length >= 2, 5000, 'the two subscribed topics delivered');
    await sleep(300);
    assert.deepEqual(got.sort(), ['h7/kept=x', 'h7/new=x']);
  });

  it('a QoS 2 delivery in flight when the link resets is not delivered twice when the resumed session re-sends it [MQTT-4.4.0-1]', async (t) => {
    const { brokerB, relay, orchestrator, url } = await stack(t);
    const port = Number(new URL(url).port);
    const sub = await connectTcp(t, port);
    await handshake(sub, 'h7-qos2', 4);
    await writePacket(sub, { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'h7/q2', qos: 2 }] });
    await expectPacket(sub, 'suback', 5000);
    const pub = await connectClient(t, brokerB.url, { protocolVersion: 5, clientId: 'h7-qos2-pub' });
    await pub.publishAsync('h7/q2', 'once', { qos: 2 });
    const first = await expectPacket(sub, 'publish', 5000);
    // Not acknowledged yet when B's link resets: B re-sends it (DUP 1) to the resumed session.
    relay.reset();
    await waitFor(() => orchestrator.status().brokers[1]?.synced === true, 10_000, 'B synced again');
    await new Promise((r) => setTimeout(r, 300));
    await writePacket(sub, { cmd: 'pubrec', messageId: first.messageId ?? 0 });
    await expectPacket(sub, 'pubrel', 5000);
    await writePacket(sub, { cmd: 'pubcomp', messageId: first.messageId ?? 0 });
    await new Promise((r) => setTimeout(r, 300));
    const copies = sub.received.filter((p) => p.cmd === 'publish').length;
    assert.equal(copies, 1, 'the QoS 2 message reached the client once');
  });
});
