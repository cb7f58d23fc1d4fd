import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DecisionLog } from '../../manager/decision-log.ts';

describe('decision log', () => {
  it('counts and reports a write that fails (a path under a regular file), and keeps going', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'brokel-dlog-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'plain'), '');
    const reported: unknown[] = [];
    const bad = new DecisionLog(join(dir, 'plain', 'decisions.jsonl'), (err) => reported.push(err));
    bad.append({ tick: 1 });
    bad.append({ tick: 2 });
    await bad.flush();
    assert.equal(bad.errors, 2);
    assert.equal(reported.length, 2);
    assert.match(String(reported[0]), /ENOTDIR|EEXIST/);
    const good = new DecisionLog(join(dir, 'sub', 'decisions.jsonl'));
    good.append({ tick: 3 });
    await good.flush();
    assert.equal(good.errors, 0);
    assert.equal(JSON.parse(await readFile(good.file, 'utf8')).tick, 3);
  });

  it('touch() makes an empty file when there is none and keeps the lines of one there is', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'brokel-dlog-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const fresh = new DecisionLog(join(dir, 'new', 'decisions.jsonl'));
    fresh.touch();
    await fresh.flush();
    assert.equal(await readFile(fresh.file, 'utf8'), '');
    const kept = new DecisionLog(fresh.file);
    kept.append({ tick: 1 });
    await kept.flush();
    const again = new DecisionLog(fresh.file);
    again.touch();
    await again.flush();
    assert.equal(JSON.parse(await readFile(fresh.file, 'utf8')).tick, 1);
  });
});
