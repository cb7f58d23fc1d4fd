// Whether the tsc build in out/ (scripts/build.sh) is fresh: what bin/brokel.js decides an orchestrator
// replica runs by, and what the benchmarks check before they measure one (bench/lib/processes.ts).
import { readdirSync, statSync } from 'node:fs';

/** The build's stamp is newer than the tsconfigs and every .ts file under the folders the replica runs. */
export function buildIsFresh(root) {
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
