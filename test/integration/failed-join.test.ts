// test-lanes: shared
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it, type TestContext } from 'node:test';
import { parseBrokerUrl } from '../../common/admin/contract.ts';
import { retainedOwner } from '../../common/retained-owner.ts';
import type { Replica } from '../../manager/providers/cloud-provider.ts';
import { moveRetained, readRetained } from '../../manager/retained-move.ts';
import { TestMosquitto } from '../helpers/mosquitto.ts';
import { defer, startManagerOn } from '../helpers/remote-provider.ts';
import { connectClient, startProvider, waitFor } from '../helpers/resources.ts';

// Issue 17 (a broker join that fails must not leave the pool stuck): an active broker is SIGSTOPped,
// so a broker add's retained move reads from it and never hears back. The add fails after
// manager.actionTimeoutSeconds; the new broker must then leave the pool with its retained fence, the
// retained messages it already got must be back on their owners, and the level must scale again.

const ACTION_TIMEOUT_SECONDS = 4;
const TOPICS = 40;
const idOf = (b: Replica) => parseBrokerUrl(b.url).id;

/**
 * SIGSTOPs a replica's process group; the returned resume() (SIGCONT, once) also runs at teardown
 * (call it in the test too: the provider's stop, an earlier hook, would wait for a stopped broker).
 */
function pause(t: TestContext, pid: number): () => void {
  let resumed = false;
  const resume = () => {
    if (resumed) return;
    resumed = true;
    try {
      process.kill(-pid, 'SIGCONT');
    } catch {
      // gone already
    }
  };
  defer(t, async () => resume());
  process.kill(-pid, 'SIGSTOP');
  return resume;
}

/**
 * A manager with two brokers and 40 retained topics; the second broker (the last one a join's move
 * reads) is SIGSTOPped and a third broker's add is under way, with the manual target back at two. The
 * first broker's topics that the new broker owns are copied to it and cleared on the first broker
 * before the move stalls on the stopped one.
 */
async function stalledJoin(t: TestContext) {
  const local = await startProvider(t);
  const { manager, topology, decisionLog } = await startManagerOn(t, local, {
    monitor: { intervalSeconds: 0.5, warmupObservations: 1 },
    levels: { brokers: { min: 2, max: 3 }, orchestrators: { min: 1, max: 1 } },
    manager: { actionTimeoutSeconds: ACTION_TIMEOUT_SECONDS },
  });
  const brokers = async () => (await local.list()).filter((r) => r.level === 'broker');
  const [first, stopped] = await brokers();
  const [orchestrator] = await topology.orchestrators();
  assert.ok(first && stopped && orchestrator, 'two brokers and an orchestrator');
  const pidOf = (b: Replica) => local.details(b.id)?.pid ?? assert.fail(`no PID for ${b.id}`);
  // Retained messages through the orchestrator: each on its owner among the two brokers.
  const client = await connectClient(t, `mqtt://${orchestrator.host}:${orchestrator.port}`, {
    protocolVersion: 5,
  });
  const topics = Array.from({ length: TOPICS }, (_, i) => `fj/${i}`);
  await Promise.all(
    topics.map((topic) => client.publishAsync(topic, `v-${topic}`, { qos: 1, retain: true })),
  );
  await client.endAsync();
  const onFirst = topics.filter((x) => retainedOwner(x, [idOf(first), idOf(stopped)]) === idOf(first));
  assert.deepEqual((await readRetained(first.url, {}, 5000)).map((m) => m.topic).sort(), onFirst.sort());
  const resume = pause(t, pidOf(stopped));
  await manager.setManualTarget('broker', 3);
  await waitFor(async () => (await brokers()).length === 3, 20_000, 'the third broker created (the add)');
  const joining = (await brokers()).find((b) => b.id !== first.id && b.id !== stopped.id);
  assert.ok(joining);
  // Back to two, so what follows the failure is a decision of its own, not the next add.
  await manager.setManualTarget('broker', 2);
  await waitFor(
    async () => (await readRetained(first.url, {}, 2000)).length < onFirst.length,
    ACTION_TIMEOUT_SECONDS * 1000 + 10_000,
    "the stalled move to have moved some of the first broker's topics",
  );
  const outcomes = async () => {
    await decisionLog.flush();
    return (await readFile(decisionLog.file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; action?: string; outcome?: string; seconds?: number });
  };
  const addEnded = async () => {
    await waitFor(
      async () => (await outcomes()).some((l) => l.level === 'broker' && l.action === 'add' && l.outcome),
      ACTION_TIMEOUT_SECONDS * 3000 + 20_000,
      'the add to end',
    );
    const add = (await outcomes()).find((l) => l.level === 'broker' && l.action === 'add' && l.outcome);
    t.diagnostic(`the add ended ${add?.outcome} after ${add?.seconds?.toFixed(1)} s`);
    return add;
  };
  return {
    local,
    manager,
    topology,
    brokers,
    first,
    stopped,
    orchestrator,
    joining,
    topics,
    onFirst,
    resume,
    pidOf,
    addEnded,
  };
}

