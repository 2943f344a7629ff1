#!/usr/bin/env bash
# Runs the mocha suite against a real, throwaway PostgreSQL cluster.
#
#   - installs Debian's `postgresql` with apt-get when no server binaries are found (root only);
#   - initdb's a cluster in a fresh temp dir owned by an unprivileged OS user (initdb refuses root):
#     `postgres` when it exists, otherwise a system user created for this;
#   - starts it on a free 127.0.0.1 port with a generated password (scram-sha-256) and TLS enabled
#     with a self-signed certificate (so sslmode=require/verify-full paths are tested for real);
#   - exports DATABASE_URL (plain TCP) and PG_TEST_* for the tests that stop/start the server;
#   - runs mocha with this script's arguments, then stops the cluster and deletes the temp dir (trap),
#     exiting with mocha's exit code.
#
# Usage: scripts/test-with-postgres.sh [mocha args...]   (npm test builds first, then calls this)
set -euo pipefail

APP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$APP_DIR"

log() { echo "[test-with-postgres] $*" >&2; }

find_pg_bindir() {
  local d
  # Newest major first.
  for d in $(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -t/ -k5 -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    log "missing $*; run as root (apt-get) or install it yourself"
    exit 1
  fi
  log "installing $* with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

PG_BINDIR="${PG_BINDIR:-$(find_pg_bindir || true)}"
if [ -z "$PG_BINDIR" ]; then
  apt_install postgresql
  PG_BINDIR="$(find_pg_bindir)" || { log "postgresql installed but no initdb found"; exit 1; }
fi
if ! command -v openssl >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then apt_install openssl || true; fi
  command -v openssl >/dev/null 2>&1 || log "openssl unavailable: the TLS tests will be skipped"
fi

# The OS user that owns and runs the cluster.
if [ "$(id -u)" -eq 0 ]; then
  PG_OS_USER=postgres
  if ! id "$PG_OS_USER" >/dev/null 2>&1; then
    PG_OS_USER=esteira-pgtest
    id "$PG_OS_USER" >/dev/null 2>&1 ||
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_OS_USER"
  fi
else
  PG_OS_USER="$(id -un)"
fi

TMPROOT="$(mktemp -d "${TMPDIR:-/tmp}/esteira-sample-pg.XXXXXX")"
PGDATA_DIR="$TMPROOT/data"
PG_LOG="$TMPROOT/postgres.log"
chmod 700 "$TMPROOT"
[ "$(id -u)" -eq 0 ] && chown "$PG_OS_USER:" "$TMPROOT"

# Run a command as the cluster owner, from a directory it can read.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd "$TMPROOT" && runuser -u "$PG_OS_USER" -- "$@")
  else
    (cd "$TMPROOT" && "$@")
  fi
}

# Runs from the EXIT trap, which shellcheck cannot follow.
# shellcheck disable=SC2317
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -f "$PGDATA_DIR/postmaster.pid" ]; then
    as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA_DIR" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ "$rc" -ne 0 ] && [ -s "$PG_LOG" ]; then
    log "exit code $rc; last lines of the PostgreSQL log:"
    tail -n 20 "$PG_LOG" >&2 || true
  fi
  rm -rf "$TMPROOT"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PG_USER=esteira_test
PG_DB=sample_test
PG_PASSWORD="$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
PG_PORT="$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"

printf '%s\n' "$PG_PASSWORD" >"$TMPROOT/pwfile"
chmod 600 "$TMPROOT/pwfile"
[ "$(id -u)" -eq 0 ] && chown "$PG_OS_USER:" "$TMPROOT/pwfile"

log "initdb ($PG_BINDIR) as $PG_OS_USER in $PGDATA_DIR"
as_pg "$PG_BINDIR/initdb" -D "$PGDATA_DIR" -U "$PG_USER" --pwfile="$TMPROOT/pwfile" \
  --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale --no-sync >"$TMPROOT/initdb.log" 2>&1 ||
  { cat "$TMPROOT/initdb.log" >&2; exit 1; }
rm -f "$TMPROOT/pwfile"

# Settings live in postgresql.conf (not pg_ctl -o) so the tests can stop/start the server and get the same one.
{
  echo "listen_addresses = '127.0.0.1'"
  echo "port = $PG_PORT"
  echo "unix_socket_directories = '$TMPROOT'"
  echo "max_connections = 100"
  echo "fsync = off"
  echo "synchronous_commit = off"
  echo "full_page_writes = off"
} | as_pg tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null

PG_TEST_CA_FILE=""
if command -v openssl >/dev/null 2>&1; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$TMPROOT/server.key" -out "$TMPROOT/server.crt" >/dev/null 2>&1
  cp "$TMPROOT/server.crt" "$TMPROOT/ca.crt"
  chmod 600 "$TMPROOT/server.key"
  chmod 644 "$TMPROOT/server.crt" "$TMPROOT/ca.crt"
  [ "$(id -u)" -eq 0 ] && chown "$PG_OS_USER:" "$TMPROOT/server.key" "$TMPROOT/server.crt"
  {
    echo "ssl = on"
    echo "ssl_cert_file = '$TMPROOT/server.crt'"
    echo "ssl_key_file = '$TMPROOT/server.key'"
  } | as_pg tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null
  PG_TEST_CA_FILE="$TMPROOT/ca.crt"
fi

log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -w -t 60 start >/dev/null
as_pg "$PG_BINDIR/createdb" -h "$TMPROOT" -p "$PG_PORT" -U "$PG_USER" "$PG_DB"

export DATABASE_URL="postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"
export PG_TEST_BINDIR="$PG_BINDIR"
export PG_TEST_DATADIR="$PGDATA_DIR"
export PG_TEST_LOGFILE="$PG_LOG"
export PG_TEST_OS_USER="$PG_OS_USER"
export PG_TEST_PORT="$PG_PORT"
export PG_TEST_CA_FILE

set +e
"$APP_DIR/node_modules/.bin/mocha" "$@"
rc=$?
set -e
exit "$rc"
