#!/usr/bin/env bash
# Installs (when missing) and starts the databases the tests use, on loopback,
# with data directories this script owns. Idempotent: a second run finds the
# servers up and only prints the URLs.
#
# Output (stdout): KEY=URL lines, also written to $state/urls.env:
#   ATLAS_TEST_POSTGRES_URL  postgres://atlas:pass@127.0.0.1:15432/atlas?sslmode=disable
#   ATLAS_TEST_MARIADB_URL   mariadb://root:pass@127.0.0.1:13306/
#   ATLAS_TEST_MYSQL_URL     mysql://root:pass@127.0.0.1:13306/   (the same server, mysql:// scheme)
set -euo pipefail

state="${ATLAS_OPERATOR_STATE:-/var/tmp/atlas-operator-py}"
PG_PORT="${ATLAS_TEST_PG_PORT:-15432}"
MY_PORT="${ATLAS_TEST_MARIADB_PORT:-13306}"
PASSWORD="pass"  # test-only credential for loopback servers
mkdir -p "$state"
log() { echo "test-services: $*" >&2; }

apt_updated=""
ensure_packages() { # package...
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  log "installing ${missing[*]}"
  if [[ -z "$apt_updated" ]]; then apt-get update -qq >"$state/apt.log" 2>&1; apt_updated=1; fi
  # Debian's postinst scripts try to start the packaged servers; we run our own instances.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >"$state/apt.log" 2>&1 || { cat "$state/apt.log" >&2; exit 1; }
  rm -f /usr/sbin/policy-rc.d
}

wait_until() { # seconds command...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || return 1
    sleep 0.3
  done
}

start_postgres() {
  local bindir; bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  local data="$state/postgres" sock="$state/pg-socket"
  if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then return 0; fi
  mkdir -p "$sock" "$state/pg-log"; chown postgres:postgres "$sock" "$state/pg-log"
  if [[ ! -s "$data/PG_VERSION" ]]; then
    log "initialising PostgreSQL in $data"
    mkdir -p "$data"; chown postgres:postgres "$data"
    local pwfile; pwfile="$(mktemp)"; echo "$PASSWORD" > "$pwfile"; chown postgres "$pwfile"
    runuser -u postgres -- "$bindir/initdb" -D "$data" -U atlas --pwfile="$pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$state/initdb.log" 2>&1
    rm -f "$pwfile"
  fi
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  runuser -u postgres -- "$bindir/pg_ctl" -D "$data" -l "$state/pg-log/postgres.log" -w -t 60 start \
    -o "-p $PG_PORT -k $sock -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >&2
  runuser -u postgres -- "$bindir/psql" -h "$sock" -p "$PG_PORT" -U atlas -d postgres -qtAc \
    "SELECT 1 FROM pg_database WHERE datname='atlas'" | grep -q 1 ||
    runuser -u postgres -- "$bindir/createdb" -h "$sock" -p "$PG_PORT" -U atlas atlas
}

# A real query: `mariadb-admin ping` succeeds even when the credentials are refused.
mariadb_ping() { mariadb --protocol=tcp -h 127.0.0.1 -P "$MY_PORT" -uroot -p"$PASSWORD" -e 'SELECT 1'; }

start_mariadb() {
  local data="$state/mariadb" run="$state/mariadb-run"
  local sock="$run/mariadb.sock"
  if mariadb_ping >/dev/null 2>&1; then return 0; fi
  mkdir -p "$run"; chown mysql:mysql "$run"
  if [[ ! -d "$data/mysql" ]]; then
    log "initialising MariaDB in $data"
    mkdir -p "$data"; chown mysql:mysql "$data"
    mariadb-install-db --user=mysql --datadir="$data" --auth-root-authentication-method=normal \
      --skip-test-db >"$state/mariadb-install.log" 2>&1
  fi
  log "starting MariaDB on 127.0.0.1:$MY_PORT"
  setsid mariadbd --user=mysql --datadir="$data" --port="$MY_PORT" --bind-address=127.0.0.1 \
    --skip-name-resolve --socket="$sock" --pid-file="$run/mariadb.pid" --max-connections=300 \
    --innodb-flush-log-at-trx-commit=0 --skip-log-bin \
    >"$run/mariadb.log" 2>&1 < /dev/null &
  wait_until 60 mariadb-admin --socket="$sock" -uroot ping ||
    wait_until 5 mariadb_ping || { log "MariaDB did not start; see $run/mariadb.log"; exit 1; }
  # A fresh data directory has password-less root accounts; the socket reaches them
  # (or, when a previous run got half way, root@localhost already has the password).
  if ! mariadb_ping >/dev/null 2>&1; then
    local client=(mariadb --socket="$sock" -uroot)
    "${client[@]}" -e 'SELECT 1' >/dev/null 2>&1 || client+=(-p"$PASSWORD")
    "${client[@]}" <<SQL
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '$PASSWORD';
ALTER USER 'root'@'localhost' IDENTIFIED BY '$PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
  fi
  wait_until 10 mariadb_ping || { log "MariaDB does not accept the test credentials"; exit 1; }
}

ensure_packages postgresql mariadb-server mariadb-client
start_postgres
start_mariadb

cat > "$state/urls.env" <<URLS
ATLAS_TEST_POSTGRES_URL=postgres://atlas:$PASSWORD@127.0.0.1:$PG_PORT/atlas?sslmode=disable
ATLAS_TEST_MARIADB_URL=mariadb://root:$PASSWORD@127.0.0.1:$MY_PORT/
ATLAS_TEST_MYSQL_URL=mysql://root:$PASSWORD@127.0.0.1:$MY_PORT/
URLS
cat "$state/urls.env"
