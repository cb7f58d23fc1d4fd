#!/usr/bin/env bash
# Runs the node:test suites (through tsx) under the given folders or files (default: test/).
# Test files run one at a time: several start CPU-capped brokers and measure them.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
mapfile -t files < <(find "${@:-test}" -name '*.test.ts' | sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "no test files under ${*:-test}" >&2
  exit 1
fi
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
