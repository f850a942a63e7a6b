#!/usr/bin/env bash
# Start the services that the gateway's Redis/PostgreSQL tests need, bound to 127.0.0.1 only.
#
# Usage (CI, or by hand before the tests):
#   eval "$(scripts/services.sh)"      # starts them and exports the two URLs below
#   scripts/services.sh stop           # stops what this script started
#
# Prints, on stdout, nothing but the export lines:
#   export MLWARDEN_TEST_REDIS_URL=redis://127.0.0.1:PORT/0
#   export MLWARDEN_TEST_POSTGRES_URL=postgresql://mlwarden:PASSWORD@127.0.0.1:PORT/mlwarden_test
# Everything else goes to stderr. Idempotent: a service already answering is reused.
# Installs redis-server and postgresql with apt-get when they are missing (needs root).
set -euo pipefail

REDIS_PORT="${MLWARDEN_REDIS_PORT:-6379}"
PG_PORT="${MLWARDEN_PG_PORT:-5432}"
PG_USER=mlwarden
PG_PASSWORD=mlwarden-test   # a throwaway test database on loopback only
PG_DB=mlwarden_test
STATE_DIR="${MLWARDEN_SERVICES_DIR:-/tmp/mlwarden-services}"

log() { echo "services: $*" >&2; }

as_root() {
  if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi
}

install_missing() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]}"
  as_root apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

start_redis() {
  if redis_up; then
    log "redis already answering on 127.0.0.1:$REDIS_PORT"
    return
  fi
  mkdir -p "$STATE_DIR"
  # No persistence: the tests need a live server, not its data.
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes \
    --save '' --appendonly no --daemonize yes \
    --pidfile "$STATE_DIR/redis.pid" --logfile "$STATE_DIR/redis.log" >&2
  for _ in $(seq 50); do redis_up && break; sleep 0.1; done
  redis_up || { log "redis did not start (see $STATE_DIR/redis.log)"; exit 1; }
  log "redis started on 127.0.0.1:$REDIS_PORT"
}

pg_cluster() {
  # The newest installed cluster "VERSION NAME"; created when there is none.
  local line
  line="$(pg_lsclusters -h 2>/dev/null | sort -k1,1n | tail -1 || true)"
  if [[ -z "$line" ]]; then
    local version
    version="$(ls /usr/lib/postgresql | sort -n | tail -1)"
    as_root pg_createcluster "$version" main >&2
    line="$(pg_lsclusters -h | sort -k1,1n | tail -1)"
  fi
  echo "$line" | awk '{print $1, $2, $3}'
}

pg_psql() { as_root runuser -u postgres -- psql -v ON_ERROR_STOP=1 -q -p "$1" "${@:2}"; }

start_postgres() {
  local version name port
  read -r version name port < <(pg_cluster)
  PG_PORT="$port"
  if ! pg_lsclusters -h | awk -v v="$version" -v n="$name" '$1==v && $2==n {print $4}' \
      | grep -q online; then
    as_root pg_ctlcluster "$version" "$name" start -o "-c listen_addresses=127.0.0.1" >&2
    log "postgresql $version/$name started on 127.0.0.1:$PG_PORT"
  else
    log "postgresql $version/$name already running on port $PG_PORT"
  fi
  for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.2; done
  pg_psql "$PG_PORT" -d postgres >&2 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD';
  END IF;
END \$\$;
SQL
  if [[ -z "$(pg_psql "$PG_PORT" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$PG_DB'")" ]]; then
    pg_psql "$PG_PORT" -d postgres -c "CREATE DATABASE $PG_DB OWNER $PG_USER" >&2
  fi
}

stop_all() {
  if [[ -f "$STATE_DIR/redis.pid" ]]; then
    kill "$(cat "$STATE_DIR/redis.pid")" 2>/dev/null || true
    rm -f "$STATE_DIR/redis.pid"
  fi
  local version name port
  read -r version name port < <(pg_cluster)
  as_root pg_ctlcluster "$version" "$name" stop >&2 || true
}

if [[ "${1:-start}" == stop ]]; then
  stop_all
  exit 0
fi
install_missing
start_redis
start_postgres
echo "export MLWARDEN_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
echo "export MLWARDEN_TEST_POSTGRES_URL=postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"
