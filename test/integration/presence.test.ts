// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { silentLogger } from '../../common/logger.ts';
import { DEFAULT_LIMITS } from '../../orchestrator/limits.ts';
import { encodeEntry, registryTopic } from '../../orchestrator/registry/reserved.ts';
import { SessionRegistry } from '../../orchestrator/registry/session-registry.ts';
import { poolBrokerOf, TestMosquitto } from '../helpers/mosquitto.ts';
import { connectClient, waitFor, within } from '../helpers/resources.ts';

const poolBroker = poolBrokerOf;

function registry(t: TestContext): SessionRegistry {
  const r = new SessionRegistry({
    limits: DEFAULT_LIMITS,
    log: silentLogger(),
    protocolVersion: async () => 4,
  });
  t.after(() => r.close());
  return r;
}

/**
 * Presence (orchestrator/registry/presence.ts): the join replay takes a record naming a replica with
 * no presence record for away (docs/chaos.md defect 3), and leaves one naming a live replica alone.
 */
describe('presence records and the join replay', () => {
  it('replays the session of a holder without presence, not that of a live holder; close() clears it', async (t) => {
    const [a, b] = await Promise.all([TestMosquitto.start(t), TestMosquitto.start(t)]);
    const [pa, pb] = [poolBroker(a), poolBroker(b)];
    const holder = registry(t);
    const joiner = registry(t);
    holder.keepPresence(pa);
    await waitFor(
      async () => (await joiner.livePresence([pa]))?.has(holder.instanceId) === true,
      5000,
      'the holder presence on A',
    );
    const writer = await connectClient(t, a.url);
    for (const [clientId, online] of [
      ['held-live', holder.instanceId],
      ['held-dead', 'deadbeef0000'],
    ] as const) {
      const entry = {
        clientId,
        protocolVersion: 4 as const,
        sessionExpirySeconds: 0xffff_ffff,
        online,
        subscriptions: [{ topic: 'pr/#', qos: 1 as const }],
      };
      await within(
        writer.publishAsync(registryTopic(clientId), encodeEntry(entry), { qos: 1, retain: true }),
        5000,
        'PUBACK',
      );
    }
    assert.equal(await joiner.replayAway(pb, [pa], () => false), 1, 'one session replayed');
    // The broker tells whether it holds a session for the id: CONNACK session present.
    for (const [clientId, expected] of [
      ['held-dead', true],
      ['held-live', false],
    ] as const) {
      let present: boolean | undefined;
      await connectClient(t, b.url, { clientId, clean: false, protocolVersion: 4 }, (c) =>
        c.once('connect', (p) => {
          present = p.sessionPresent;
        }),
      );
      assert.equal(present, expected, `${clientId}: session on the joining broker`);
    }
    holder.close();
    await waitFor(
      async () => (await joiner.livePresence([pa]))?.has(holder.instanceId) === false,
      5000,
      'the holder presence gone from A',
    );
  });

  it('a holder present on any source is alive; a presence connection taken away comes back', async (t) => {
    const [a, b, c] = await Promise.all([
      TestMosquitto.start(t),
      TestMosquitto.start(t),
      TestMosquitto.start(t),
    ]);
    const [pa, pb, pc] = [poolBroker(a), poolBroker(b), poolBroker(c)];
    const holder = registry(t);
    const joiner = registry(t);
    holder.keepPresence(pb); // not on A, where the record is read from
    const writer = await connectClient(t, a.url);
    const entry = {
      clientId: 'held-elsewhere',
      protocolVersion: 4 as const,
      sessionExpirySeconds: 0xffff_ffff,
      online: holder.instanceId,
      subscriptions: [{ topic: 'pr/#', qos: 1 as const }],
    };
    await within(
      writer.publishAsync(registryTopic(entry.clientId), encodeEntry(entry), { qos: 1, retain: true }),
      5000,
      'PUBACK',
    );
    await waitFor(
      async () => (await joiner.livePresence([pb]))?.has(holder.instanceId) === true,
      5000,
      'the holder presence on B',
    );
    assert.equal(await joiner.replayAway(pc, [pa, pb], () => false), 0, 'a live holder keeps its session');
    // Someone takes the presence connection's client id on B and leaves cleanly: the record comes back.
    const intruder = await connectClient(t, b.url, { clientId: `brokel-presence-${holder.instanceId}` });
    await within(intruder.endAsync(), 5000, 'intruder gone');
    await waitFor(
      async () => (await joiner.livePresence([pb]))?.has(holder.instanceId) === false,
      5000,
      'the presence gone with the taken-over connection (its Will)',
    );
    await waitFor(
      async () => (await joiner.livePresence([pb]))?.has(holder.instanceId) === true,
      5000,
      'the presence back on B',
    );
  });
});
