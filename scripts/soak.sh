#!/usr/bin/env bash
# Runs one test file N times in a row, optionally beside a CPU hog, and prints how many runs passed:
# a test that must hold on a noisy machine is judged by this, not by one green run.
#   bash scripts/soak.sh [--runs N] [--hog] tests/integration/anomaly.test.ts
# --hog starts stress-ng with one CPU worker per core for the whole soak (ended by its PID at exit).
# The log of every failed run is kept under .data/soak/.
set -uo pipefail
cd "$(dirname "$0")/.."
export MOTIA_ANALYTICS_DISABLED=true

runs=20
hog=0
file=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --hog) hog=1; shift ;;
    -h|--help) sed -n 2,6p "$0"; exit 0 ;;
    *) file="$1"; shift ;;
  esac
done
[ -n "$file" ] && [ -f "$file" ] || { echo "usage: bash scripts/soak.sh [--runs N] [--hog] TEST_FILE" >&2; exit 2; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "--runs: expected a positive integer, got '$runs'" >&2; exit 2; }

hog_pid=""
stop_hog() { [ -n "$hog_pid" ] && kill "$hog_pid" 2>/dev/null && wait "$hog_pid" 2>/dev/null; }
trap stop_hog EXIT
if [ $hog = 1 ]; then
  stress-ng --cpu "$(nproc)" --timeout 0 --quiet &
  hog_pid=$!
  echo "CPU hog: stress-ng --cpu $(nproc) (pid $hog_pid)"
fi

logs=.data/soak
mkdir -p "$logs"
passed=0
failed=0
for i in $(seq 1 "$runs"); do
  start=$SECONDS
  log="$logs/$(basename "$file" .test.ts)-$i.log"
  if node --import tsx --test --test-timeout=600000 "$file" >"$log" 2>&1; then
    passed=$((passed + 1))
    rm -f "$log"
    echo "run $i: passed ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    echo "run $i: FAILED ($((SECONDS - start)) s), log $log"
  fi
done
echo "$file: $passed of $runs passed$([ $hog = 1 ] && echo ' beside a CPU hog'), $(nproc) cores, load now $(cut -d' ' -f1-3 /proc/loadavg)"
[ $failed -eq 0 ]
