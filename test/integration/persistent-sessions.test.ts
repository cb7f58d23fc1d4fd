// test-lanes: shared
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Orchestrator } from '../../orchestrator/orchestrator.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { connectTcp, expectPacket, handshake, writePacket } from '../helpers/mqtt-wire.ts';
import { publishSeq, settle, startOrchestrator, type Tally, tally } from '../helpers/orchestrator.ts';
import { connectClient, waitFor } from '../helpers/resources.ts';

const run = promisify(execFile);

/** The two kinds of persistent session: 3.1.1 clean session 0, and 5.0 with a Session Expiry Interval. */
const PERSISTENT: Array<{ name: string; options: IClientOptions }> = [
  { name: 'v4', options: { protocolVersion: 4, clean: false } },
  { name: 'v5', options: { protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 300 } } },
];

/** Each persistent client subscribes to `ps/#` at QoS 1 through `url`, then leaves (DISCONNECT). */
async function subscribeAndLeave(t: TestContext, url: string, prefix: string): Promise<void> {
  for (const p of PERSISTENT) {
    // A v5 client starts its session with Clean Start 1 (and an expiry); 3.1.1 with clean session 0.
    const clean = p.options.protocolVersion === 5;
    const c = await connectClient(t, url, { ...p.options, clean, clientId: `${prefix}-${p.name}` });
    await c.subscribeAsync('ps/#', { qos: 1 });
    await c.endAsync();
  }
}

/** Each persistent client comes back through `url`; returns their tallies (attached before CONNACK). */
async function comeBack(t: TestContext, url: string, prefix: string) {
  const out: Array<{ name: string; client: MqttClient; counts: Tally; sessionPresent: boolean }> = [];
  for (const p of PERSISTENT) {
    let counts: Tally | undefined;
    let sessionPresent = false;
    const client = await connectClient(t, url, { ...p.options, clientId: `${prefix}-${p.name}` }, (c) => {
      counts = tally(c);
      c.once('connect', (ack) => {
        sessionPresent = ack.sessionPresent;
      });
    });
    out.push({ name: p.name, client, counts: counts as Tally, sessionPresent });
  }
  return out;
}

/** B joins Y's pool (joining, synced, then active), as the manager does it. */
async function join(y: Orchestrator, a: TestMosquitto, b: TestMosquitto): Promise<void> {
  y.setBrokers([
    { url: a.url, state: 'active' },
    { url: b.url, state: 'joining' },
  ]);
  await waitFor(() => y.status().brokers.find((s) => s.url === b.url)?.synced === true, 10_000, 'B synced');
  y.setBrokers([
    { url: a.url, state: 'active' },
    { url: b.url, state: 'active' },
  ]);
}

/** 40 QoS 1 messages through Y, round-robin over A and B; some must have gone to B. */
async function publishThrough(
  t: TestContext,
  y: { orchestrator: Orchestrator; url: string },
  b: TestMosquitto,
) {
  const pub = await connectClient(t, y.url);
  await publishSeq(pub, 'p', ['ps/1', 'ps/2'], 40, 1, 10);
  const toB = y.orchestrator.status().brokers.find((s) => s.url === b.url)?.published ?? 0;
  assert.ok(toB >= 10, `messages were routed to the new broker (${toB})`);
}

async function assertAllReceived(clients: Awaited<ReturnType<typeof comeBack>>): Promise<void> {
  await settle(
    clients.map((c) => c.counts),
    40,
    1500,
  );
  for (const c of clients) assert.equal(c.counts.distinct, 40, `${c.name} persistent client received all 40`);
}