describe('manager: a broker join that fails (issue 17)', () => {
  it('is undone: the new broker leaves the pool, its fence is lifted, the retained messages it got go back, and the level scales again', async (t) => {
    const {
      manager,
      topology,
      brokers,
      first,
      stopped,
      orchestrator,
      joining,
      topics,
      onFirst,
      resume,
      addEnded,
    } = await stalledJoin(t);
    try {
      assert.equal((await addEnded())?.outcome, 'failed');
      const failedAt = manager.decisions.at(-1)?.observation ?? 0;
      const failedTime = performance.now();

      // Within one action timeout: the level decides again (not "replica ... is joining" forever).
      const reasons = () =>
        manager.decisions
          .filter((d) => d.level === 'broker' && d.observation > failedAt)
          .map((d) => d.reason);
      await waitFor(
        () => reasons().some((r) => /at manual target 2/.test(r)),
        ACTION_TIMEOUT_SECONDS * 1000,
        'the broker level to decide again',
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}; its reasons since: ${[...new Set(reasons())].join('; ')}`);
      });
      t.diagnostic(`the level decided again ${((performance.now() - failedTime) / 1000).toFixed(1)} s later`);
      assert.ok(!(await brokers()).some((b) => b.id === joining.id), 'the broker whose join failed is gone');
      assert.equal(topology.brokerStates.has(joining.id), false);
      const status = await topology.client(orchestrator).status();
      assert.deepEqual(
        status.brokers.map((b) => [b.url, b.state, b.retainedFence === true]).sort(),
        [
          [first.url, 'active', false],
          [stopped.url, 'active', false],
        ].sort(),
        'the orchestrator has the two brokers, active, no fence',
      );
      // What the failed move had copied to the new broker and cleared on the first one is back there.
      const back = await readRetained(first.url, {}, 5000);
      assert.deepEqual(back.map((m) => m.topic).sort(), onFirst.sort(), 'the first broker holds its topics');

      // The level scales again once the broker answers: the add succeeds, every value is at its owner.
      resume();
      await manager.setManualTarget('broker', 3);
      await waitFor(
        async () => {
          const s = (await manager.status()).levels.find((l) => l.level === 'broker');
          return (
            s?.actionInFlight === undefined &&
            s?.replicas.length === 3 &&
            s.replicas.every((r) => r.poolState === 'active')
          );
        },
        ACTION_TIMEOUT_SECONDS * 1000 + 20_000,
        'three active brokers',
      );
      const all = await brokers();
      const owners = all.map(idOf);
      const held = await Promise.all(
        all.map(async (b) => ({ b, msgs: await readRetained(b.url, {}, 5000) })),
      );
      const seen = held
        .flatMap(({ b, msgs }) => msgs.map((m) => `${m.topic}@${idOf(b)}=${m.payload}`))
        .sort();
      const expected = topics.map((x) => `${x}@${retainedOwner(x, owners)}=v-${x}`).sort();
      assert.deepEqual(seen, expected, 'every retained value once, on its owner');
    } finally {
      resume();
    }
  });

  it('whose undo cannot reach an owner is retried: the new broker keeps its fence and the values until the owner answers, then leaves', async (t) => {
    const { manager, topology, brokers, first, orchestrator, joining, onFirst, pidOf, addEnded, resume } =
      await stalledJoin(t);
    // The first broker stops too: the values the move copied from it can go back only once it answers.
    const resumeFirst = pause(t, pidOf(first));
    try {
      assert.equal((await addEnded())?.outcome, 'failed');
      assert.equal(topology.brokerStates.get(joining.id), 'joining', 'still in the pool, joining');
      assert.ok(topology.failedJoins.has(joining.id), 'its undo is pending');
      assert.ok(
        (await brokers()).some((b) => b.id === joining.id),
        'not destroyed: it holds moved values',
      );
      const fenced = (await topology.client(orchestrator).status()).brokers.find(
        (b) => b.url === joining.url,
      );
      assert.equal(fenced?.retainedFence, true, 'its fence still holds publishes on its topics');
      await waitFor(
        async () =>
          (await manager.status()).levels.find((l) => l.level === 'broker')?.actionInFlight ===
          `undo join ${joining.id}`,
        ACTION_TIMEOUT_SECONDS * 1000,
        'the undo retried as the level action',
      );
      const resumedAt = performance.now();
      resumeFirst();
      await waitFor(
        async () =>
          !topology.failedJoins.has(joining.id) && !(await brokers()).some((b) => b.id === joining.id),
        ACTION_TIMEOUT_SECONDS * 2000 + 10_000,
        'the retried undo to remove the broker',
      );
      t.diagnostic(`undone ${((performance.now() - resumedAt) / 1000).toFixed(1)} s after the owner resumed`);
      const back = await readRetained(first.url, {}, 5000);
      assert.deepEqual(
        back.map((m) => `${m.topic}=${m.payload}`).sort(),
        onFirst.map((x) => `${x}=v-${x}`).sort(),
        'the first broker holds its values again',
      );
      const status = await topology.client(orchestrator).status();
      assert.ok(!status.brokers.some((b) => b.url === joining.url || b.retainedFence), 'no fence left');
    } finally {
      // Before the teardown's provider stop, which would wait for stopped brokers to end.
      resumeFirst();
      resume();
    }
  });

  it('a retained move given up on (its signal aborts) starts no copy or clear after that: every value cleared on the source is on its owner', async (t) => {
    const [source, owner] = await Promise.all([TestMosquitto.start(t), TestMosquitto.start(t)]);
    const ids = [source.url, owner.url].map((u) => parseBrokerUrl(u).id);
    const topics = Array.from({ length: 300 }, (_, i) => `ab/${i}`);
    const publisher = await connectClient(t, source.url);
    await Promise.all(topics.map((x) => publisher.publishAsync(x, `v-${x}`, { qos: 1, retain: true })));
    await publisher.endAsync();
    const moving = topics.filter((x) => retainedOwner(x, ids) === ids[1]);
    // Given up as soon as the first copy reaches the owner (as a join's deadline would, mid-move).
    const stop = new AbortController();
    const watcher = await connectClient(t, owner.url);
    watcher.on('message', () => stop.abort());
    await watcher.subscribeAsync('#', { qos: 0 });
    await assert.rejects(
      moveRetained({ sources: [source.url], owners: ids, auth: {}, timeoutMs: 5000, signal: stop.signal }),
      /retained move stopped/,
    );
    const left = (await readRetained(source.url, {}, 5000)).map((m) => m.topic);
    const copied = await readRetained(owner.url, {}, 5000);
    t.diagnostic(`${copied.length} of ${moving.length} topics copied before the move stopped`);
    assert.ok(copied.length < moving.length, 'the move stopped before the end');
    assert.deepEqual(
      [...left, ...copied.map((m) => m.topic)].filter((x, i, a) => a.indexOf(x) === i).sort(),
      [...topics].sort(),
      'no value lost',
    );
    assert.ok(copied.every((m) => m.payload.toString() === `v-${m.topic}`));
  });
});
