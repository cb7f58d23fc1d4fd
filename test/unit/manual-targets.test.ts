import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileTargetStore, forgetManualTargets, parseManualTargets } from '../../manager/manual-targets.ts';

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
