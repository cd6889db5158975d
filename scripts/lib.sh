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
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" \
    --appendonly yes --appendfsync everysec --save '' \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
  for _ in $(seq 1 50); do redis_up "$port" && return 0; sleep 0.1; done
  echo "Redis did not start on port $port; see $dir/redis.log" >&2
  return 1
}

docker_up() {
  [ -S /var/run/docker.sock ] && docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}
