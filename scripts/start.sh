#!/usr/bin/env bash
# npm start: install what is missing, start Redis with persistence, start Sentinel.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
export MOTIA_ANALYTICS_DISABLED=true

ensure_apt redis-server redis-tools
ensure_node_modules

# Fails here, before anything starts or any URL is printed, with one error naming every bad
# variable (the environment and .env).
settings=$(node --import tsx scripts/check-config.ts --export) || exit 1
eval "$settings"

# A node agent alone (src/fleet/agent-main.ts): no Redis of its own, no port, no Motia.
if [ "$SENTINEL_ROLE" = agent ]; then
  exec node --import tsx src/fleet/agent-main.ts
fi

# One instance per data directory: a second start stops here, naming the first, before any Redis.
lock_data_dir "$DATA_DIR" "$PORT" "$HOST" || exit 1

redis_pid=
# With REDIS_SENTINELS the Redis is the one Redis Sentinel names (REDIS_HOST is not used): none here.
if [ -z "$REDIS_SENTINELS" ] && { [ "$REDIS_HOST" = 127.0.0.1 ] || [ "$REDIS_HOST" = localhost ]; }; then
  if ! redis_up "$REDIS_PORT"; then
    if left=$(redis_running_in "$DATA_DIR/redis"); then
      echo "a Redis server (pid $left) left by an earlier start still runs on $DATA_DIR/redis, not on port $REDIS_PORT: two would share one append-only file; stop it first (kill $left)" >&2
      exit 1
    fi
    start_redis "$REDIS_PORT" "$DATA_DIR/redis"
    redis_pid=$(cat "$DATA_DIR/redis/redis.pid")
  fi
fi
cleanup() {
  # The Redis this start started, by the pid it had then: never whatever the pidfile says now.
  if [ -n "$redis_pid" ] && [ "$(cat "/proc/$redis_pid/comm" 2>/dev/null)" = redis-server ]; then
    kill "$redis_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

docker_up || echo "note: no Docker engine at ${DOCKER_SOCKET}: containers will not be watched (see /healthz)"

echo "Sentinel API:        http://${HOST}:${PORT}/api/incidents"
echo "Sentinel dashboard:  http://${HOST}:${PORT}/dashboard.html"
echo "Health:              http://${HOST}:${PORT}/healthz"
if [ "$WORKBENCH" = true ]; then
  echo "Motia Workbench:     http://${HOST}:${PORT}/__motia (admin key as the password)"
fi

export MOTIA_WORKBENCH_BASE=/__motia MOTIA_DISABLE_MEMORY_SERVER=true MOTIA_REDIS_HOST="$REDIS_HOST" MOTIA_REDIS_PORT="$REDIS_PORT"
node scripts/motia-start.mjs "$PORT" "$HOST" &
child=$!
trap 'kill -TERM $child 2>/dev/null; wait $child; exit 130' INT TERM
wait $child
