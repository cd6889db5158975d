#!/usr/bin/env bash
# npm test: install and start what the tests need, run every test, end with "N passed, N failed".
# Tests start their own Redis and Sentinel instances on free ports and clean up after themselves.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
export MOTIA_ANALYTICS_DISABLED=true

t_setup=$SECONDS
ensure_apt docker.io redis-server redis-tools prometheus prometheus-node-exporter prometheus-alertmanager busybox-static stress-ng docker-compose chromium postgresql || exit 1
ensure_node_modules || exit 1

started_dockerd=""
stop_dockerd() {
  if [ -n "$started_dockerd" ]; then
    kill "$started_dockerd" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.2; done
  fi
}
trap stop_dockerd EXIT
if ! docker_up; then
  mkdir -p .data/test
  dockerd >.data/test/dockerd.log 2>&1 &
  started_dockerd=$!
  for _ in $(seq 1 100); do docker_up && break; sleep 0.2; done
  docker_up || { echo "dockerd did not start; see .data/test/dockerd.log" >&2; exit 1; }
fi
bash scripts/build-test-image.sh || exit 1
echo "setup (packages, node modules, dockerd, test image): $((SECONDS - t_setup)) s"

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  # The files that start a whole Sentinel (tests/integration, tests/security) take the longest:
  # they go first, so the short unit files fill the gaps at the end instead of leaving a long tail.
  mapfile -t files < <(
    find tests/integration tests/security -name '*.test.ts' | sort
    find src tests bench -name '*.test.ts' -not -path '*/node_modules/*' -not -path 'tests/integration/*' -not -path 'tests/security/*' | sort
  )
fi
# A file whose header says "@exclusive" measures the whole host (its CPU falling back under a
# threshold): it runs alone, after the others, so no other test file's load decides its result.
# A file tagged "@long" (minutes, mostly waiting) starts first: started last, it would run alone
# at the end while the other slots sit idle.
long=(); shared=(); exclusive=()
for f in "${files[@]}"; do
  if head -n 5 "$f" | grep -q '@exclusive'; then exclusive+=("$f")
  elif head -n 5 "$f" | grep -q '@long'; then long+=("$f")
  else shared+=("$f"); fi
done
shared=("${long[@]}" "${shared[@]}")
mkdir -p test-artifacts
# One TAP file per run and phase: two runs at once (a developer's and a helper's) must not mix counts.
passed=0; failed=0; status=0
run_phase() { # name concurrency files...
  local name=$1 concurrency=$2; shift 2
  [ $# -eq 0 ] && return 0
  local tap=test-artifacts/results-$$-$name.tap t_phase=$SECONDS
  node --import tsx --test --test-concurrency="$concurrency" \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" \
    "$@"
  local rc=$?
  echo "phase $name: $# files, $((SECONDS - t_phase)) s"
  local p f
  p=$(grep -aE '^# pass [0-9]+' "$tap" | tail -1 | awk '{print $3}')
  f=$(grep -aE '^# fail [0-9]+' "$tap" | tail -1 | awk '{print $3}')
  p=${p:-0}; f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" = 0 ]; then f=1; fi
  passed=$((passed + p)); failed=$((failed + f))
  [ "$rc" -ne 0 ] && status=$rc
  mv -f "$tap" "test-artifacts/results-$name.tap"
}
# Test files run TEST_CONCURRENCY at a time (default 3). Four at a time was 10 % faster here (589 s
# against 651 s on 2 cores) but loaded the host enough to break the chaos and anomaly tests in one
# run of two. Every test process watches a label value of its own and uses its own Redis, ports
# and names, so files never act on each other's containers.
run_phase shared "${TEST_CONCURRENCY:-3}" "${shared[@]}"
run_phase exclusive 1 "${exclusive[@]}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ] && [ "$status" = 0 ]
