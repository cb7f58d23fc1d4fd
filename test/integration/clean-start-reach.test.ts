// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { registryTopic } from '../../orchestrator/registry/reserved.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { startOrchestrator } from '../helpers/orchestrator.ts';
import { connectClient, waitFor, within } from '../helpers/resources.ts';

// Which brokers a clean start reaches (orchestrator/session/registry-steps.ts `brokersToReach`): a
// lazy session reaches only its home broker when no other broker holds a registry record of the
// client; a session recorded there (persistent) is ended on every broker [MQTT-3.1.2-6].

async function threeBrokers(t: TestContext): Promise<TestMosquitto[]> {
  return Promise.all([TestMosquitto.start(t), TestMosquitto.start(t), TestMosquitto.start(t)]);
}

/** A client straight at a broker, outside the orchestrator; `closed` once the broker ends it. */
async function direct(
  t: TestContext,
  url: string,
  options: mqtt.IClientOptions,
): Promise<{ client: MqttClient; closed: () => boolean; sessionPresent: boolean }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  t.after(() => client.end(true));
  let closed = false;
  client.on('close', () => {
    closed = true;
  });
  client.on('error', () => undefined);
  const ack = await within(
    new Promise<mqtt.IConnackPacket>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    }),
    5000,
    `a CONNACK from ${url}`,
  );
  return { client, closed: () => closed, sessionPresent: ack.sessionPresent };
}

/** The retained registry record of a client on one broker, read straight from it ('' for none). */
async function recordAt(t: TestContext, url: string, clientId: string): Promise<string> {
  const { client } = await direct(t, url, { clientId: `rec-reader-${Math.random().toString(16).slice(2)}` });
  let payload = '';
  client.on('message', (_topic, p) => {
    payload = p.toString();
  });
  await within(client.subscribeAsync(registryTopic(clientId), { qos: 0 }), 5000, 'a SUBACK');
  // The retained message came before the UNSUBACK.
  await within(client.unsubscribeAsync(registryTopic(clientId)), 5000, 'an UNSUBACK');
  await within(client.endAsync(), 5000, 'the reader closing');
  return payload;
}

describe('a clean start reaches the brokers that may hold a session of the client', () => {
  it('no record anywhere: only the home broker is reached (a session of the same id elsewhere is left alone)', async (t) => {
    const brokers = await threeBrokers(t);
    const { orchestrator, url } = await startOrchestrator(
      t,
      brokers.map((b) => b.url),
    );
    // Sentinels: a clean session of the client id straight at each broker, unknown to the registry.
    const sentinels = await Promise.all(brokers.map((b) => direct(t, b.url, { clientId: 'reach-1' })));
    const c = await connectClient(t, url, { clientId: 'reach-1' });
    await waitFor(() => sentinels.some((s) => s.closed()), 3000, 'the home broker took its sentinel over');
    await sleep(300);
    assert.equal(sentinels.filter((s) => s.closed()).length, 1, 'only the home broker saw the CONNECT');
    assert.equal(
      orchestrator.status().brokers.reduce((n, b) => n + b.sessions, 0),
      1,
      'one upstream link for the idle clean session',
    );
    // Two probes answered none: the two other brokers.
    const metrics = await orchestrator.metrics.registry.metrics();
    assert.match(metrics, /^brokel_orchestrator_registry_probes_total\{answer="none"\} 2$/m, metrics);
    assert.match(metrics, /^brokel_orchestrator_registry_probes_total\{answer="unknown"\} 0$/m, metrics);
    // Nothing to end, so no tombstone either (one is written only for a broker out of reach).
    for (const b of brokers) assert.equal(await recordAt(t, b.url, 'reach-1'), '', `a record on ${b.url}`);
    // It still works as a lazy session: a SUBSCRIBE opens the other links (and ends the sentinels).
    await c.subscribeAsync('reach/#', { qos: 1 });
    await waitFor(() => sentinels.every((s) => s.closed()), 3000, 'every sentinel taken over by the links');
  });

  for (const version of [4, 5] as const) {
    it(`MQTT ${version === 5 ? '5.0' : '3.1.1'}: a persistent session recorded on every broker is ended on every broker`, async (t) => {
      const brokers = await threeBrokers(t);
      const { orchestrator, url } = await startOrchestrator(
        t,
        brokers.map((b) => b.url),
      );
      const clientId = `reach-p${version}`;
      const persistent =
        version === 5
          ? {
              clientId,
              protocolVersion: 5 as const,
              clean: false,
              properties: { sessionExpiryInterval: 3600 },
            }
          : { clientId, protocolVersion: 4 as const, clean: false };
      const first = await connectClient(t, url, persistent);
      await first.subscribeAsync('ps/#', { qos: 1 });
      await within(first.endAsync(), 5000, 'the persistent client leaving');
      for (const b of brokers)
        await waitFor(async () => (await recordAt(t, b.url, clientId)) !== '', 3000, `a record on ${b.url}`);
      // The client starts clean: the probe finds the record, so every broker gets the clean start.
      const clean = await connectClient(t, url, { clientId, protocolVersion: version, clean: true });
      await within(clean.endAsync(), 5000, 'the clean client leaving');
      const metrics = await orchestrator.metrics.registry.metrics();
      // The two other brokers hold the record.
      assert.match(metrics, /^brokel_orchestrator_registry_probes_total\{answer="held"\} 2$/m, metrics);
      for (const b of brokers) {
        await waitFor(
          async () => (await recordAt(t, b.url, clientId)) === '',
          3000,
          `no record left on ${b.url}`,
        );
        // The broker's own session of the client is gone too: a resume finds nothing.
        const back = await direct(t, b.url, {
          clientId,
          protocolVersion: version,
          clean: false,
          ...(version === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}),
        });
        assert.equal(back.sessionPresent, false, `${b.url} still had the session`);
        await within(back.client.endAsync(), 5000, 'the resume check closing');
      }
    });
  }
});
