#!/usr/bin/env node
// The `brokel` command: runs the TypeScript sources through tsx (no build step). An orchestrator
// replica (`brokel orchestrator`) runs the tsc build in out/ instead (scripts/build.sh, made by
// scripts/setup.sh) while it is fresh: no tsx loader and no esbuild in the data plane, about 35 MB
// less RSS per replica (docs/data-plane.md). A build older than any source it compiles is not used.
import { readdirSync, statSync } from 'node:fs';

const root = new URL('..', import.meta.url);

/** The build's stamp is newer than the tsconfigs and every .ts file under the folders the replica runs. */
function buildIsFresh() {
  let stamp;
  try {
    stamp = statSync(new URL('out/.stamp', root)).mtimeMs;
  } catch {
    return false;
  }
  for (const file of ['tsconfig.json', 'tsconfig.build.json'])
    if (statSync(new URL(file, root)).mtimeMs > stamp) return false;
  for (const dir of ['common', 'orchestrator', 'cli']) {
    for (const entry of readdirSync(new URL(`${dir}/`, root), { recursive: true })) {
      if (entry.endsWith('.ts') && statSync(new URL(`${dir}/${entry}`, root)).mtimeMs > stamp) return false;
    }
  }
  return true;
}

if (process.argv[2] === 'orchestrator' && buildIsFresh()) {
  await import('../out/cli/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
