// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import {
  connectTcp,
  expectPacket,
  handshake,
  mqttString,
  rawPacket,
  varint,
  waitClosed,
  writePacket,
  writeRaw,
} from '../helpers/mqtt-wire.ts';
import { startOrchestrator, subscriber } from '../helpers/orchestrator.ts';
import { startProvider } from '../helpers/resources.ts';

async function oneMosquitto(t: TestContext) {
  const provider = await startProvider(t);
  const ready = await provider.waitReady((await provider.create('broker', 'mosquitto')).id, 10_000);
  return startOrchestrator(t, [ready.url]);
}

describe('MQTT 5 rules for what a client sends', () => {
  it('a client PUBLISH with a Subscription Identifier is refused: DISCONNECT 0x82, closed, not delivered [MQTT-3.3.4-6]', async (t) => {
    const { port, url } = await oneMosquitto(t);
    const watcher = await subscriber(t, url, 'si/#', 0, { protocolVersion: 5 });
    const conn = await connectTcp(t, port, { version: 5 });
    assert.equal((await handshake(conn, 'si-client', 5)).reasonCode, 0);
    // PUBLISH QoS 0 'si/t', properties: Subscription Identifier (0x0B) = 5, payload 'x': raw bytes.
    const properties = Buffer.from([0x0b, 0x05]);
    await writeRaw(
      conn,
      rawPacket(
        0x30,
        Buffer.concat([mqttString('si/t'), varint(properties.length), properties, Buffer.from('x')]),
      ),
    );
    const disconnect = await expectPacket(conn, 'disconnect', 5000);
    assert.equal(disconnect.reasonCode, 0x82);
    await waitClosed(conn, 5000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(watcher.counts.total, 0);
  });

  it('a Session Expiry Interval in DISCONNECT after CONNECT said 0 is a protocol error: DISCONNECT 0x82 [MQTT-3.14.2-2]', async (t) => {
    const { port } = await oneMosquitto(t);
    const conn = await connectTcp(t, port, { version: 5 });
    assert.equal((await handshake(conn, 'sei-client', 5)).reasonCode, 0);
    await writePacket(conn, { cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 30 } });
    assert.equal((await expectPacket(conn, 'disconnect', 5000)).reasonCode, 0x82);
    await waitClosed(conn, 5000);
  });
});
