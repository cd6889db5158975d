# Shared shell helpers for start.sh and test.sh. Everything here is idempotent and fast when
# there is nothing to do, so the second run of either command starts at once.

APT_UPDATED=0
ensure_apt() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or install them: apt-get install -y ${missing[*]})" >&2
    return 1
  fi
  echo "installing Debian packages: ${missing[*]}"
  if [ $APT_UPDATED = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || return 1
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || return 1
}

ensure_node_modules() {
  local stamp=node_modules/.sentinel-lock.sha256
  local want
  want=$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -c1-64)
  if [ -d node_modules ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  echo "installing npm packages"
  # redis-memory-server (a Motia dependency) would download Redis; Sentinel runs Debian's.
  REDISMS_DISABLE_POSTINSTALL=1 MOTIA_ANALYTICS_DISABLED=true npm install --no-audit --no-fund --loglevel=error || return 1
  echo "$want" > "$stamp"
}

# redis_up PORT: true when a Redis answers on 127.0.0.1:PORT
redis_up() {
  redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG
}

# start_redis PORT DIR: Redis with an append-only file (fsync every second) in DIR.
start_redis() {
  local port=$1 dir=$2
  mkdir -p "$dir"
  # 9>&-: the daemon must not inherit lock_data_dir's lock, or a Redis left behind would keep the
  # data directory locked after Sentinel is gone.
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" \
    --appendonly yes --appendfsync everysec --save '' \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null 9>&-
  for _ in $(seq 1 50); do redis_up "$port" && return 0; sleep 0.1; done
  echo "Redis did not start on port $port; see $dir/redis.log" >&2
  return 1
}

# redis_running_in DIR: prints the pid of the redis-server that DIR's pidfile names, if it still
# runs (one left by a start that was killed -9, say); fails when there is none.
redis_running_in() {
  local pid
  pid=$(cat "$1/redis.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = redis-server ] || return 1
  echo "$pid"
}

# lock_data_dir DIR PORT HOST: one npm start per data directory. A second start on DIR fails here,
# before it starts a Redis, with a message naming the first (its pid, port, host, start time, and
# how to stop it). The lock is flock(1) on DIR/start.lock held on fd 9 of this shell: Sentinel
# inherits the descriptor, so the lock lasts while either runs (even when the shell is killed -9);
# redis-server does not (see start_redis). The file is never deleted: a start that had opened it
# would lock the deleted file while the next one locks a new one.
# Sentinel's main process takes its own lock, DIR/instance.lock (src/platform/instance/lock.ts), for the
# starts that do not go through this script (tests, the demo). It is another file, so this lock
# never blocks the Sentinel this script starts; and `record` refuses while such a Sentinel runs.
lock_data_dir() {
  local dir=$1 port=$2 host=$3
  local file="$dir/start.lock"
  mkdir -p "$dir"
  exec 9>>"$file"
  if ! flock -n 9; then
    exec 9>&-
    node --import tsx src/platform/instance/start-lock-cli.ts held "$file"
    return 1
  fi
  if ! node --import tsx src/platform/instance/start-lock-cli.ts record "$file" $$ "$port" "$host"; then
    exec 9>&-
    return 1
  fi
}

docker_up() {
  [ -S /var/run/docker.sock ] && docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}
