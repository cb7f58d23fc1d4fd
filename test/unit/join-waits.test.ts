import assert from 'node:assert/strict';
import { it } from 'node:test';
import { silentLogger } from '../../common/logger.ts';
import type { BrokerPool, PoolBroker } from '../../orchestrator/pool/broker-pool.ts';
import { JoinReplays, type LocalState } from '../../orchestrator/registry/join-replays.ts';
import { JoinWaits } from '../../orchestrator/registry/join-waits.ts';
import type { RegistryEntry } from '../../orchestrator/registry/reserved.ts';
import { SessionRegistry } from '../../orchestrator/registry/session-registry.ts';

const tick = () => new Promise((r) => setImmediate(r));

it('JoinWaits: a broker waits until every connecting session it skipped has connected or closed', () => {
  const waits = new JoinWaits();
  waits.add('b1', 'c1');
  waits.add('b1', 'c2');
  waits.add('b2', 'c1');
  assert.deepEqual(waits.settle('c1'), ['b1', 'b2']);
  assert.equal(waits.has('b1'), true, 'c2 still connecting');
  assert.equal(waits.has('b2'), false);
  assert.deepEqual(waits.settle('c1'), [], 'settled once');
  waits.cancel('b1');
  assert.equal(waits.has('b1'), false);
  assert.deepEqual(waits.settle('c2'), [], 'a cancelled join forgets its waits');
});

/** A joining broker b2, a source b1 holding records, and a registry that records what it is asked. */
function stand(records: Record<string, RegistryEntry>, local: Record<string, LocalState>) {
  const joining = { id: 'b2', state: 'joining' } as PoolBroker;
  const source = { id: 'b1', state: 'active' } as PoolBroker;
  const brokers = new Map([source, joining].map((b) => [b.id, b]));
  const pool = {
    list: () => [...brokers.values()],
    get: (id: string) => brokers.get(id),
  } as unknown as BrokerPool;
  const recreated: string[] = [];
  const registry = {
    instanceId: 'me',
    replayAway: async (_b: PoolBroker, _s: PoolBroker[], skip: (id: string) => boolean) => {
      let n = 0;
      for (const id of Object.keys(records)) if (!skip(id)) n += 1;
      return n;
    },
    load: async (id: string) => records[id],
    livePresence: async () => new Set<string>(['other']),
    // The registry's own rule, on this fake's instanceId and presence.
    heldByOther: SessionRegistry.prototype.heldByOther,
    replayOne: async (_b: PoolBroker, entry: RegistryEntry) => {
      recreated.push(entry.clientId);
    },
  } as unknown as SessionRegistry;
  const done: string[] = [];
  const replays = new JoinReplays(
    registry,
    pool,
    (id) => local[id],
    silentLogger(),
    (id) => done.push(id),
  );
  return { replays, joining, recreated, done };
}

const record = (clientId: string, online: string | null = null) =>
  ({ clientId, online, subscriptions: [{ topic: `${clientId}/#`, qos: 1 }] }) as unknown as RegistryEntry;

it('a persistent session skipped while connecting closes before its CONNACK: recreated from its record, then synced', async () => {
  const local: Record<string, LocalState> = { c1: 'connecting' };
  const { replays, joining, recreated, done } = stand({ c1: record('c1') }, local);
  replays.start(joining);
  await tick();
  assert.equal(replays.isPending('b2'), true, 'the replay is over, but c1 is still connecting here');
  local.c1 = undefined;
  replays.sessionClosed('c1', true);
  assert.equal(replays.isPending('b2'), true, 'pending while c1 is recreated');
  await tick();
  await tick();
  assert.deepEqual(recreated, ['c1']);
  assert.equal(replays.isPending('b2'), false);
  assert.deepEqual(done, ['b2']);
});

it('a skipped connecting session that connects leaves the broker to its own join (nothing recreated)', async () => {
  const local: Record<string, LocalState> = { c1: 'connecting' };
  const { replays, joining, recreated, done } = stand({ c1: record('c1') }, local);
  replays.start(joining);
  await tick();
  local.c1 = 'connected';
  replays.sessionConnected('c1');
  replays.sessionClosed('c1', true); // a later close of the connected session: replayLeft's business
  await tick();
  assert.deepEqual(recreated, []);
  assert.equal(replays.isPending('b2'), false);
  assert.deepEqual(done, ['b2']);
});

it('a skipped connecting session that closes: not recreated when it was clean, or live on another orchestrator', async () => {
  const local: Record<string, LocalState> = { c1: 'connecting', c2: 'connecting' };
  const { replays, joining, recreated, done } = stand({ c1: record('c1'), c2: record('c2', 'other') }, local);
  replays.start(joining);
  await tick();
  local.c1 = undefined;
  local.c2 = undefined;
  replays.sessionClosed('c1', false); // a clean session: nothing outlives it
  replays.sessionClosed('c2', true); // its record names a live replica: that one joins the broker
  await tick();
  await tick();
  assert.deepEqual(recreated, []);
  assert.equal(replays.isPending('b2'), false);
  assert.deepEqual(done, ['b2']);
});
