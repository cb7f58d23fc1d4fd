#!/usr/bin/env node
// The `brokel` command: runs the TypeScript sources through tsx (no build step). An orchestrator
// replica (`brokel orchestrator`) runs the tsc build in out/ instead (scripts/build.sh, made by
// scripts/setup.sh) while it is fresh: no tsx loader and no esbuild in the data plane, about 35 MB
// less RSS per replica (docs/data-plane.md). A build older than any source it compiles is not used.
import { buildIsFresh } from './build-fresh.js';

const root = new URL('..', import.meta.url);

if (process.argv[2] === 'orchestrator' && buildIsFresh(root)) {
  await import('../out/cli/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
