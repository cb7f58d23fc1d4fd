import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger } from '../../common/logger.ts';
import { type DecisionInput, decide, type LevelPolicy, type LevelView } from '../../manager/decide.ts';
import {
  fileTargetStore,
  forgetManualTargets,
  ManualTargetKeeper,
  type ManualTargets,
  parseManualTargets,
} from '../../manager/manual-targets.ts';

const POLICY: LevelPolicy = { lower: 0.3, upper: 0.7, min: 1, max: 4, cooldownObservations: 5 };

function level(load: number, count: number, over: Partial<LevelView> = {}): LevelView {
  return {
    level: 'broker',
    replicas: Array.from({ length: count }, (_, i) => ({
      id: `b${i + 1}`,
      state: 'ready' as const,
      createdAt: i,
      smoothed: load + i / 100,
    })),
    load,
    forecast: undefined,
    actionInFlight: false,
    sinceLastAction: 1,
    ...over,
  };
}

const input = (view: LevelView, sla = 12): DecisionInput => ({
  levels: [view],
  observation: 10,
  policy: { kind: 'reactive', warmupObservations: 1, slaMaxReplicas: sla },
  thresholds: { broker: POLICY, orchestrator: POLICY },
});

describe('decide() with a manual target (brokel scale)', () => {
  it('steps towards the target whatever the load, without waiting for the cool-down', () => {
    const [add] = decide(input(level(0.1, 1, { manualTarget: 3 })));
    assert.deepEqual([add?.action, add?.reason], ['add', 'manual target 3']);
    const [remove] = decide(input(level(0.95, 3, { manualTarget: 2 })));
    assert.equal(remove?.action, 'remove');
    assert.equal(remove?.action === 'remove' && remove.replica, 'b1', 'the least-loaded replica');
    const [stay] = decide(input(level(0.95, 2, { manualTarget: 2 })));
    assert.deepEqual([stay?.action, stay?.reason], ['none', 'at manual target 2']);
  });

  it('the same level without the target (auto) follows the load again', () => {
    assert.equal(decide(input(level(0.95, 2, { sinceLastAction: 9 })))[0]?.action, 'add');
    assert.equal(decide(input(level(0.95, 2, { sinceLastAction: 9, manualTarget: 2 })))[0]?.action, 'none');
  });

  it('keeps the target within [min, max] and the SLA, and one action at a time', () => {
    const [capped] = decide(input(level(0.5, 4, { manualTarget: 9 })));
    assert.equal(capped?.action, 'none');
    assert.match(capped?.reason ?? '', /asked 9, kept within \[1, 4\]/);
    assert.equal(decide(input(level(0.5, 2, { manualTarget: 3 }), 2))[0]?.action, 'none');
    assert.equal(decide(input(level(0.5, 1, { manualTarget: 3, actionInFlight: true })))[0]?.action, 'none');
    const booting = level(0.5, 2, { manualTarget: 3 });
    const replicas = [
      ...booting.replicas,
      { id: 'b9', state: 'booting' as const, createdAt: 9, smoothed: 0 },
    ];
    assert.equal(decide(input({ ...booting, replicas }))[0]?.action, 'none');
  });
});

it('manual targets: kept in the state dir and read back; a damaged or odd file gives what is valid in it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'brokel-targets-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = fileTargetStore(dir);
  assert.deepEqual(await store.load(), {}, 'none kept yet');
  await store.save({ broker: 3 });
  await store.save({ broker: 2, orchestrator: 1 });
  assert.deepEqual(await store.load(), { broker: 2, orchestrator: 1 }, 'the last write wins');
  assert.deepEqual(await readdir(dir), ['manual-targets.json'], 'no temporary file left');
  await forgetManualTargets(dir);
  assert.deepEqual(await store.load(), {});
  assert.deepEqual(parseManualTargets('{"broker": 2.5, "orchestrator": -1, "other": 3}'), {});
  assert.deepEqual(parseManualTargets('{"broker": 4'), {});
  assert.deepEqual(parseManualTargets('null'), {});
});

it('manual targets after a restart: a kept one within [min, max] is followed, one outside it is dropped and the drop kept', async () => {
  let kept: ManualTargets = { broker: 3, orchestrator: 9 };
  const store = {
    load: async () => kept,
    save: async (t: ManualTargets) => {
      kept = t;
    },
  };
  const keeper = new ManualTargetKeeper(store, silentLogger());
  await keeper.restore(() => ({ min: 1, max: 4 }));
  assert.equal(keeper.get('broker'), 3);
  assert.equal(keeper.get('orchestrator'), undefined, '9 is outside [1, 4]');
  assert.deepEqual(kept, { broker: 3 });
  await keeper.set('broker', undefined);
  assert.deepEqual(kept, {}, 'auto is kept too');
});
