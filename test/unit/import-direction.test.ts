import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * ARCHITECTURE.md, "The parts": the manager talks to orchestrators over HTTP and never imports
 * `orchestrator/`; `common/` imports npm packages only. The admin contract lives in common/admin.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const IMPORT = /(?:^|\n)\s*(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** `file → imported path` pairs of a folder whose relative imports land in one of `forbidden`. */
export function crossings(folder: string, forbidden: readonly string[]): string[] {
  const out: string[] = [];
  for (const file of sources(join(ROOT, folder))) {
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? '';
      if (!spec.startsWith('.')) continue;
      const target = relative(ROOT, resolve(dirname(file), spec));
      if (forbidden.some((f) => target === f || target.startsWith(`${f}/`))) {
        out.push(`${relative(ROOT, file)} → ${spec}`);
      }
    }
  }
  return out;
}

describe('import direction', () => {
  it('manager/ never imports orchestrator/', () => {
    assert.deepEqual(crossings('manager', ['orchestrator']), []);
  });
  it('common/ never imports manager/, orchestrator/ or geo-dns/', () => {
    assert.deepEqual(crossings('common', ['manager', 'orchestrator', 'geo-dns']), []);
  });
  it('the check sees a crossing (orchestrator/ does import common/)', () => {
    assert.notDeepEqual(crossings('orchestrator', ['common']), []);
  });
});
