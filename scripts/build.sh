#!/usr/bin/env bash
# Compiles the TypeScript sources into out/ (gitignored) with tsc, so that an orchestrator replica
# (`brokel orchestrator`) runs plain JavaScript: no tsx loader and no esbuild in the data plane
# (about 35 MB less idle RSS per replica, docs/data-plane.md). bin/brokel.js uses the build only
# while no source under common/, orchestrator/ or cli/ is newer than out/.stamp, and falls back to
# tsx otherwise, so a stale build never runs. Without a TypeScript compiler (no dev dependencies)
# or when tsc fails, there is no stamp and replicas run through tsx as before.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/tsc ]; then
  echo "brokel build: no TypeScript compiler (dev dependencies); replicas run through tsx" >&2
  exit 0
fi
mkdir -p out
rm -f out/.stamp
# Stamped with the time the compile started: a source edited meanwhile makes the build stale.
touch out/.stamp.next
if node_modules/.bin/tsc -p tsconfig.build.json; then
  mv out/.stamp.next out/.stamp
else
  rm -f out/.stamp.next
  echo "brokel build: tsc failed (above); replicas run through tsx" >&2
fi
