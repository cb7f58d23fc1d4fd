import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import mqtt from 'mqtt';
import type { Orchestrator } from '../../orchestrator/orchestrator.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { startOrchestrator } from '../helpers/orchestrator.ts';
import { connectClient, waitFor, within } from '../helpers/resources.ts';

/**
 * limits.maxPendingConnections: sockets that have not sent CONNECT are bounded, not by the fd limit
 * only. Beyond the bound a new socket is closed at once; a real client gets in again as soon as the
 * silent ones time out (connectTimeoutMs) or close.
 */
const MAX = 20;
const CONNECT_TIMEOUT_MS = 3_000;

interface Silent {
  socket: Socket;
  closedAt: number | undefined;
}

/** `n` raw TCP connections that never send a byte, destroyed at teardown. */
async function silentSockets(t: TestContext, port: number, n: number): Promise<Silent[]> {
  const all: Silent[] = [];
  for (let i = 0; i < n; i++) {
    const s: Silent = { socket: netConnect({ host: '127.0.0.1', port }), closedAt: undefined };
    s.socket.on('error', () => {});
    s.socket.on('close', () => {
      s.closedAt = performance.now();
    });
    t.after(() => s.socket.destroy());
    all.push(s);
  }
  // In order, so the listener accepts them in order.
  await within(
    Promise.all(all.map((s) => new Promise((r) => s.socket.once('connect', r).once('close', r)))),
    5_000,
    'the silent sockets to connect',
  );
  return all;
}

async function metric(orchestrator: Orchestrator, name: string): Promise<number> {
  const text = await orchestrator.metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? Number.NaN);
}

/** An MQTT.js client's attempt that must end without a CONNACK (its socket closed by the orchestrator). */
async function refused(url: string): Promise<void> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5_000 });
  try {
    const outcome = await within(
      new Promise<string>((resolve) => {
        client.once('connect', () => resolve('connected'));
        client.once('close', () => resolve('closed'));
      }),
      5_000,
      'the refused client',
    );
    assert.equal(outcome, 'closed', 'a client over the bound is closed before a CONNACK');
  } finally {
    client.end(true);
  }
}

describe('limits.maxPendingConnections', () => {
  it('sockets over the bound close at once; a real client connects once the silent ones time out or close', async (t) => {
    const broker = await TestMosquitto.start(t);
    const { orchestrator, url, port } = await startOrchestrator(t, [broker.url], {
      limits: { maxPendingConnections: MAX, connectTimeoutMs: CONNECT_TIMEOUT_MS },
    });
    const opened = performance.now();
    const first = await silentSockets(t, port, MAX + 5);
    // The 5 over the bound are closed at once (long before connectTimeoutMs); the 20 stay.
    await waitFor(() => first.filter((s) => s.closedAt !== undefined).length >= 5, 2_000, '5 closed at once');
    const early = first.filter(
      (s) => s.closedAt !== undefined && s.closedAt - opened < CONNECT_TIMEOUT_MS - 500,
    );
    assert.equal(early.length, 5, 'exactly the sockets over the bound closed early');
    assert.equal(await metric(orchestrator, 'brokel_orchestrator_pending_connections'), MAX);
    assert.equal(await metric(orchestrator, 'brokel_orchestrator_pending_connections_refused_total'), 5);
    await refused(url);
    // [MQTT-3.1.0-1]: the silent ones are closed after connectTimeoutMs; then a real client gets in.
    await waitFor(() => first.every((s) => s.closedAt !== undefined), CONNECT_TIMEOUT_MS + 3_000, 'timeouts');
    await waitFor(
      async () => (await metric(orchestrator, 'brokel_orchestrator_pending_connections')) === 0,
      2_000,
      'no pending connection left',
    );
    const client = await connectClient(t, url, { clientId: 'after-timeouts' });
    client.end(true);

    // Filled again; this time the silent ones close themselves.
    const second = await silentSockets(t, port, MAX);
    await waitFor(
      async () => (await metric(orchestrator, 'brokel_orchestrator_pending_connections')) === MAX,
      2_000,
      'the bound reached again',
    );
    await refused(url);
    for (const s of second) s.socket.destroy();
    await waitFor(
      async () => (await metric(orchestrator, 'brokel_orchestrator_pending_connections')) === 0,
      2_000,
      'the closed ones no longer pending',
    );
    await connectClient(t, url, { clientId: 'after-closes' });
    assert.equal(await metric(orchestrator, 'brokel_orchestrator_pending_connections_refused_total'), 7);
  });
});
