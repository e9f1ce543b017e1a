#!/usr/bin/env bash
# The README's test command (and what .ci/run runs). On a fresh machine it installs and starts
# everything its tests need: Node 24, npm packages, Docker Engine, the cluster binaries (Go build,
# cached outside the repo), nektos/act, the real-nodes images, actionlint. Ends with one line:
# "N passed, N failed, N skipped".
#
# On a cold machine the Go build of the control plane is the critical path, then the integration
# tests; everything else runs beside them:
#   background, from the start: the control plane's Go build (before Node 24 and npm ci, which it
#     does not need); after npm ci, nektos/act's (niced) and the real-nodes images (debootstrap,
#     niced; kubelet and kube-proxy once the control plane's build is done).
#     Once those images and binaries exist: e2e scenario a (it waits out the real 300 s
#     tolerations), and beside it the real-nodes tests, then e2e scenarios b and c;
#   the bundle (built once, used by every check and test that runs it), then in the background,
#     niced: dist/ freshness, typecheck, lint, workflow lint, unit tests, Docker tests;
#   once the real-nodes images exist, niced: the oldest supported release's binaries, then the
#     compatibility subset on them (scripts/compat.sh);
#   then, once the control plane is built, the integration tests, INTEGRATION_WORKERS files at a
#     time, each on its own control plane. The background jobs' logs and counts come after them.
# Every stage prints its start time; each jest stage ends with its files' times, longest first.
#
#   SAFE_DRAIN_SKIP_E2E=1    leave out the e2e suite (counted as skipped, said loudly)
#   SAFE_DRAIN_SKIP_COMPAT=1 leave out the compatibility subset on the oldest release (counted as
#                            skipped, said loudly)
#   INTEGRATION_WORKERS=N    integration test files at a time (default 3 beside the compatibility
#                            subset, 4 without it: the files mostly wait on controllers and
#                            timers, and the subset's own Go build needs the cores left over)
set -uo pipefail
cd "$(dirname "$0")/.."
results=$(mktemp -d)
# The control plane's binaries (cached; a cold Go build takes ~10 min on 2 cores) are the critical
# path: they start first, before Node 24 and the npm packages, which they do not need.
bash cluster/build/build-binaries.sh >"$results/binaries.out" 2>"$results/binaries.log" &
binaries_pid=$!
source scripts/ensure-node24.sh || exit 1
passed=0
failed=0
skipped=0
failed_stages=()
# Lines that say why a stage failed, printed just before the totals (a CI log's tail shows them).
why_file=$results/why.txt
: >"$why_file"

