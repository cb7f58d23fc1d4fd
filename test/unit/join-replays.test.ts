import assert from 'node:assert/strict';
import { it } from 'node:test';
import { silentLogger } from '../../common/logger.ts';
import type { BrokerPool, PoolBroker } from '../../orchestrator/pool/broker-pool.ts';
import { JoinReplays } from '../../orchestrator/registry/join-replays.ts';
import type { RegistryEntry } from '../../orchestrator/registry/reserved.ts';
import type { SessionRegistry } from '../../orchestrator/registry/session-registry.ts';

/** A registry whose replays wait until the test releases them, in the order they began. */
function heldRegistry() {
  const held: Array<() => void> = [];
  const hold = () => new Promise<number>((resolve) => held.push(() => resolve(0)));
  const registry = { replayAway: hold, replayOne: hold } as unknown as SessionRegistry;
  return { registry, release: (i: number) => held[i]?.() };
}

const tick = () => new Promise((r) => setImmediate(r));
const broker = { id: '127.0.0.9:1883', state: 'joining' } as PoolBroker;
const pool = { list: () => [broker] } as unknown as BrokerPool;

/** JoinReplays over one broker, no local session, recording which brokers it settles. */
function joinReplays(registry: SessionRegistry) {
  const done: string[] = [];
  const replays = new JoinReplays(
    registry,
    pool,
    () => undefined,
    silentLogger(),
    (id) => done.push(id),
  );
  return { done, replays };
}

it('a broker id that leaves and joins again: the old join ending does not settle the new one', async () => {
  const { registry, release } = heldRegistry();
  const { done, replays } = joinReplays(registry);
  replays.start(broker);
  replays.replayLeft(broker, { clientId: 'c1' } as RegistryEntry);
  await tick();
  replays.cancel(broker.id); // the broker left the pool (a failed join undone) …
  replays.start(broker); // … and a new one got its address
  await tick();
  assert.equal(replays.isPending(broker.id), true);
  release(0); // the old join's replayAway ends
  release(1); // and its replayLeft
  await tick();
  await tick();
  assert.equal(replays.isPending(broker.id), true, 'the new join still waits for its own replay');
  assert.deepEqual(done, []);
  release(2); // the new join's replayAway
  await tick();
  await tick();
  assert.equal(replays.isPending(broker.id), false);
  assert.deepEqual(done, [broker.id]);
});

it('a session that left and is live on another orchestrator by a later attempt is not recreated (no takeover)', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const calls: string[] = [];
  let elsewhere = false;
  const registry = {
    replayOne: async () => {
      calls.push('replayOne');
      throw new Error('the joining broker refused the first connection');
    },
    heldElsewhere: async () => {
      calls.push('heldElsewhere');
      return elsewhere;
    },
  } as unknown as SessionRegistry;
  const { done, replays } = joinReplays(registry);
  replays.replayLeft(broker, { clientId: 'c1' } as RegistryEntry);
  await tick();
  assert.deepEqual(calls, ['replayOne'], 'the first attempt within the close: no read');
  elsewhere = true; // the client reconnected to o2 meanwhile, and o2 wrote its record
  t.mock.timers.tick(500);
  await tick();
  await tick();
  assert.deepEqual(calls, ['replayOne', 'heldElsewhere'], 'read again, and left to its live session');
  assert.equal(replays.isPending(broker.id), false);
  assert.deepEqual(done, [broker.id]);
});
