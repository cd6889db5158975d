#!/usr/bin/env bash
# npm run demo [-- --port N] [-- --stop]: Sentinel, three demo services and the chaos engine,
# from a fresh clone. Installs what is missing, starts dockerd when no engine answers, builds the
# busybox image, then hands over to scripts/demo.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
export MOTIA_ANALYTICS_DISABLED=true

for a in "$@"; do
  if [ "$a" = --stop ]; then
    exec node --import tsx scripts/demo.ts "$@"
  fi
done

ensure_apt docker.io redis-server redis-tools busybox-static
ensure_node_modules

DEMO_DIR="${DEMO_DIR:-.data/demo}"
mkdir -p "$DEMO_DIR"
dockerd_pid=""
if ! docker_up; then
  # Left running for the demo; `--stop` ends it (only this one, by its PID).
  setsid dockerd >"$DEMO_DIR/dockerd.log" 2>&1 < /dev/null &
  dockerd_pid=$!
  for _ in $(seq 1 100); do docker_up && break; sleep 0.2; done
  docker_up || { echo "dockerd did not start; see $DEMO_DIR/dockerd.log" >&2; exit 1; }
fi
bash scripts/build-test-image.sh
DEMO_DOCKERD_PID="$dockerd_pid" exec node --import tsx scripts/demo.ts "$@"
