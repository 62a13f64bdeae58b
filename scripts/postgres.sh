#!/usr/bin/env bash
# A throwaway PostgreSQL 15 on loopback for the cluster configurations and the cluster specs.
#
#   scripts/postgres.sh start            install (Debian) when missing, initdb once, start; prints the connection string
#   scripts/postgres.sh stop             stop the server (data kept)
#   scripts/postgres.sh status           "running on 127.0.0.1:PORT" (exit 0) or "stopped" (exit 3)
#   scripts/postgres.sh url              the connection string of database 'scarcity'
#   scripts/postgres.sh createdb NAME    a fresh, empty database NAME (dropped first if it exists); prints its connection string
#   scripts/postgres.sh dropdb NAME      drops database NAME
#   scripts/postgres.sh psql [ARGS]      psql as the superuser on database 'scarcity'
#   scripts/postgres.sh reset            stop and delete the data directory
#
# Environment: SCARCITY_PG_PORT (55432), SCARCITY_PG_DATA (/tmp/scarcity-pg-PORT), SCARCITY_PG_BIN (the newest
# $SCARCITY_PG_ROOT/*/bin, SCARCITY_PG_ROOT being /usr/lib/postgresql). The server listens on 127.0.0.1 only; database 'scarcity', user scarcity/scarcity
# (allowed to create databases, so a test run can make its own). Every command is idempotent.
set -euo pipefail

PORT=${SCARCITY_PG_PORT:-55432}
DATA=${SCARCITY_PG_DATA:-/tmp/scarcity-pg-$PORT}
DB=scarcity
USER_NAME=scarcity
PASSWORD=scarcity

die() { echo "postgres.sh: $*" >&2; exit 1; }

find_bin() {
  if [ -n "${SCARCITY_PG_BIN:-}" ]; then
    [ -x "$SCARCITY_PG_BIN/initdb" ] || die "SCARCITY_PG_BIN='$SCARCITY_PG_BIN' has no initdb"
    echo "$SCARCITY_PG_BIN"; return
  fi
  local dir
  dir=$(ls -d "${SCARCITY_PG_ROOT:-/usr/lib/postgresql}"/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

install_postgres() {
  command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and apt-get is not available: install PostgreSQL 15 (binaries in /usr/lib/postgresql/15/bin) or set SCARCITY_PG_BIN"
  [ "$(id -u)" -eq 0 ] || die "PostgreSQL is not installed: run 'apt-get install -y postgresql' as root, or set SCARCITY_PG_BIN"
  echo "postgres.sh: installing PostgreSQL (apt-get install -y postgresql)" >&2
  # The Debian package tries to start its own cluster on 5432; in a container without systemd that fails harmlessly.
  export DEBIAN_FRONTEND=noninteractive
  if ! { timeout 180 apt-get update -qq && timeout 420 apt-get install -y -qq postgresql; } >/tmp/scarcity-pg-apt.log 2>&1; then
    tail -n 20 /tmp/scarcity-pg-apt.log >&2
    die "could not install PostgreSQL (see /tmp/scarcity-pg-apt.log)"
  fi
}

BIN=$(find_bin || true)

# Runs a command as the server's owner: 'postgres' when we are root (initdb refuses root), else ourselves.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    getent passwd postgres >/dev/null || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    if command -v runuser >/dev/null 2>&1; then runuser -u postgres -- "$@"; else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi
  else
    "$@"
  fi
}

is_running() { [ -n "$BIN" ] && [ -f "$DATA/PG_VERSION" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

# psql as the superuser through the unix socket in the data directory.
super_psql() { PGOPTIONS="-c client_min_messages=warning" as_owner "$BIN/psql" -h "$DATA" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

# At most 50 connections per governor process: three of them stay within max_connections (200) under any load.
url_of() { echo "Host=127.0.0.1;Port=$PORT;Database=$1;Username=$USER_NAME;Password=$PASSWORD;Maximum Pool Size=50"; }

valid_name() { [[ "$1" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "database name '$1' must match [a-z_][a-z0-9_]*"; }

# Closes every descriptor above stderr in the current (sub)shell, but bash's own script descriptor (255).
close_inherited_fds() {
  local fd
  for fd in /proc/$BASHPID/fd/*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ] && [ "$fd" -ne 255 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
}

start() {
  if [ -z "$BIN" ]; then install_postgres; BIN=$(find_bin || true); fi
  [ -n "$BIN" ] || die "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin"
  if ! is_running; then
    if [ ! -f "$DATA/PG_VERSION" ]; then
      rm -rf "$DATA"
      mkdir -p "$DATA"
      [ "$(id -u)" -eq 0 ] && chown postgres: "$DATA"
      chmod 700 "$DATA"
      as_owner "$BIN/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C \
        --auth-local=trust --auth-host=scram-sha-256 >"$DATA.initdb.log" 2>&1 \
        || { cat "$DATA.initdb.log" >&2; die "initdb failed"; }
    fi
    # The server outlives this script, so it must not inherit the caller's open files: a benchmark run under
    # `flock /tmp/bench.lock` that started it would otherwise leave the lock held for as long as PostgreSQL runs.
    if ! ( close_inherited_fds
           as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
             -o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$DATA -c max_connections=200 -c fsync=off" \
             start >/dev/null ); then
      tail -n 20 "$DATA/server.log" >&2 || true
      die "the server did not start (port $PORT in use? see $DATA/server.log)"
    fi
  fi
  # The role and the database, every time (cheap, and repairs a half-initialised directory).
  super_psql -d postgres <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$USER_NAME') THEN
    CREATE ROLE $USER_NAME LOGIN CREATEDB PASSWORD '$PASSWORD';
  END IF;
END \$\$;
SQL
  if [ -z "$(super_psql -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
    super_psql -d postgres -c "CREATE DATABASE $DB OWNER $USER_NAME" >/dev/null
  fi
  url_of "$DB"
}

need_running() { is_running || die "not running: run 'scripts/postgres.sh start' first"; }

case "${1:-}" in
  start) start ;;
  stop)
    if is_running; then as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null; echo "stopped"; else echo "not running"; fi ;;
  status)
    if is_running; then echo "running on 127.0.0.1:$PORT (data $DATA)"; else echo "stopped"; exit 3; fi ;;
  url) url_of "$DB" ;;
  createdb)
    name=${2:?usage: postgres.sh createdb NAME}; valid_name "$name"; need_running
    super_psql -d postgres -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null
    super_psql -d postgres -c "CREATE DATABASE $name OWNER $USER_NAME" >/dev/null
    url_of "$name" ;;
  dropdb)
    name=${2:?usage: postgres.sh dropdb NAME}; valid_name "$name"; need_running
    super_psql -d postgres -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null ;;
  psql) shift; need_running; super_psql -d "$DB" "$@" ;;
  reset)
    if is_running; then as_owner "$BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null; fi
    rm -rf "$DATA" "$DATA.initdb.log"; echo "removed $DATA" ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