stage() { printf '\n========== %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }
fail_stage() { failed=$((failed + 1)); failed_stages+=("$1"); }
# why NAME LOG: the last lines of LOG, as the reason NAME failed.
why() { { echo "-- $1: last lines of $2"; tail -n "${3:-6}" "$2" 2>/dev/null | cut -c1-240; } >>"$why_file"; }
# Runs a non-jest check; counts as one test.
check() {
  local name=$1; shift
  stage "$name"
  if "$@"; then passed=$((passed + 1)); else fail_stage "$name"; fi
}
# jest's counts from its --json output ($1) and exit code ($2), added to the totals (stage name $3).
count_jest() {
  local out=$1 rc=$2 name=$3 p f s
  if [ -s "$out" ]; then
    read -r p f s < <(node -e 'const r=require(process.argv[1]);console.log(r.numPassedTests,r.numFailedTests+r.numRuntimeErrorTestSuites,r.numPendingTests+r.numTodoTests)' "$out")
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    if [ "$f" -eq 0 ] && [ "$rc" -ne 0 ]; then failed=$((failed + 1)); fi
    node scripts/jest-times.mjs "$out"
    node scripts/jest-failures.mjs "$out" "$name" >>"$why_file"
  else
    echo "-- $name: no jest results (it did not run to the end)" >>"$why_file"
    failed=$((failed + 1))
  fi
  [ "$rc" -eq 0 ] || failed_stages+=("$name")
}
jest_json() { echo "$results/$(echo "$1" | tr ' /()' '____').json"; }
# Runs jest in the foreground and adds its counts.
jest_stage() {
  local name=$1; shift
  stage "$name"
  local out; out=$(jest_json "$name")
  NODE_OPTIONS=--experimental-vm-modules npx jest --json --outputFile="$out" "$@"
  count_jest "$out" $? "$name"
}
# e2e results ($1: its results dir, $2: exit code, $3: name) added to the totals.
count_e2e() {
  local dir=$1 rc=$2 name=$3 p=0 f=0
  if [ -f "$dir/summary.json" ]; then
    read -r p f < <(node -e 'const r=require(require("path").resolve(process.argv[1]));const a=Array.isArray(r)?r:[];console.log(a.filter(x=>x.passed).length,a.filter(x=>!x.passed).length)' "$dir/summary.json")
    # An unreadable summary counts as a failure, not as nothing.
    [[ $p =~ ^[0-9]+$ && $f =~ ^[0-9]+$ ]] || { p=0; f=1; }
    passed=$((passed + p)); failed=$((failed + f))
  fi
  if [ "$rc" -ne 0 ]; then failed_stages+=("$name"); [ "$f" -gt 0 ] || failed=$((failed + 1)); fi
  if [ -f "$dir/summary.json" ]; then
    node -e 'for(const x of require(require("path").resolve(process.argv[1])))if(!x.passed)console.log(`-- ${process.argv[2]} failed: ${x.name??x.scenario??JSON.stringify(x).slice(0,120)}`)' "$dir/summary.json" "$name" >>"$why_file" 2>/dev/null
  fi
}
# A background job's log, printed where its results are counted.
show() { printf '%s\n' "---------- $1 (log of a background job)"; cat "$2"; }

stage "install"
npm ci --no-audit --no-fund --loglevel=error || { echo "npm ci failed"; exit 1; }

stage "background builds: cluster binaries, nektos/act, Docker Engine, real-nodes images"
echo "cluster binaries: building in the background since the start (log: $results/binaries.log)"
# nektos/act for test/integration/act-self-test.test.ts, beside the Go build (niced by the script);
# the test waits on the script's lock while it builds. Without Go yet, the cluster build installs it.
act_pid=
if command -v go >/dev/null 2>&1; then
  bash scripts/act-install.sh >"$results/act.out" 2>"$results/act.log" &
  act_pid=$!
  echo "nektos/act: building in the background (log: $results/act.log)"
fi
docker_ok=false
bash scripts/start-docker.sh 2>"$results/docker.log"
docker_rc=$?
cat "$results/docker.log"
if [ "$docker_rc" -eq 0 ]; then
  docker_ok=true
  # debootstrap (niced), then kubelet and kube-proxy once the control plane's build releases the lock.
  bash scripts/build-node-image.sh >"$results/node-image.out" 2>"$results/node-image.log" &
  node_image_pid=$!
  echo "real-nodes images: building in the background (log: $results/node-image.log)"
else
  echo "!!!!! Docker Engine could not be started: the Docker and real-nodes tests did NOT run (counted as failed) !!!!!"
  fail_stage "Docker Engine"
  why "Docker Engine" "$results/docker.log" 10
fi
run_e2e=true
[ "${SAFE_DRAIN_SKIP_E2E:-0}" = 1 ] && run_e2e=false
e2e_backend=${SAFE_DRAIN_E2E_BACKEND:-real-nodes}
# Each e2e run writes its timelines and summary.json here; an earlier run's are not this one's.
rm -rf e2e-results/scenario-a e2e-results/scenarios-b-c e2e-results/local
real_nodes_a_pid=
real_nodes_b_pid=
# Compatibility (scripts/compat.sh): the oldest supported release's binaries, then the subset on
# them, beside the integration tests. The build lock takes one build at a time in no set order, so
# it starts after the real-nodes images (their kubelet build is on the e2e's path, this is not).
run_compat=true
[ "${SAFE_DRAIN_SKIP_COMPAT:-0}" = 1 ] && run_compat=false
if $run_compat; then
  (
    if $docker_ok; then bash scripts/build-node-image.sh >/dev/null 2>&1; fi
    bash scripts/compat.sh build >"$results/compat-binaries.log" 2>&1 || { echo "0 passed, 1 failed (the oldest release's binaries did not build)"; exit 1; }
    bash scripts/compat.sh run
  ) >"$results/compat.out" 2>&1 &
  compat_pid=$!
  echo "compatibility subset: in the background once the real-nodes images exist (log: $results/compat.out)"
fi

stage "bundle (once per run: dist/ check, act and CLI tests use it)"
export SAFE_DRAIN_BUNDLE_DIR="$results/bundle"
if node scripts/bundle.mjs --outdir "$SAFE_DRAIN_BUNDLE_DIR" >/dev/null; then
  echo "built into $SAFE_DRAIN_BUNDLE_DIR"
else
  unset SAFE_DRAIN_BUNDLE_DIR
  fail_stage "bundle"
fi

# The checks that need no cluster, in the background at a lower priority: the control plane's
# Go build (the critical path) keeps the cores, they fill its single-threaded link phases and the
# integration tests' waits. Printed and counted after the integration tests.
stage "checks in the background (niced): dist/, typecheck, lint, workflows, unit and Docker tests"
bg_check() {
  local name=$1; shift
  stage "$name"
  "$@"
  printf '%s\t%s\n' "$?" "$name" >>"$results/checks.tsv"
}
bg_jest() {
  local name=$1; shift
  stage "$name"
  local out; out=$(jest_json "$name")
  NODE_OPTIONS=--experimental-vm-modules npx jest --json --outputFile="$out" "$@"
  echo $? >"$out.rc"
}
(
  renice -n 10 -p "$BASHPID" >/dev/null
  if [ -n "${SAFE_DRAIN_BUNDLE_DIR:-}" ]; then bg_check "dist is fresh" node scripts/bundle.mjs --check --from "$SAFE_DRAIN_BUNDLE_DIR"; fi
  bg_check "typecheck" npm run --silent typecheck
  bg_check "lint" npm run --silent lint
  bg_check "workflows and action.yml" bash scripts/lint-workflows.sh
  bg_jest "unit tests" --selectProjects unit --maxWorkers=2
  if $docker_ok; then SAFE_DRAIN_REQUIRE_DOCKER=1 bg_jest "docker tests" --selectProjects docker --runInBand; fi
  stage "checks done"
) >"$results/checks.log" 2>&1 &
checks_pid=$!
echo "log: $results/checks.log"

# Real nodes, in the background: e2e scenario a as soon as the images and binaries exist, and
# beside it the real-nodes tests followed by e2e scenarios b and c (each e2e run on its own
# cluster).
if $docker_ok; then
  # Each waits on the builds' locks, then finds the images and binaries cached.
  images_and_binaries() { bash scripts/build-node-image.sh >/dev/null 2>&1 && bash cluster/build/build-binaries.sh >/dev/null 2>&1; }
  if $run_e2e && [ "$e2e_backend" = real-nodes ]; then
    (
      images_and_binaries || { echo "real-nodes images or cluster binaries missing (see their logs)"; exit 1; }
      echo "== e2e scenario a, real nodes ($(date +%H:%M:%S))"
      E2E_BACKEND=real-nodes E2E_SCENARIOS=a E2E_RESULTS=e2e-results/scenario-a npx tsx e2e/run.ts
      echo $? >"$results/e2e-a.rc"
      echo "== e2e scenario a ended ($(date +%H:%M:%S))"
    ) >"$results/e2e-a.log" 2>&1 &
    real_nodes_a_pid=$!
  fi
  (
    images_and_binaries || { echo "real-nodes images or cluster binaries missing (see their logs)"; exit 1; }
    echo "== real-nodes tests ($(date +%H:%M:%S))"
    SAFE_DRAIN_REQUIRE_DOCKER=1 NODE_OPTIONS=--experimental-vm-modules npx jest --json --outputFile="$results/real-nodes.json" --selectProjects real-nodes
    echo $? >"$results/real-nodes.rc"
    if $run_e2e && [ "$e2e_backend" = real-nodes ]; then
      echo "== e2e scenarios b, c, real nodes ($(date +%H:%M:%S))"
      E2E_BACKEND=real-nodes E2E_SCENARIOS=b,c E2E_RESULTS=e2e-results/scenarios-b-c npx tsx e2e/run.ts
      echo $? >"$results/e2e-bc.rc"
    fi
    echo "== ended ($(date +%H:%M:%S))"
  ) >"$results/real-nodes.log" 2>&1 &
  real_nodes_b_pid=$!
  echo "real-nodes tests and e2e: start in the background once the images exist (logs: $results/real-nodes.log, $results/e2e-a.log)"
fi

stage "cluster binaries (built in the background since the start)"
if wait "$binaries_pid"; then
  tail -n 3 "$results/binaries.log"
else
  tail -n 30 "$results/binaries.log"
  echo "building the cluster binaries failed"; exit 1
fi
if [ -z "$act_pid" ]; then
  bash scripts/act-install.sh >"$results/act.out" 2>"$results/act.log" &
  act_pid=$!
fi
# Without Docker, the e2e runs on the local (kwok) backend, in the background beside the
# integration tests.
e2e_local_pid=
if $run_e2e && { ! $docker_ok || [ "$e2e_backend" = local ]; }; then
  $docker_ok || echo "!!!!! no Docker Engine: the e2e runs on the local (kwok) backend, NOT on real nodes !!!!!"
  (
    echo "== e2e, local backend ($(date +%H:%M:%S))"
    E2E_BACKEND=local E2E_RESULTS=e2e-results/local npx tsx e2e/run.ts
    echo $? >"$results/e2e-local.rc"
  ) >"$results/e2e-local.log" 2>&1 &
  e2e_local_pid=$!
fi

# Beside the compatibility subset, 3: with 4 its niced Go build got so little CPU that the subset
# ran after the integration tests instead of beside them (cold: 28.9 min against 26.9 with 3).
# Without it, 4: with 3 the two cores were 55% idle on average through this stage.
if $run_compat; then integration_workers=${INTEGRATION_WORKERS:-3}; else integration_workers=${INTEGRATION_WORKERS:-4}; fi
jest_stage "integration tests (real control plane)" --selectProjects integration --maxWorkers="$integration_workers"

if $run_compat; then
  stage "compatibility subset on the oldest supported Kubernetes (background since the real-nodes images)"
  wait "$compat_pid"
  compat_rc=$?
  tail -n 2 "$results/compat-binaries.log"
  cat "$results/compat.out"
  read -r p _ f _ < <(tail -n 1 "$results/compat.out")
  [[ ${p:-} =~ ^[0-9]+$ && ${f:-} =~ ^[0-9]+$ ]] || { p=0; f=1; }
  passed=$((passed + p)); failed=$((failed + f))
  [ "$compat_rc" -eq 0 ] || { failed_stages+=("compat"); why "compat" "$results/compat.out" 4; }
else
  echo "!!!!! SAFE_DRAIN_SKIP_COMPAT=1: the compatibility subset was NOT run (counted as skipped) !!!!!"
  skipped=$((skipped + 1))
fi

stage "checks (background since the bundle)"
wait "$checks_pid"
show "checks" "$results/checks.log"
while IFS=$'\t' read -r rc name; do
  if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); else fail_stage "$name"; echo "-- $name failed: its output is in the checks log above" >>"$why_file"; fi
