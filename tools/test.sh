#!/usr/bin/env bash
# `make test`: the whole suite as CI runs it, printing the time of each stage.
#
# Order, chosen for a cold machine's clock (2 cores). The critical path is the kind suite's: the Kubernetes compile
# (~7 min of 2 idle cores, ~18 when it shares them evenly), the node image, then ~30 min of drills on the cluster.
#   1. the test control plane compiles (needs only Go) while the machine is set up (apt, venv: network, disk); they
#      and the kind images' build run in sessions of their own with a raised CPU weight (`CRITICAL`): the
#      scheduler's autogroups weigh each session as one, and a cold compile that got an even share ended 18 min
#      in, so the kind suite ended at 53 min;
#   2. beside them: the main suite, pure logic first (no wall clock to miss while the compile takes most of the
#      CPU), then its sandbox tests; the kind suite debootstraps the kind images and builds the Go images that need
#      no Kubernetes binary; the chaos suite (sandbox drills against wall clocks, the heaviest) waits for the compile;
#   3. once the compile is done, the main suite goes on with its part on the test control plane (tests/k8s), the
#      chaos suite runs, and the kind suite builds the node image and runs the drills on the kind cluster.
# At the end, always: the test cluster deleted, and the Docker daemon stopped if this run started it.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
export GO
export GAMEDAY_NO_SKIPS=1  # the suites below are promised: a skip in them is a failure (tests/conftest.py), CI or not
LOGS=${GAMEDAY_TEST_LOGS:-out/test-logs}
mkdir -p "$LOGS"
stage() { tools/stage.sh "$@"; }
test_clusters() { awk '!/^#/ && NF { print $2 }' tools/kind/test-clusters; }
# a prefix: CMD in a session of its own whose CPU weight is raised (CRITICAL_NICE), waited for, its status kept
CRITICAL=(setsid -w bash -c 'echo "$CRITICAL_NICE" >/proc/$$/autogroup 2>/dev/null; exec "$@"' _)

cleanup() {
  [[ -z ${testenv:-} ]] || kill -- -"$testenv" 2>/dev/null  # a compile still running when an early stage failed
  if [[ -x $BIN/gameday ]] && tools/kind/dockerd.sh status | grep -q running; then
    for name in $(test_clusters); do
      $BIN/gameday cluster down --name "$name" >/dev/null 2>&1 || true
    done
  fi
  tools/kind/dockerd.sh down
}
trap cleanup EXIT

# its own process group, so an early failure stops the whole compile; its exit status lands in a file the suites
# wait for (they run in subshells, which cannot `wait` for a sibling)
TESTENV_RC=$LOGS/k8s-testenv.rc
rm -f "$TESTENV_RC"
#: the CPU weight (autogroup nice) of the critical path's sessions before any wall-clock test runs: the set-up, the
#: compile and the kind images' preparation. -10 weighs ten times a session at 0, so they take nearly all of both
#: cores (cold, the compile and the preparation then end together, ~10 min in) and only the main suite's pure-logic
#: tests run beside them. The set-up is one of them: at weight 0 beside a compile at -10 it took 315 s, not 68.
CRITICAL_NICE=${GAMEDAY_TEST_CRITICAL_NICE:--10}
#: the node image's build, which runs beside the chaos suite's sandbox drills (at -10 one of them missed its clock)
BUILD_NICE=${GAMEDAY_TEST_BUILD_NICE:--5}
export CRITICAL_NICE
setsid bash -c 'echo "$CRITICAL_NICE" >/proc/$$/autogroup 2>/dev/null
  tools/stage.sh k8s-testenv tools/k8s-testenv/build.sh; echo $? >"$1"' _ "$TESTENV_RC" \
  >"$LOGS/k8s-testenv.log" 2>&1 &
testenv=$!
await_testenv() {  # the test control plane's binaries, once the compile is done (a cold one takes ~15-25 min)
  local waited=0
  while [[ ! -s $TESTENV_RC ]]; do
    (( waited < 3600 )) || { echo "the test control plane's compile did not end within 60 min"; return 1; }
    sleep 2; (( waited += 2 ))
  done
  [[ $(cat "$TESTENV_RC") == 0 ]] && return 0
  echo "the test control plane did not build:"; tail -n 20 "$LOGS/k8s-testenv.log"; return 1
}
stage setup "${CRITICAL[@]}" make --no-print-directory setup || exit 1
stage ruff "$BIN/ruff" check . || exit 1
# the project's own modules compiled once: with PYTHONDONTWRITEBYTECODE set (as on CI) each of the suites'
# `gameday` processes would compile them again (a stale .pyc is ignored, so this is safe after any edit)
"$BIN/python" -m compileall -q -j 0 gameday drills sim >/dev/null || exit 1
stage docker-up tools/kind/dockerd.sh up || exit 1
# a cluster a killed `make bench` or test run left in the cached data root restarts with the daemon: remove it so
# it does not eat the CPU the suites need (tests/kind/conftest.py also deletes the test clusters before making one)
for name in $(test_clusters); do
  stale=$(docker ps -aq --filter "label=io.x-k8s.kind.cluster=$name")
  [[ -z $stale ]] || { echo "removing a stale kind cluster ($name)"; docker rm -f $stale >/dev/null; }
