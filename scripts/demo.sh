#!/usr/bin/env bash
# npm run demo [-- OPTIONS] (npm run demo -- --help): Sentinel, three demo services and the chaos
# engine, from a fresh clone. Installs what is missing, starts dockerd when no engine answers, builds
# the busybox image, then hands over to scripts/demo.ts, which starts everything, says what it shows
# and comments on what happens until Ctrl-C. --stop, --follow and --help need none of the set-up.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
export MOTIA_ANALYTICS_DISABLED=true

# A demo flag npm kept for itself (`npm run demo --stop`, without "--") is refused by demo.ts, naming
# the command to type, before any set-up (it would otherwise start a demo).
if [ "${npm_lifecycle_event:-}" = demo ] && env | grep -qE '^npm_config_(fast|stop|port|kill_min|kill_max|rate_limit|detach|follow|help)='; then
  exec node --import tsx scripts/demo.ts "$@"
fi
for a in "$@"; do
  case "$a" in
    --stop | --follow | --help | -h) exec node --import tsx scripts/demo.ts "$@" ;;
  esac
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