done <"$results/checks.tsv"
count_jest "$(jest_json "unit tests")" "$(cat "$(jest_json "unit tests").rc" 2>/dev/null || echo 1)" "unit tests"
if $docker_ok; then
  count_jest "$(jest_json "docker tests")" "$(cat "$(jest_json "docker tests").rc" 2>/dev/null || echo 1)" "docker tests"
fi

stage "act build (background)"
if wait "$act_pid"; then tail -n 2 "$results/act.log"; else tail -n 20 "$results/act.log"; echo "(act-self-test.test.ts reports what this means)"; fi

if $docker_ok; then
  stage "real-nodes images (background)"
  if wait "$node_image_pid"; then cat "$results/node-image.out"; else tail -n 30 "$results/node-image.log"; fail_stage "real-nodes images"; why "real-nodes images" "$results/node-image.log"; fi
  stage "real-nodes tests, then e2e scenarios b and c (background)"
  wait "$real_nodes_b_pid"
  show "real-nodes tests, e2e b and c" "$results/real-nodes.log"
  count_jest "$results/real-nodes.json" "$(cat "$results/real-nodes.rc" 2>/dev/null || echo 1)" "real-nodes tests"
  if $run_e2e && [ "$e2e_backend" = real-nodes ]; then
    count_e2e e2e-results/scenarios-b-c "$(cat "$results/e2e-bc.rc" 2>/dev/null || echo 1)" "e2e b,c"
    stage "e2e scenario a, real nodes (background since its images existed)"
    wait "$real_nodes_a_pid"
    show "e2e scenario a" "$results/e2e-a.log"
    count_e2e e2e-results/scenario-a "$(cat "$results/e2e-a.rc" 2>/dev/null || echo 1)" "e2e a"
  fi
fi
if [ -n "$e2e_local_pid" ]; then
  stage "e2e, local backend (background)"
  wait "$e2e_local_pid"
  show "e2e, local backend" "$results/e2e-local.log"
  count_e2e e2e-results/local "$(cat "$results/e2e-local.rc" 2>/dev/null || echo 1)" "e2e"
fi
if ! $run_e2e; then
  echo "!!!!! SAFE_DRAIN_SKIP_E2E=1: the e2e suite was NOT run (counted as skipped) !!!!!"
  skipped=$((skipped + 3))
fi

stage "done"
if [ ${#failed_stages[@]} -gt 0 ]; then
  head -n 20 "$why_file"
  echo "FAILED stages: ${failed_stages[*]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ ${#failed_stages[@]} -eq 0 ]
