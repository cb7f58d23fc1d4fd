#!/usr/bin/env bash
# What a test run leaves (scripts/run-tests.sh calls it).
#   test-teardown.sh cgroups                        the brokel replica cgroup folders now (parents included)
#   test-teardown.sh enter RUN_ID PID               puts PID (the runner) in a pids cgroup of its own,
#       brokel-RUN_ID, below the one it is in; prints its folder, or nothing where there is no pids
#       hierarchy (cgroup v1) or it is not writable
#   test-teardown.sh end RUN_ID CGROUPS_BEFORE [RUN_CGROUP RUNNER_PID]
#       ends this run's processes (TERM, then KILL after 3 s), then removes the run's pids cgroup and
#       the brokel replica cgroup folders not in CGROUPS_BEFORE (replicas', and their parent), deepest
#       first, once empty
#   test-teardown.sh leftovers RUN_ID RUN_CGROUP RUNNER_PID
#       the same for a run that ended on its own, after a grace of 5 s for processes still exiting; lists
#       (`ps` lines) what it had to end, and exits 3 when there was any
# This run's processes: those in RUN_CGROUP or below it (every process the runner starts is, detached
# or reparented to init or started with an environment of its own), and those whose environment holds
# BROKEL_TEST_RUN=RUN_ID (inherited from run-tests.sh; the only way where there is no pids cgroup).
# The runner and this script are never signalled. Nothing of another run is touched: neither its cgroup
# nor its marker is this run's. Processes of other users are not readable, and not ours.
set -uo pipefail

PIDS_ROOT=/sys/fs/cgroup/pids

cgroups() {
  # A controller may have no brokel folder, and find then fails: what there is, in order.
  { find /sys/fs/cgroup/cpu/brokel /sys/fs/cgroup/cpuacct/brokel -type d 2>/dev/null || true; } | sort
}

# The pids cgroup folder PID is in (cgroup v1), e.g. /sys/fs/cgroup/pids; fails without one.
pids_cgroup_of() {
  local path
  [ -d "$PIDS_ROOT" ] || return 1
  path="$(sed -n 's#^[0-9]*:pids:##p' "/proc/$1/cgroup" 2>/dev/null)"
  [ -n "$path" ] || return 1
  echo "$PIDS_ROOT${path%/}"
}

enter() {
  local run="$1" pid="$2" parent dir
  parent="$(pids_cgroup_of "$pid")" || return 0
  # A run killed with KILL could not remove its cgroup: those that are empty by now go (rmdir removes
  # only an empty one, so a live run's, which holds its runner, stays).
  for dir in "$parent"/brokel-run-tests-*; do
    [ -d "$dir" ] && rmdir "$dir" 2>/dev/null
  done
  dir="$parent/brokel-$run"
  mkdir "$dir" 2>/dev/null || return 0
  if echo "$pid" >"$dir/cgroup.procs" 2>/dev/null; then
    echo "$dir"
  else
    rmdir "$dir" 2>/dev/null
  fi
  return 0
}

# This script leaves the run's cgroup (it started in it, as the runner's child), so that neither it nor
# what it forks counts as the run's.
step_out() {
  local dir="$1"
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  echo "$$" >"$(dirname "$dir")/cgroup.procs" 2>/dev/null
  return 0
}

# One grep over every process's environment, not one a process: `ours` runs ten times a second while a
# run's leftovers exit, and a fork per process made that 5 s wait cost 30 s of CPU on a host where a
# fork is dear (run-tests-interrupted's leaker run took 33 s; now 9, most of it the 5 s grace).
marked() {
  # -z: the environment's entries are NUL-separated; -x: the whole entry; -l: the files that hold it.
  grep -lzx -- "BROKEL_TEST_RUN=$1" /proc/[0-9]*/environ 2>/dev/null | sed -n 's#^/proc/\([0-9]*\)/environ$#\1#p'
}

