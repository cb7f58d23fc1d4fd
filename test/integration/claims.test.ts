// test-lanes: shared
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { silentLogger } from '../../common/logger.ts';
import { Orchestrator } from '../../orchestrator/orchestrator.ts';
import { CLAIM_TOPIC, encodeClaim } from '../../orchestrator/registry/claims.ts';
import { claimUntil } from '../helpers/claims.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { startOrchestrator } from '../helpers/orchestrator.ts';
import { connectClient, waitFor, within } from '../helpers/resources.ts';

// Claims (orchestrator/registry/claims.ts): a replica that takes a CONNECT says so on `$brokel/claim`,
// and a replica holding an older session of that client id ends it. Here the "other replica" is a
// plain MQTT client publishing on a real Mosquitto, so what ends a session is the claim alone: no
// broker sees a second connection with the client's id, and no link of the orchestrator closes.

/** The client's session still works: it gets back what it publishes on `topic`. */
async function echoes(client: MqttClient, topic: string): Promise<void> {
  const echo = new Promise<string>((resolve) => client.once('message', (_t, p) => resolve(p.toString())));
  await within(client.subscribeAsync(topic, { qos: 1 }), 5000, 'SUBACK');
  await client.publishAsync(topic, 'still here', { qos: 1 });
  assert.equal(await within(echo, 5000, 'the echo'), 'still here');
}

it('a newer claim from another replica ends the session here (v5: 0x8E), an older, own or malformed one does not', async (t) => {
  const broker = await TestMosquitto.start(t);
  const a = await startOrchestrator(t, [broker.url]);
  const other = await connectClient(t, broker.url, { clientId: 'other-replica' });
  const elsewhere = 'ffffffffffff'; // another replica's id

  // A 3.1.1 client first, which also shows the replica hears claims (its presence connection subscribed).
  const v4 = await connectClient(t, a.url, { clientId: 'claimed-v4', protocolVersion: 4 });
  let v4Closed = false;
  v4.on('close', () => {
    v4Closed = true;
  });
  await claimUntil(
    other,
    encodeClaim({ clientId: 'claimed-v4', instanceId: elsewhere, at: Date.now() + 1 }),
    () => v4Closed,
  );
  assert.equal(v4Closed, true, 'the 3.1.1 session ended on a newer claim');

  const v5 = await connectClient(t, a.url, { clientId: 'claimed-v5', protocolVersion: 5 });
  let reason: number | undefined;
  v5.on('disconnect', (p) => {
    reason = p.reasonCode;
  });
  const closed = new Promise<void>((resolve) => v5.once('close', () => resolve()));
  const before = Date.now() - 60_000;
  // Claims the session must not yield to: older, its own replica's, malformed, another format.
  const ignored: Array<Buffer | string> = [
    encodeClaim({ clientId: 'claimed-v5', instanceId: elsewhere, at: before }),
    encodeClaim({
      clientId: 'claimed-v5',
      instanceId: a.orchestrator.registry.instanceId,
      at: Date.now() + 60_000,
    }),
    'not json',
    JSON.stringify({ v: 2, c: 'claimed-v5', i: elsewhere, t: Date.now() + 60_000 }),
    JSON.stringify({ v: 1, c: 'claimed-v5', i: elsewhere, t: 'later' }),
  ];
  for (const payload of ignored) await other.publishAsync(CLAIM_TOPIC, payload, { qos: 0 });
  // The claims above went before this one on the same connection and broker: heard first.
  await other.publishAsync(
    CLAIM_TOPIC,
    encodeClaim({ clientId: 'someone-else', instanceId: elsewhere, at: Date.now() }),
    { qos: 1 },
  );
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(v5.connected, true, 'older, own and malformed claims leave the session alone');
  await echoes(v5, 'claims/echo');

  await claimUntil(
    other,
    encodeClaim({ clientId: 'claimed-v5', instanceId: elsewhere, at: Date.now() }),
    () => reason !== undefined,
  );
  await within(closed, 5000, 'the claimed session closed');
  assert.equal(reason, 0x8e, 'DISCONNECT 0x8E (Session taken over)');
  await waitFor(() => a.orchestrator.status().sessions === 0, 5000, 'no session left at the replica');
  const metrics = await a.orchestrator.metrics.registry.metrics();
  assert.match(metrics, /^brokel_orchestrator_sessions_taken_over_total\{by="replica"\} 2$/m, metrics);
});

it('a CONNECT the brokers refuse (a wrong password) at another replica leaves the session alone', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'brokel-claims-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const passwords = join(dir, 'passwords');
  execFileSync('mosquitto_passwd', ['-c', '-b', passwords, 'taxi', 'roma-2014']);
  execFileSync('chown', ['-R', 'mosquitto', dir]); // Mosquitto reads it as that user (FIELD-NOTES)
  const broker = await TestMosquitto.start(t, ['allow_anonymous false', `password_file ${passwords}`]);
  const replica = async () => {
    const orchestrator = new Orchestrator({
      routing: 'round-robin',
      brokers: [{ url: broker.url, state: 'active' }],
      limits: {},
      log: silentLogger(),
      registryCredentials: { username: 'taxi', password: 'roma-2014' },
    });
    const port = await orchestrator.listen('127.0.0.1', 0);
    t.after(() => orchestrator.close());
    return `mqtt://127.0.0.1:${port}`;
  };
  const [a, b] = [await replica(), await replica()];
  const good = { username: 'taxi', password: 'roma-2014', protocolVersion: 5 } as const;
  // Control: the right password at b ends the session at a (0x8E): claims flow between the two.
  const first = await connectClient(t, a, { ...good, clientId: 'control' });
  const controlReason = new Promise<number | undefined>((resolve) =>
    first.once('disconnect', (p) => resolve(p.reasonCode)),
  );
  await connectClient(t, b, { ...good, clientId: 'control' });
  assert.equal(await within(controlReason, 5000, 'the control session at a ended'), 0x8e);

  const kept = await connectClient(t, a, { ...good, clientId: 'kept' });
  await assert.rejects(
    connectClient(t, b, { ...good, clientId: 'kept', password: 'wrong' }),
    (err: Error & { code?: number }) => err.code === 0x86 || err.code === 0x87,
  );
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(kept.connected, true, 'the session at a is still connected');
  await echoes(kept, 'claims/kept');
});
