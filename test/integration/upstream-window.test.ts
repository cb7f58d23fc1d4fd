import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startOrchestrator } from '../helpers/orchestrator.ts';
import { connectClient, startProvider, waitFor, within } from '../helpers/resources.ts';

// The Mosquitto template's max_inflight_messages is the Receive Maximum it announces to the
// orchestrator's (MQTT 5) upstream links, which keep to it per session: at Mosquitto's default of 20
// it capped a QoS 1 publisher's pipelining (docs/data-plane.md). The template now says 100, the
// orchestrator's own window per client (maxInflightFromClient).

describe('orchestrator: the upstream window towards a template Mosquitto', () => {
  it('lets one session have up to 100 QoS 1 publishes unacknowledged at the broker, and no more', async (t) => {
    const provider = await startProvider(t);
    const broker = await provider.waitReady((await provider.create('broker', 'mosquitto')).id, 10_000);
    const pid = provider.details(broker.id)?.pid;
    assert.ok(pid, 'the broker process');
    const { orchestrator, url } = await startOrchestrator(t, [broker.url], {
      limits: { maxInflightFromClient: 200 },
    });
    const pub = await connectClient(t, url, { clientId: 'window-pub', protocolVersion: 5 });
    // Stopped, the broker acknowledges nothing: what the orchestrator sends it stays in flight.
    process.kill(pid, 'SIGSTOP');
    let acked = 0;
    const done = Array.from({ length: 150 }, (_, i) =>
      pub.publishAsync('window/t', `m${i}`, { qos: 1 }).then(() => {
        acked += 1;
      }),
    );
    try {
      const inflight = () => orchestrator.status().brokers[0]?.inflight ?? 0;
      await waitFor(() => inflight() >= 20, 5000, 'publishes in flight at the broker');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(inflight(), 100, 'the broker’s Receive Maximum bounds the session’s window');
      assert.equal(acked, 0);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await within(Promise.all(done), 10_000, 'every PUBACK once the broker runs again');
    assert.equal(acked, 150);
  });
});