done

# Three suites side by side; all mostly wait on wall clocks (alerts, rollouts, kills and recoveries):
#   kind  - drills on the real kind cluster, once its node image is built;
#   chaos - kill -9 anywhere, dying dependencies, signals, fuzzing (tests/chaos, kills on the test control plane);
#   main  - everything else.
# the slowest sandbox drills and the import check go with chaos: the kind suite is the longest once its node image
# is built (warm, it started ten minutes late when they ran before it), so the three suites end together
CHAOS=(tests/chaos tests/drills/test_branch_drills.py tests/drills/test_drill_e2e.py tests/drills/test_import_graph.py)
CHAOS_K8S=(tests/k8s/test_kill_anywhere_k8s.py)
PYTEST=("$BIN/pytest" -q -p no:cacheprovider --durations=40)
# Each suite in a cgroup v1 cpuacct group of its own, so its log ends with the CPU-seconds each test cost
# (tests/cpu_accounting.py): the suites share two cores, so wall-clock durations mostly measure the neighbours.
ACCT=/sys/fs/cgroup/cpuacct/gameday-test
in_group() {  # in_group SUITE CMD...: run CMD in SUITE's group when the host has cgroup v1's cpuacct
  local group=$ACCT/$1; shift
  if mkdir -p "$group" 2>/dev/null && echo $BASHPID >"$group/tasks" 2>/dev/null; then
    echo 0 >"$group/cpuacct.usage" 2>/dev/null
    GAMEDAY_TEST_CPUACCT=$group "$@"
  else
    "$@"
  fi
}
docker_cpu() { awk '{printf "%.0f", $1 / 1e9}' /sys/fs/cgroup/cpuacct/docker/cpuacct.usage 2>/dev/null || echo 0; }
docker_cpu_start=$(docker_cpu)
# main and kind: their part that needs no Kubernetes binary first (beside a cold compile), then the rest; chaos waits
kind_suite() {
  stage kind-prepare "${CRITICAL[@]}" "$BIN/gameday" cluster build --prepare || return 1
  await_testenv || return 1
  CRITICAL_NICE=$BUILD_NICE stage kind-build "${CRITICAL[@]}" "$BIN/gameday" cluster build || return 1
  stage pytest-kind "${PYTEST[@]}" tests/kind
}
chaos_suite() {
  local first=0
  await_testenv || return 1
  stage pytest-chaos "${PYTEST[@]}" "${CHAOS[@]}" || first=1
  stage pytest-chaos-k8s "${PYTEST[@]}" "${CHAOS_K8S[@]}" && (( first == 0 ))
}
# the main suite's folders, those with services last (tests/kind, tests/k8s and the chaos suite run elsewhere)
SERVICES=(tests/drills tests/warroom)
mapfile -t LOGIC < <(ls -d tests/*/ | sed 's:/$::' | grep -vxE 'tests/(kind|k8s|chaos|drills|warroom)')
main_suite() {
  local first=0
  stage pytest "${PYTEST[@]}" "${LOGIC[@]}" "${SERVICES[@]}" "${CHAOS[@]/#/--ignore=}" || first=1
  await_testenv || return 1
  grep -h '^\[stage\] k8s-testenv' "$LOGS/k8s-testenv.log" >&2
  stage pytest-k8s "${PYTEST[@]}" tests/k8s "${CHAOS_K8S[@]/#/--ignore=}" && (( first == 0 ))
}
(in_group kind kind_suite) >"$LOGS/pytest-kind.log" 2>&1 &
kind=$!
(in_group chaos chaos_suite) >"$LOGS/pytest-chaos.log" 2>&1 &
chaos=$!
(in_group main main_suite) 2>&1 | tee "$LOGS/pytest-main.log"
status=${PIPESTATUS[0]}
wait "$testenv" 2>/dev/null
testenv=
wait "$chaos"
chaos_status=$?
wait "$kind"
kind_status=$?
echo "[cpu] the kind cluster's containers (Docker's cgroup): $(( $(docker_cpu) - docker_cpu_start )) CPU-s" >&2
for suite in chaos kind; do
  echo "---- tests/$suite (ran beside the rest; full log $LOGS/pytest-$suite.log)"
  tail -n 60 "$LOGS/pytest-$suite.log"
done
# last, so the end of a CI log names every failure of every suite
echo "---- every suite's stages, failures and counts"
for suite in main chaos kind; do
  grep -hE '^(FAILED|ERROR) |^[0-9]+ (passed|failed)|^=+ .*[0-9]+ (passed|failed|error)|\[stage\] [a-z0-9-]+: [0-9]+ s' \
    "$LOGS/pytest-$suite.log" | sed "s/^/$suite: /" | cut -c1-400
done
(( status == 0 && chaos_status == 0 && kind_status == 0 ))
