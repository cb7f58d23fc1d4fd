// test-lanes: shared
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { startOrchestrator } from '../helpers/orchestrator.ts';
import { connectClient, waitFor } from '../helpers/resources.ts';

// Mosquitto 2.0.11 sends a new subscription's retained messages to an MQTT 5 client past its in-flight
// window (max_inflight_messages 100, as the template): more than the orchestrator buffers (1,000). It
// paused its broker links then, so the PUBRELs of the QoS 2 deliveries filling the client's window were
// never read: 0 of 666 QoS 2 and 100 of 667 QoS 1 arrived, for good (retained-moves.test.ts, 777/2000).
it('a new subscription gets 2,000 retained messages at QoS 0, 1 and 2 when its broker sends them past its window', async (t) => {
  const broker = await TestMosquitto.start(t, ['max_inflight_messages 100']);
  const pub = await connectClient(t, broker.url, { protocolVersion: 5 });
  const n = 2000;
  for (let i = 0; i < n; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, k) =>
        pub.publishAsync(`big/${i + k}`, `v${i + k}`, { qos: ((i + k) % 3) as 0 | 1 | 2, retain: true }),
      ),
    );
  }
  const { url } = await startOrchestrator(t, [broker.url]);
  const byQos = [0, 0, 0];
  let total = 0;
  const sub = await connectClient(t, url, {}, (c) =>
    c.on('message', (_topic, _payload, packet) => {
      if (!packet.retain) return;
      byQos[packet.qos] = (byQos[packet.qos] ?? 0) + 1;
      total += 1;
    }),
  );
  await sub.subscribeAsync('big/#', { qos: 2 });
  await waitFor(() => total >= n, 8000, `${n} retained messages`).catch(() => undefined);
  assert.deepEqual(byQos, [667, 667, 666], 'retained messages received, by QoS');
});
