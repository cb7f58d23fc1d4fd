// test-timeout-ms: 60000
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { IPublishPacket } from 'mqtt-packet';
import { startRelayChild } from '../../bench/lib/node-relay-child.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { connectTcp, expectPacket, handshake, writePacket } from '../helpers/mqtt-wire.ts';
import { connectClient, waitFor } from '../helpers/resources.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** bench/lib/node-relay.ts in front of `broker`, through tsx (this checks what it does, not its cost). */
async function startRelay(
  t: TestContext,
  broker: TestMosquitto,
): Promise<{ url: string; port: number; pid: number }> {
  const relay = await startRelayChild(
    ['--import', 'tsx', 'bench/lib/node-relay.ts'],
    { host: '127.0.0.1', port: broker.port },
    { cwd: repoRoot, readyTimeoutMs: 15_000 },
  );
  t.after(() => relay.stop());
  return { url: `mqtt://127.0.0.1:${relay.port}`, port: relay.port, pid: relay.pid };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? Number.NaN) / 1024;
}

describe("bench:node-floor's relay (bench/lib/node-relay.ts) in front of a real Mosquitto", () => {
  it('pipes MQTT both ways, in order, and stops reading the broker while its client reads nothing', async (t) => {
    const broker = await TestMosquitto.start(t);
    const relay = await startRelay(t, broker);
    // The subscriber goes through the relay as a raw connection (test/helpers/mqtt-wire.ts): pausing its
    // socket really stops reading, where MQTT.js's piped stream would be resumed by its parser.
    const sub = await connectTcp(t, relay.port);
    await handshake(sub, 'relay-sub', 4);
    await writePacket(sub, { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'floor/#', qos: 0 }] });
    await expectPacket(sub, 'suback', 5000);
    // The publisher goes straight to Mosquitto, so the relay carries only what the subscriber gets.
    const pub = await connectClient(t, broker.url, { clientId: 'relay-pub' });
    // 8,000 messages of 8 KB (64 MB) while the subscriber reads nothing. Delivered at QoS 0, so
    // Mosquitto writes them out as fast as the relay reads. The kernel holds a few MB of them on each
    // socket; the relay must then stop reading the broker (Mosquitto keeps the rest), not hold them.
    sub.stream.pause();
    const before = rssMb(relay.pid);
    const body = Buffer.alloc(8192, 0x61);
    const sends: Array<Promise<unknown>> = [];
    for (let i = 0; i < 8000; i++) {
      const payload = Buffer.concat([Buffer.from(`${i}`.padStart(6, '0')), body.subarray(6)]);
      sends.push(pub.publishAsync(`floor/${i % 4}`, payload, { qos: 1 }));
    }
    await Promise.all(sends);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const grew = rssMb(relay.pid) - before;
    // Measured: +2.8 to +3.7 MB; with the relay's pause removed (it then holds them), +59 to +60 MB.
    assert.ok(grew < 24, `the relay's RSS grew ${grew.toFixed(1)} MB while its client read nothing`);
    sub.stream.resume();
    const publishes = () => sub.received.filter((p) => p.cmd === 'publish') as IPublishPacket[];
    await waitFor(() => publishes().length >= 8000, 30_000, '8,000 messages through the relay');
    assert.equal(sub.parseError, undefined);
    assert.deepEqual(
      publishes().map((p) => Number((p.payload as Buffer).subarray(0, 6).toString())),
      Array.from({ length: 8000 }, (_, i) => i),
    );
  });
});
