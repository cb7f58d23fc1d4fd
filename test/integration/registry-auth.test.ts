// test-lanes: shared
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startManagerOn } from '../helpers/remote-provider.ts';
import { connectClient, startProvider, waitFor } from '../helpers/resources.ts';

/**
 * With `brokers.users` the brokers refuse anonymous connections, so the orchestrators' own registry
 * connections (presence records, registry reads, replays of away sessions) must log in too: the
 * manager gives every orchestrator it creates the deployment's user (brokers.users[0]) in its
 * environment. Before, they connected anonymously and were refused: no presence record, no reads.
 */
const USER = { username: 'fleet', password: 'roma-2014' };

describe('registry connections on brokers with users', () => {
  it('an orchestrator the manager creates keeps its presence record on a broker that refuses anonymous clients', async (t) => {
    const provider = await startProvider(t, {}, { users: [USER] });
    await startManagerOn(t, provider, {
      monitor: { intervalSeconds: 0.5, warmupObservations: 1 },
      levels: { brokers: { min: 1, max: 1 }, orchestrators: { min: 1, max: 1 } },
      brokers: { users: [USER] },
    });
    const ready = async (level: 'broker' | 'orchestrator') =>
      (await provider.list()).find((r) => r.level === level && r.state === 'ready');
    await waitFor(
      async () => (await ready('broker')) !== undefined && (await ready('orchestrator')) !== undefined,
      30_000,
      'a ready broker and orchestrator',
    );
    const broker = await ready('broker');
    assert.ok(broker);
    await assert.rejects(
      connectClient(t, broker.url),
      (err: Error & { code?: number }) => err.code === 5,
      'the broker refuses an anonymous client',
    );
    const records = new Map<string, number>();
    const reader = await connectClient(t, broker.url, { ...USER, clientId: 'registry-auth-reader' });
    reader.on('message', (topic, payload) => records.set(topic, payload.length));
    await reader.subscribeAsync('$brokel/presence/+', { qos: 0 });
    await waitFor(
      () => [...records.values()].some((bytes) => bytes > 0),
      10_000,
      `a presence record on ${broker.id} (seen: ${JSON.stringify([...records])})`,
    );
  });
});
