// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { publishSeq, startOrchestrator, subscriber } from '../helpers/orchestrator.ts';
import { connectClient, startProvider, waitFor, within } from '../helpers/resources.ts';

// A client that stops reading QoS 0 deliveries fills its socket's write buffer; the session then stops
// reading its broker links (outbound-delivery.ts, "client write buffer full") and reads them again on the
// client socket's 'drain' (FramedStream's shared listener calls Session.frameDrain). Without the drain
// the session would stay paused for good: nothing more would reach the client.

const PAYLOAD_BYTES = 4096;
const FLOOD = 5000; // 20 MB: well past the socket buffers on both sides of the client's connection

describe('orchestrator: a client that stops reading and reads again', () => {
  it('gets deliveries again once its socket drains (QoS 0 flood while paused, then a QoS 1 marker)', async (t) => {
    const provider = await startProvider(t);
    const created = await provider.create('broker', 'mosquitto');
    const broker = await provider.waitReady(created.id, 10_000);
    const { url } = await startOrchestrator(t, [broker.url]);
    const sub = await subscriber(t, url, 'drain/#', 1, { clientId: 'drain-sub' });
    const seen: string[] = [];
    sub.client.on('message', (topic) => {
      if (topic === 'drain/end') seen.push(topic);
    });
    const pub = await connectClient(t, url, { clientId: 'drain-pub' });
    sub.client.stream.pause();
    const payload = Buffer.alloc(PAYLOAD_BYTES, 0x61);
    let sent = 0;
    await within(
      (async () => {
        // MQTT.js resolves a QoS 0 publish once it is written: batches of 100 keep its buffer bounded.
        while (sent < FLOOD) {
          const batch: Promise<unknown>[] = [];
          for (let i = 0; i < 100; i++) batch.push(pub.publishAsync('drain/flood', payload, { qos: 0 }));
          await Promise.all(batch);
          sent += batch.length;
        }
      })(),
      30_000,
      'the QoS 0 flood written',
    );
    await new Promise((r) => setTimeout(r, 500));
    sub.client.stream.resume();
    await publishSeq(pub, 'end', ['drain/end'], 1, 1);
    await waitFor(() => seen.length > 0, 20_000, 'the QoS 1 marker published after the client read again');
    assert.equal(seen.length, 1, 'the marker arrived once');
    t.diagnostic(`flood ${sent} × ${PAYLOAD_BYTES} B; flood deliveries counted ${sub.counts.total}`);
  });
});
