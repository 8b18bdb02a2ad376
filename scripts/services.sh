#!/usr/bin/env bash
# Throwaway Redis and PostgreSQL on loopback for the scale-out tests.
#
#   scripts/services.sh start   # start both (installs redis-server/postgresql with apt if missing), print env lines
#   scripts/services.sh env     # print the env lines of the running services
#   scripts/services.sh stop    # stop what `start` started and delete its data
#
# Printed lines (KEY=value, for `set -a; eval "$(scripts/services.sh start)"; set +a`):
#   TEST_REDIS_URL=redis://127.0.0.1:<port>
#   TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:<port>/postgres
# They are deliberately not REDIS_URL/DATABASE_URL: those would switch every server the
# other tests spawn onto the shared services. Use them as REDIS_URL/DATABASE_URL by hand
# (see server/SCALE.md).
#
# Idempotent: `start` on running services only prints their lines. Data lives in
# $SERVICES_DIR (default /tmp/stellar-insights-services): no persistence (`--save ''
# --appendonly no`, fsync off), trust auth, listening on 127.0.0.1 only.
set -euo pipefail

DIR="${SERVICES_DIR:-/tmp/stellar-insights-services}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

log() { echo "services: $*" >&2; }

free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    return
  fi
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000))
    # Nothing answers on it: free (a race with another process is unlikely and fails loudly).
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  log "no free port found"
  return 1
}

# PostgreSQL refuses to run as root: run its tools as `postgres` then.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install_missing() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  [ -x "$PG_BIN/initdb" ] || missing+=(postgresql)
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
  # The Debian package starts a system cluster on 5432 that nobody here uses.
  $sudo service postgresql stop >/dev/null 2>&1 || true
}

redis_running() {
  [ -f "$DIR/redis.port" ] && redis-cli -p "$(cat "$DIR/redis.port")" ping 2>/dev/null | grep -q PONG
}

pg_running() {
  [ -f "$DIR/pg.port" ] && as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg" status >/dev/null 2>&1
}

start_redis() {
  redis_running && return
  local port
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --dir "$DIR" --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" >&2
  echo "$port" >"$DIR/redis.port"
  for _ in $(seq 50); do redis_running && return; sleep 0.1; done
  log "redis did not start; see $DIR/redis.log"
  return 1
}

start_pg() {
  pg_running && return
  local port
  port=$(free_port)
  rm -rf "$DIR/pg"
  mkdir -p "$DIR/pg"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$DIR/pg"
  as_pg "$PG_BIN/initdb" -D "$DIR/pg" -U postgres -A trust --no-sync -E UTF8 >"$DIR/initdb.log" 2>&1 ||
    { log "initdb failed; see $DIR/initdb.log"; return 1; }
  as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg" -l "$DIR/pg/server.log" -w -t 30 start \
    -o "-p $port -k $DIR/pg -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" >&2 ||
    { log "postgres did not start; see $DIR/pg/server.log"; return 1; }
  echo "$port" >"$DIR/pg.port"
}

print_env() {
  redis_running || { log "redis is not running (run: $0 start)"; return 1; }
  pg_running || { log "postgres is not running (run: $0 start)"; return 1; }
  echo "TEST_REDIS_URL=redis://127.0.0.1:$(cat "$DIR/redis.port")"
  echo "TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$(cat "$DIR/pg.port")/postgres"
}

stop() {
  if [ -f "$DIR/redis.pid" ]; then
    kill "$(cat "$DIR/redis.pid")" 2>/dev/null || true
    rm -f "$DIR/redis.pid" "$DIR/redis.port"
  fi
  if [ -d "$DIR/pg" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR"
}

case "${1:-}" in
  start)
    install_missing
    mkdir -p "$DIR"
    chmod 755 "$DIR"
    start_redis
    start_pg
    print_env
    ;;
  env) print_env ;;
  stop) stop ;;
  *)
    echo "usage: $0 start|env|stop" >&2
    exit 2
    ;;
esac
