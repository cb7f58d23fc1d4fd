#!/usr/bin/env bash
# What an interrupted test run leaves (scripts/run-tests.sh calls it on INT or TERM).
#   test-teardown.sh cgroups                        the brokel cgroup folders now (parents included)
#   test-teardown.sh end RUN_ID CGROUPS_BEFORE      ends the processes whose environment holds
#       BROKEL_TEST_RUN=RUN_ID (TERM, then KILL after 3 s), then removes the brokel cgroup folders
#       not in CGROUPS_BEFORE (replicas', and their parent), deepest first, once empty
# Only processes of this run are signalled: the marker is in their environment, inherited from
# run-tests.sh, which no other run shares. Processes of other users are not readable, and not ours.
set -uo pipefail

cgroups() {
  # A controller may have no brokel folder, and find then fails: what there is, in order.
  { find /sys/fs/cgroup/cpu/brokel /sys/fs/cgroup/cpuacct/brokel -type d 2>/dev/null || true; } | sort
}

marked() {
  local marker="BROKEL_TEST_RUN=$1" environ pid
  for environ in /proc/[0-9]*/environ; do
    pid="${environ#/proc/}"
    pid="${pid%/environ}"
    [ "$pid" = "$$" ] && continue # called by hand from a shell that has the marker
    # grep -z: the environment's entries are NUL-separated; -x: the whole entry.
    grep -qzx -- "$marker" "$environ" 2>/dev/null && echo "$pid"
  done
}

end() {
  local run="$1" before="$2" pids left
  mapfile -t pids < <(marked "$run")
  if [ "${#pids[@]}" -gt 0 ]; then
    echo "test-teardown: ending ${#pids[@]} process(es): ${pids[*]}"
    kill -TERM "${pids[@]}" 2>/dev/null
    for _ in $(seq 30); do
      mapfile -t left < <(marked "$run")
      [ "${#left[@]}" -eq 0 ] && break
      sleep 0.1
    done
    mapfile -t left < <(marked "$run")
    [ "${#left[@]}" -gt 0 ] && kill -KILL "${left[@]}" 2>/dev/null
  fi
  # A cgroup keeps its folder after its processes die; give the kernel a moment to empty it.
  sleep 0.5
  comm -13 <(printf '%s\n' "$before") <(cgroups) | sort -r | while read -r dir; do
    rmdir "$dir" 2>/dev/null && echo "test-teardown: removed cgroup $dir"
  done
  return 0
}

case "${1:-}" in
  cgroups) cgroups ;;
  end) end "${2:?run id}" "${3-}" ;;
  *)
    echo "usage: test-teardown.sh cgroups | end RUN_ID CGROUPS_BEFORE" >&2
    exit 2
    ;;
esac
