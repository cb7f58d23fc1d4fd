// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import mqtt from 'mqtt';
import { followRedirects } from '../../workload/taxi-rome/follow-redirects.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { connectClient, waitFor, within } from '../helpers/resources.ts';

/**
 * A clean-session client that follows the DNS name (followRedirects with a re-resolver, as every
 * `taxi --dns` client and the chaos run's subscribers are) must get its subscriptions back after its
 * connection drops: MQTT.js only remembers subscriptions for re-subscribing while reconnectPeriod > 0,
 * and followRedirects used to set it to 0 to take reconnecting over; a clean subscriber then came back
 * subscribed to nothing and silently received nothing more (found by `npm run chaos`).
 */
describe('followRedirects and a clean session', () => {
  for (const protocolVersion of [4, 5] as const) {
    it(`re-subscribes a clean v${protocolVersion} client after its connection drops`, async (t) => {
      const broker = await TestMosquitto.start(t);
      const client = mqtt.connect(broker.url, {
        clean: true,
        protocolVersion,
        reconnectPeriod: 200,
        clientId: `follow-${protocolVersion}-${process.pid}`,
      });
      t.after(() => client.end(true));
      client.on('error', () => undefined);
      let resolved = 0;
      followRedirects(client, async () => {
        resolved += 1;
        return '127.0.0.1';
      });
      await within(new Promise((r) => client.once('connect', r)), 10_000, 'first CONNACK');
      await client.subscribeAsync('follow/t', { qos: 1 });
      const got: string[] = [];
      client.on('message', (_topic, payload) => got.push(payload.toString()));
      const publisher = await connectClient(t, broker.url);
      await publisher.publishAsync('follow/t', 'before', { qos: 1 });
      await waitFor(() => got.includes('before'), 5000, 'the message before the drop');
      // The connection drops (as when an orchestrator dies); the client re-resolves and reconnects.
      const reconnected = new Promise((r) => client.once('connect', r));
      client.stream.destroy();
      await within(reconnected, 10_000, 'the reconnection');
      assert.ok(resolved >= 1, 'it looked the name up again');
      // Give a re-SUBSCRIBE time to be answered, then publish: the subscription must be back.
      await waitFor(
        async () => {
          await publisher.publishAsync('follow/t', 'after', { qos: 1 });
          return got.includes('after');
        },
        5000,
        'a message after the reconnection (the subscription came back)',
      );
    });
  }
});
