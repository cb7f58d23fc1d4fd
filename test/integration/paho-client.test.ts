// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { startOrchestrator, subscriber } from '../helpers/orchestrator.ts';
import { runPaho } from '../helpers/paho.ts';
import { startProvider, waitFor } from '../helpers/resources.ts';

/** An orchestrator over three Mosquittos. */
async function orchestratorOver3(t: TestContext): Promise<{ port: number; url: string }> {
  const provider = await startProvider(t);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await provider.create('broker', 'mosquitto')).id);
  const urls = (await Promise.all(ids.map((id) => provider.waitReady(id, 10_000)))).map((r) => r.url);
  return startOrchestrator(t, urls);
}

const v5 = (clientId: string, extra: Record<string, unknown> = {}) => ({
  op: 'connect',
  clientId,
  version: 5,
  ...extra,
});

describe('a second client implementation: python3-paho-mqtt 1.6 through the orchestrator', () => {
  it('MQTT 5 session expiry (issue 10 defect 4): expiry 0 leaves no session; clean start 1 + expiry 5, 2 s later clean start 0: session present, QoS 2 subscription kept', async (t) => {
    const { port } = await orchestratorOver3(t);
    const paho = runPaho(t, port, [
      v5('paho-se', { cleanStart: true, sessionExpiry: 0 }),
      { op: 'subscribe', topic: 'se/#', qos: 1 },
      { op: 'disconnect' },
      v5('paho-se', { cleanStart: false }),
      { op: 'disconnect' },
      v5('paho-se', { cleanStart: true, sessionExpiry: 5 }),
      { op: 'subscribe', topic: 'se/#', qos: 2 },
      { op: 'disconnect' },
      { op: 'sleep', ms: 2000 },
      v5('paho-se', { cleanStart: false, sessionExpiry: 5 }),
      { op: 'publish', topic: 'se/x', payload: 'still subscribed', qos: 2 },
      { op: 'expect', count: 1, timeoutMs: 10_000 },
      { op: 'disconnect' },
    ]);
    const r = await paho.done;
    assert.equal(r[3]?.sessionPresent, false, 'expiry 0: the session ended with the connection');
    assert.equal(r[9]?.sessionPresent, true, 'expiry 5: the session is there 2 s later');
    assert.deepEqual(
      r[11]?.messages?.map((m) => [m.payload, m.qos]),
      [['still subscribed', 2]],
    );
  });

  it('a Session Expiry Interval in DISCONNECT replaces the CONNECT’s, both ways [MQTT 5 §3.14.2.2.2]', async (t) => {
    const { port } = await orchestratorOver3(t);
    const paho = runPaho(t, port, [
      v5('paho-dx', { cleanStart: true, sessionExpiry: 60 }),
      { op: 'subscribe', topic: 'dx/#', qos: 1 },
      { op: 'disconnect', sessionExpiry: 0 },
      v5('paho-dx', { cleanStart: false, sessionExpiry: 1 }),
      { op: 'subscribe', topic: 'dx/#', qos: 1 },
      { op: 'disconnect', sessionExpiry: 30 },
      { op: 'sleep', ms: 2000 },
      v5('paho-dx', { cleanStart: false, sessionExpiry: 0 }),
      { op: 'disconnect' },
    ]);
    const r = await paho.done;
    assert.equal(r[3]?.sessionPresent, false, 'DISCONNECT said 0: the 60 s session ended');
    assert.equal(r[7]?.sessionPresent, true, 'DISCONNECT said 30: the 1 s session outlived 2 s');
  });

  it('DISCONNECT with reason 0x04 publishes the will, once; a plain DISCONNECT does not', async (t) => {
    const { port, url } = await orchestratorOver3(t);
    const watcher = await subscriber(t, url, 'will/#', 1);
    const wills: string[] = [];
    watcher.client.on('message', (_topic, payload) => wills.push(payload.toString()));
    const will = (payload: string) => ({ topic: 'will/paho', payload, qos: 1 });
    await runPaho(t, port, [
      v5('paho-w1', { will: will('plain') }),
      { op: 'disconnect' },
      v5('paho-w2', { will: will('with-will') }),
      { op: 'disconnect', reasonCode: 4 },
    ]).done;
    // The will goes client → orchestrator → home broker → watcher: waited for, not a fixed sleep (a
    // loaded CI machine can take over a second); then a second more for a copy that should not come.
    await waitFor(() => wills.length >= 1, 10_000, 'the will at the watcher');
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(wills, ['with-will']);
  });

  for (const version of [5, 4] as const) {
    it(`MQTT ${version === 5 ? '5' : '3.1.1'} basics: subscribe, publish QoS 0/1/2, a persistent session's queued message and session present, the will`, async (t) => {
      const { port } = await orchestratorOver3(t);
      const persistent = version === 5 ? { cleanStart: false, sessionExpiry: 60 } : { clean: false };
      const connect = (clientId: string, extra: Record<string, unknown> = {}) => ({
        op: 'connect',
        clientId,
        version,
        ...extra,
      });
      const sub = runPaho(t, port, [
        connect(
          `paho-sub${version}`,
          version === 5 ? { cleanStart: true, sessionExpiry: 0 } : { clean: true },
        ),
        { op: 'disconnect' },
        connect(`paho-sub${version}`, persistent),
        { op: 'subscribe', topic: 'pb/#', qos: 2 },
        { op: 'expect', count: 4, timeoutMs: 10_000 },
        { op: 'disconnect' },
        { op: 'sleep', ms: 1500 },
        connect(`paho-sub${version}`, persistent),
        { op: 'expect', count: 1, timeoutMs: 10_000 },
        { op: 'disconnect' },
      ]);
      sub.done.catch(() => undefined); // its failure is reported by `await sub.done` below
      assert.equal((await sub.step(2)).sessionPresent, false);
      await sub.step(3);
      const pub = runPaho(t, port, [
        connect(`paho-pub${version}`, { will: { topic: 'pb/will', payload: 'gone', qos: 1 } }),
        ...[0, 1, 2].map((qos) => ({ op: 'publish', topic: `pb/q${qos}`, payload: `m${qos}`, qos })),
        { op: 'drop' },
      ]);
      pub.done.catch(() => undefined); // awaited below
      const first = await sub.step(4);
      assert.deepEqual(first.messages?.map((m) => `${m.topic}:${m.payload}:${m.qos}`).sort(), [
        'pb/q0:m0:0',
        'pb/q1:m1:1',
        'pb/q2:m2:2',
        'pb/will:gone:1',
      ]);
      await pub.done;
      await sub.step(6); // away: a QoS 1 message waits in its session
      await runPaho(t, port, [
        connect(`paho-pub2${version}`),
        { op: 'publish', topic: 'pb/away', payload: 'queued', qos: 1 },
        { op: 'disconnect' },
      ]).done;
      const r = await sub.done;
      assert.equal(r[7]?.sessionPresent, true);
      assert.deepEqual(
        r[8]?.messages?.map((m) => m.payload),
        ['queued'],
      );
    });
  }
});
