#!/usr/bin/env bash
# Runs the node:test suites (through tsx) under the given folders or files (default: test/).
# Test files outside test/unit/ run one at a time: several start CPU-capped brokers and measure them.
# Time limit: on Node 20, `--test-timeout` bounds each test file as a whole and each test in it, so an
# unbounded wait fails instead of hanging CI. Default BROKEL_TEST_TIMEOUT_MS (300 s); a file that
# legitimately needs longer says so in a line `// test-timeout-ms: N` and runs in a group with that limit.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
mapfile -t files < <(find "${@:-test}" -name '*.test.ts' | sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "no test files under ${*:-test}" >&2
  exit 1
fi
default_ms="${BROKEL_TEST_TIMEOUT_MS:-300000}"
declare -A groups=()
# Unit tests (test/unit/: pure logic, no process, no timing) run two files at a time on this 2-core
# machine, and so do the integration files that say `// test-lanes: 2` (they wait on sockets and
# processes, measure no CPU, rate or latency, and start no CPU-capped replica, or say in the file why they
# may run beside another); everything else one at a time.
for f in "${files[@]}"; do
  ms="$(sed -n 's#^// test-timeout-ms: \([0-9][0-9]*\)$#\1#p' "$f" | head -n 1)"
  lanes="$(sed -n 's#^// test-lanes: \([12]\)$#\1#p' "$f" | head -n 1)"
  case "$f" in test/unit/*) lanes=2 ;; esac
  lanes="${lanes:-1}"
  groups["${ms:-$default_ms} $lanes"]+="$f"$'\n'
done
# A test file's `after` hooks end what it started. When they cannot (the run is interrupted: Ctrl-C, a
# CI job's TERM, `kill`), or a test forgets, the brokers, orchestrators and load clients would stay, and
# a replica's cgroup with them. So the runner puts itself in a pids cgroup of its own (cgroup v1, where
# there is one), which every process it starts inherits whatever it does (detaches, is reparented to
# init, drops its environment), and exports BROKEL_TEST_RUN, which every process started with the
# run's environment inherits. On INT or TERM the run ends what is in the one or holds the other, removes
# the replica cgroups it created, now empty (rmdir removes nothing else), and exits 130. A run that ends
# on its own ends what outlived it too, lists it, and fails. scripts/test-teardown.sh.
export BROKEL_TEST_RUN="run-tests-$$-$(date +%s%N)"
cgroups_before="$(bash scripts/test-teardown.sh cgroups)"
run_cgroup="$(bash scripts/test-teardown.sh enter "$BROKEL_TEST_RUN" $$)"
# Without the marker itself, so that the teardown does not count itself among the run's processes.
teardown() { env -u BROKEL_TEST_RUN bash scripts/test-teardown.sh "$@" >&2; }
on_signal() {
  trap - INT TERM
  echo "run-tests: interrupted; ending what this run started" >&2
  teardown end "$BROKEL_TEST_RUN" "$cgroups_before" "$run_cgroup" $$
  exit 130
}
trap on_signal INT TERM
status=0
while read -r ms lanes; do
  mapfile -t group < <(printf '%s' "${groups["$ms $lanes"]}")
  # In the background, and waited for: bash runs a trap only once its foreground command returns, and
  # `wait` returns at once on a signal.
  node --import tsx --test --test-concurrency="$lanes" --test-timeout="$ms" --test-reporter=spec "${group[@]}" &
  wait $! || status=1
done < <(printf '%s\n' "${!groups[@]}" | sort -n -k1,1 -k2,2r)
trap - INT TERM
teardown leftovers "$BROKEL_TEST_RUN" "$run_cgroup" $$ || status=1
exit "$status"
