import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
// Plain JavaScript (bin/brokel.js imports it before tsx is registered); typed by build-fresh.d.ts.
import { buildIsFresh } from '../../bin/build-fresh.js';

/** A checkout with the files buildIsFresh looks at, all dated `at` (seconds), the stamp at `stampAt`. */
function checkout(at: number, stampAt: number | undefined): { root: URL; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'brokel-build-fresh-'));
  const files = [
    'tsconfig.json',
    'tsconfig.build.json',
    'common/a.ts',
    'orchestrator/session/b.ts',
    'cli/c.ts',
  ];
  for (const file of files) {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(join(dir, file), '');
    utimesSync(join(dir, file), at, at);
  }
  if (stampAt !== undefined) {
    mkdirSync(join(dir, 'out'));
    writeFileSync(join(dir, 'out/.stamp'), '');
    utimesSync(join(dir, 'out/.stamp'), stampAt, stampAt);
  }
  return { root: pathToFileURL(`${dir}/`), dir };
}

describe('bin/build-fresh.js: whether an orchestrator runs out/ or its sources', () => {
  it('fresh when the stamp is newer than every source and tsconfig', (t) => {
    const { root, dir } = checkout(1_000, 2_000);
    t.after(() => rmSync(dir, { recursive: true }));
    assert.equal(buildIsFresh(root), true);
  });

  it('not fresh without a build, or when a source under a replica folder (nested too) or a tsconfig is newer', (t) => {
    const none = checkout(1_000, undefined);
    t.after(() => rmSync(none.dir, { recursive: true }));
    assert.equal(buildIsFresh(none.root), false, 'no out/.stamp');
    for (const file of ['orchestrator/session/b.ts', 'cli/c.ts', 'tsconfig.build.json']) {
      const c = checkout(1_000, 2_000);
      t.after(() => rmSync(c.dir, { recursive: true }));
      utimesSync(join(c.dir, file), 3_000, 3_000);
      assert.equal(buildIsFresh(c.root), false, `${file} edited after the build`);
    }
  });
});
