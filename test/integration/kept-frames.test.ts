// test-lanes: shared
// QoS 1 frames are read into the process's slabs (orchestrator/protocol/kept-frames.ts); one that stays
// (a publish its broker does not acknowledge, a delivery waiting for its client's window) moves to a
// copy of its own on its session's tick, end to end through real Mosquittos: the ticking, not only
// the unit-tested moves, is what bounds the memory a stuck frame keeps.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IPublishPacket } from 'mqtt-packet';
import type { Orchestrator } from '../../orchestrator/orchestrator.ts';
import { STAYING_FRAME_MS } from '../../orchestrator/protocol/kept-frames.ts';
import type { RawPublish } from '../../orchestrator/protocol/raw-frame.ts';
import type { Session } from '../../orchestrator/session/session.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { connectTcp, handshake, writePacket } from '../helpers/mqtt-wire.ts';
import { startOrchestrator } from '../helpers/orchestrator.ts';
import { connectClient, waitFor } from '../helpers/resources.ts';

/** The connected session of `clientId` (private state, read for this test only). */
function sessionOf(o: Orchestrator, clientId: string): Session {
  const sessions = (o as unknown as { sessions: Set<Session> }).sessions;
  const s = [...sessions].find((x) => x.clientId === clientId && x.state === 'connected');
  assert.ok(s, `session ${clientId}`);
  return s;
}

const rawOf = (p: IPublishPacket): RawPublish | undefined => (p as { raw?: RawPublish }).raw;

/** Fills and seals the publishes' and the deliveries' current slabs: 100 QoS 1 publishes of 1 KB. */
async function churn(url: string, t: Parameters<typeof connectClient>[0]): Promise<void> {
  const sub = await connectClient(t, url);
  await sub.subscribeAsync('churn/#', { qos: 1 });
  const pub = await connectClient(t, url);
  const payload = Buffer.alloc(1000, 1);
  await Promise.all(Array.from({ length: 100 }, () => pub.publishAsync('churn/1', payload, { qos: 1 })));
}

describe('kept frames leave their slabs on the session tick', () => {
  it('deliveries waiting for a client that does not acknowledge', async (t) => {
    const broker = await TestMosquitto.start(t);
    const { orchestrator, url, port } = await startOrchestrator(t, [broker.url]);
    // A v5 client with Receive Maximum 1 that never sends PUBACK: one delivery out, the rest wait.
    const stuck = await connectTcp(t, port, { version: 5 });
    await handshake(stuck, 'stuck-sub', 5, { properties: { receiveMaximum: 1 } });
    await writePacket(stuck, {
      cmd: 'subscribe',
      messageId: 1,
      subscriptions: [{ topic: 'stuck/#', qos: 1 }],
    });
    await waitFor(() => stuck.received.some((p) => p.cmd === 'suback'), 5000, 'SUBACK');
    const pub = await connectClient(t, url);
    for (let i = 0; i < 20; i++) await pub.publishAsync('stuck/1', `m${i}`, { qos: 1 });
    const outbound = sessionOf(orchestrator, 'stuck-sub').outbound;
    const waiting = () =>
      (outbound as unknown as { waiting: Array<{ packet: IPublishPacket }> }).waiting.map((w) => w.packet);
    await waitFor(() => waiting().length === 19, 5000, '19 deliveries waiting');
    assert.ok(
      waiting().every((p) => rawOf(p)?.slab !== undefined),
      'read into a slab',
    );
    await churn(url, t);
    // Sealed by the churn; moved on the first tick more than STAYING_FRAME_MS after.
    await waitFor(
      () => waiting().every((p) => rawOf(p) !== undefined && rawOf(p)?.slab === undefined),
      STAYING_FRAME_MS + 3000,
      'waiting deliveries in copies of their own',
    );
    const frames = waiting().map((p) => rawOf(p)?.frame as Buffer);
    assert.ok(frames.every((f) => f.byteOffset === 0 && f.buffer.byteLength === f.length));
    assert.deepEqual(
      waiting().map((p) => p.payload.toString()),
      Array.from({ length: 19 }, (_, i) => `m${i + 1}`),
    );
  });

  it('publishes in flight at a broker that is stopped', async (t) => {
    const broker = await TestMosquitto.start(t);
    const { orchestrator, url } = await startOrchestrator(t, [broker.url]);
    const pub = await connectClient(t, url, { clientId: 'stuck-pub' });
    const other = await connectClient(t, url, { clientId: 'churn-pub' });
    await pub.publishAsync('warm/1', 'x', { qos: 1 }); // its link is open and answers
    await other.publishAsync('warm/1', 'x', { qos: 1 });
    const stopped = broker.child;
    stopped?.kill('SIGSTOP');
    try {
      // The broker acknowledges nothing now: they stay in flight.
      for (let i = 0; i < 10; i++) pub.publish('stuck/1', `p${i}`, { qos: 1 });
      const inflight = () =>
        [
          ...(
            sessionOf(orchestrator, 'stuck-pub').inbound as unknown as {
              inflight: Map<number, { packet: IPublishPacket }>;
            }
          ).inflight.values(),
        ].map((e) => e.packet);
      await waitFor(() => inflight().length === 10, 5000, 'ten in flight at the stopped broker');
      assert.ok(
        inflight().every((p) => rawOf(p)?.slab !== undefined),
        'read into a slab',
      );
      // Another client's 100 KB of QoS 1 publishes are read (in flight too, under its window of 100)
      // and seal the slab the ten are in.
      const payload = Buffer.alloc(1000, 1);
      for (let i = 0; i < 100; i++) other.publish('churn/1', payload, { qos: 1 });
      await waitFor(
        () => inflight().every((p) => rawOf(p) !== undefined && rawOf(p)?.slab === undefined),
        STAYING_FRAME_MS + 4000,
        'in-flight publishes in copies of their own',
      );
      assert.deepEqual(
        inflight().map((p) => p.payload.toString()),
        Array.from({ length: 10 }, (_, i) => `p${i}`),
      );
    } finally {
      stopped?.kill('SIGCONT'); // a stopped broker would not end at teardown
    }
  });
});