describe('persistent sessions and a joining broker (issue #10, defect 5)', () => {
  it('subscriptions made through orchestrator X reach a broker that joins through orchestrator Y while the client is away', async (t) => {
    const [a, b] = await Promise.all([TestMosquitto.start(t), TestMosquitto.start(t)]);
    if (!a || !b) throw new Error('brokers');
    const x = await startOrchestrator(t, [a.url]);
    const y = await startOrchestrator(t, [a.url]);
    await subscribeAndLeave(t, x.url, 'via-x');
    await join(y.orchestrator, a, b);
    await publishThrough(t, y, b);
    await assertAllReceived(await comeBack(t, y.url, 'via-x'));
  });

  it('subscriptions made before orchestrator Y restarted reach a broker that joins after the restart', async (t) => {
    const [a, b] = await Promise.all([TestMosquitto.start(t), TestMosquitto.start(t)]);
    if (!a || !b) throw new Error('brokers');
    const before = await startOrchestrator(t, [a.url]);
    await subscribeAndLeave(t, before.url, 'restart');
    await before.orchestrator.close();
    const after = await startOrchestrator(t, [a.url]);
    await join(after.orchestrator, a, b);
    await publishThrough(t, after, b);
    await assertAllReceived(await comeBack(t, after.url, 'restart'));
  });

  it('a client resuming its session through a replica whose pool has a broker that never had it: subscriptions replayed there, session present 1', async (t) => {
    const [a, b] = await Promise.all([TestMosquitto.start(t), TestMosquitto.start(t)]);
    if (!a || !b) throw new Error('brokers');
    const x = await startOrchestrator(t, [a.url]);
    await subscribeAndLeave(t, x.url, 'resume');
    // Y starts with B already in its pool: no join replay; the session present 0 from B is the cue.
    const y = await startOrchestrator(t, [a.url, b.url]);
    const clients = await comeBack(t, y.url, 'resume');
    for (const c of clients) assert.equal(c.sessionPresent, true, `${c.name}: the session is present`);
    await waitFor(() => y.orchestrator.status().brokers.every((s) => s.synced), 5000, 'B synced');
    await publishThrough(t, y, b);
    await assertAllReceived(clients);
  });

  it('a QoS 2 delivery released (PUBREL) but not completed when the client left is released again under the id it knows, through another orchestrator [MQTT-4.4.0-1]', async (t) => {
    const a = await TestMosquitto.start(t);
    const x = await startOrchestrator(t, [a.url]);
    const y = await startOrchestrator(t, [a.url]);
    const first = await connectTcp(t, x.port);
    await handshake(first, 'rel-q2', 4, { clean: false });
    await writePacket(first, { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q2/#', qos: 2 }] });
    await expectPacket(first, 'suback', 5000);
    const pub = await connectClient(t, x.url);
    await pub.publishAsync('q2/1', 'once', { qos: 2 });
    const delivery = await expectPacket(first, 'publish', 5000);
    await writePacket(first, { cmd: 'pubrec', messageId: delivery.messageId ?? 0 });
    assert.equal((await expectPacket(first, 'pubrel', 5000)).messageId, delivery.messageId);
    // The client leaves before its PUBCOMP: the broker still waits for it, and will send PUBREL again.
    await writePacket(first, { cmd: 'disconnect' });
    first.stream.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const again = await connectTcp(t, y.port);
    const connack = await handshake(again, 'rel-q2', 4, { clean: false });
    assert.equal(connack.sessionPresent, true);
    const pubrel = await expectPacket(again, 'pubrel', 3000);
    assert.equal(pubrel.messageId, delivery.messageId, 'PUBREL under the packet id of the delivery');
  });

  it('the reserved prefix $brokel/ is refused to clients: v5 PUBACK 0x90 and SUBACK 0x87, 3.1.1 SUBACK 0x80; the record stays', async (t) => {
    const a = await TestMosquitto.start(t);
    const x = await startOrchestrator(t, [a.url]);
    await subscribeAndLeave(t, x.url, 'reserved');
    const record = async () =>
      (
        await run('mosquitto_sub', [
          '-p',
          String(a.port),
          '-t',
          '$brokel/sessions/reserved-v4',
          '-C',
          '1',
          '-W',
          '2',
        ])
      ).stdout;
    const stored = await record();
    assert.match(stored, /"subscriptions":\[\{"topic":"ps\/#","qos":1\}\]/);
    const v5 = await connectClient(t, x.url, { protocolVersion: 5 });
    await assert.rejects(
      v5.publishAsync('$brokel/sessions/reserved-v4', 'forged', { qos: 1, retain: true }),
      (err: { code?: number }) => err.code === 0x90,
    );
    // MQTT.js rejects a SUBSCRIBE with any refused filter, carrying the SUBACK.
    const suback = await v5
      .subscribeAsync(['$brokel/#', '$share/g/$brokel/sessions/+', 'ok/#'], { qos: 1 })
      .then(
        () => undefined,
        (err: { packet?: { granted?: unknown } }) => err.packet,
      );
    assert.deepEqual(suback?.granted, [0x87, 0x87, 1]);
    const v4 = await connectClient(t, x.url, { protocolVersion: 4 });
    await v4.publishAsync('$brokel/sessions/reserved-v4', 'forged', { qos: 2, retain: true }); // acknowledged, dropped
    await v4.publishAsync('$brokel/sessions/reserved-v4', '', { qos: 0, retain: true });
    const suback4 = await v4.subscribeAsync('$brokel/sessions/+', { qos: 1 }).then(
      () => undefined,
      (err: { packet?: { granted?: unknown } }) => err.packet,
    );
    assert.deepEqual(suback4?.granted, [0x80]);
    assert.equal(await record(), stored, 'the record is untouched');
  });
});