# This run's processes but the runner and this script, one PID a line.
ours() {
  local run="$1" dir="$2" runner="$3"
  {
    marked "$run"
    [ -n "$dir" ] && [ -d "$dir" ] && find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null
  } | sort -un | grep -vx -e "$$" -e "${runner:-$$}" || true
}

# Waits up to TENTHS tenths of a second for `ours` to list nothing; fails if it still lists some.
gone_within() {
  local tenths="$1" run="$2" dir="$3" runner="$4"
  for _ in $(seq "$tenths"); do
    [ -z "$(ours "$run" "$dir" "$runner")" ] && return 0
    sleep 0.1
  done
  [ -z "$(ours "$run" "$dir" "$runner")" ]
}

# Ends PIDS (TERM; KILL what is left after 3 s) and waits up to 3 s more until `ours` lists none.
finish() {
  local run="$1" dir="$2" runner="$3" left
  shift 3
  kill -TERM "$@" 2>/dev/null
  gone_within 30 "$run" "$dir" "$runner" && return 0
  mapfile -t left < <(ours "$run" "$dir" "$runner")
  [ "${#left[@]}" -gt 0 ] && kill -KILL "${left[@]}" 2>/dev/null
  gone_within 30 "$run" "$dir" "$runner"
  return 0
}

# The runner leaves the run's cgroup, which is then removed (with any nested run's below it).
remove_run_cgroup() {
  local dir="$1" runner="$2"
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  [ -n "$runner" ] && echo "$runner" >"$(dirname "$dir")/cgroup.procs" 2>/dev/null
  find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
  [ -d "$dir" ] && echo "test-teardown: could not remove $dir (a process is still in it)"
  return 0
}

remove_replica_cgroups() {
  local before="$1"
  # A cgroup keeps its folder after its processes die; give the kernel a moment to empty it.
  sleep 0.5
  comm -13 <(printf '%s\n' "$before") <(cgroups) | sort -r | while read -r replica; do
    rmdir "$replica" 2>/dev/null && echo "test-teardown: removed cgroup $replica"
  done
  return 0
}

end() {
  local run="$1" before="$2" dir="${3-}" runner="${4-}" pids
  step_out "$dir"
  mapfile -t pids < <(ours "$run" "$dir" "$runner")
  if [ "${#pids[@]}" -gt 0 ]; then
    echo "test-teardown: ending ${#pids[@]} process(es): ${pids[*]}"
    finish "$run" "$dir" "$runner" "${pids[@]}"
  fi
  remove_run_cgroup "$dir" "$runner"
  remove_replica_cgroups "$before"
  return 0
}

leftovers() {
  local run="$1" dir="$2" runner="$3" pids
  step_out "$dir"
  gone_within 50 "$run" "$dir" "$runner"
  mapfile -t pids < <(ours "$run" "$dir" "$runner")
  if [ "${#pids[@]}" -gt 0 ]; then
    echo "test-teardown: ${#pids[@]} process(es) the run started outlived it (a test that does not clean up):"
    ps -o pid=,ppid=,args= -p "$(
      IFS=,
      echo "${pids[*]}"
    )" 2>/dev/null | sed 's/^/  /'
    finish "$run" "$dir" "$runner" "${pids[@]}"
  fi
  remove_run_cgroup "$dir" "$runner"
  [ "${#pids[@]}" -eq 0 ] || return 3
}

case "${1:-}" in
  cgroups) cgroups ;;
  enter) enter "${2:?run id}" "${3:?pid}" ;;
  end) end "${2:?run id}" "${3-}" "${4-}" "${5-}" ;;
  leftovers) leftovers "${2:?run id}" "${3-}" "${4:?runner pid}" ;;
  *)
    echo "usage: test-teardown.sh cgroups | enter RUN_ID PID | end RUN_ID CGROUPS_BEFORE [RUN_CGROUP RUNNER_PID]" >&2
    echo "       | leftovers RUN_ID RUN_CGROUP RUNNER_PID" >&2
    exit 2
    ;;
esac
