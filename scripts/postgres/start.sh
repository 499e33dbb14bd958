#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 server (Debian's postgresql package) in
# the background for development, tests and demos, and prints the
# environment for the fleet collector to use it:
#
#   eval "$(scripts/postgres/start.sh DIR)"
#   ...
#   scripts/postgres/stop.sh DIR
#
# DIR gets data/ (the cluster, made by initdb once and kept across stop and
# start), run/ (the server's Unix socket: the server listens on no TCP port
# at all, so nothing else on the machine can reach it and no port can be
# taken), password (the database superuser's password: 32 random
# hexadecimal digits, mode 0600, created once), user (the operating-system
# user the server runs as) and postgres.log. The database superuser is
# `audit`, authenticated by SCRAM-SHA-256 even on the socket, and the
# database `audit_sealer` is created on first start. Only `export` lines go
# to standard output; progress goes to standard error. The printed
# variable:
#
#   DATABASE_URL=postgres://audit:PASSWORD@/audit_sealer?host=DIR/run&port=5432
#
# (pgx and libpq both read a host that is an absolute path as a socket
# directory.)
#
# PostgreSQL refuses to run as root. Run as root, the script runs the server
# as the `postgres` system user that Debian's package creates (and says so);
# DIR and every directory above it must then be searchable by that user
# (the script checks and names the problem). Run as another user, the
# server runs as that user.
#
# When PostgreSQL 15 is missing, the script installs it (apt-get install
# postgresql) if it runs as root with apt-get, and otherwise exits with
# status 3, so that a caller can tell "not available here" from a failure
# (status 1). Starting a DIR whose server is already running prints its
# exports again (status 0). On any failure the script stops a server it
# started, so nothing is left running.
set -euo pipefail

usage() {
  echo "usage: $0 DIR" >&2
  exit 2
}
[ $# -eq 1 ] || usage
dir=$1
bin=/usr/lib/postgresql/15/bin
port=5432
database=audit_sealer
superuser=audit

if [ ! -x "$bin/initdb" ] || [ ! -x "$bin/pg_ctl" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "start.sh: installing postgresql (PostgreSQL 15)" >&2
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } >&2; then
      echo "start.sh: apt-get install postgresql failed" >&2
      exit 3
    fi
  fi
  if [ ! -x "$bin/initdb" ] || [ ! -x "$bin/pg_ctl" ]; then
    echo "start.sh: PostgreSQL 15 is not installed ($bin/initdb is missing; apt-get install postgresql as root)" >&2
    exit 3
  fi
fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
socketdir=$dir/run
# A Unix socket path is at most 107 bytes.
if [ ${#socketdir} -gt $((107 - ${#port} - 12)) ]; then
  echo "start.sh: $dir is too long a path for the server's Unix socket ($socketdir/.s.PGSQL.$port must fit in 107 bytes)" >&2
  exit 1
fi

# as_server CMD...: runs CMD as the user the server runs as.
if [ "$(id -u)" = 0 ]; then
  runas=postgres
  if ! id -u "$runas" >/dev/null 2>&1; then
    echo "start.sh: running as root, but there is no postgres system user to run the server as (Debian's postgresql package creates it)" >&2
    exit 1
  fi
  as_server() { runuser -u "$runas" -- "$@"; }
else
  runas=$(id -un)
  as_server() { "$@"; }
fi

# pg_ctl status: 0 running, 3 not running, 4 no usable data directory.
running() { [ -d "$dir/data" ] && as_server "$bin/pg_ctl" status -D "$dir/data" >/dev/null 2>&1; }

print_exports() {
  local password url
  password=$(cat "$dir/password")
  url="postgres://$superuser:$password@/$database?host=$socketdir&port=$port"
  printf "export DATABASE_URL='%s'\n" "${url//\'/\'\\\'\'}"
}

if running; then
  echo "start.sh: PostgreSQL is already running for $dir (as $(cat "$dir/user"))" >&2
  print_exports
  exit 0
fi

umask 077
if [ ! -s "$dir/password" ]; then
  printf '%s' "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >"$dir/password"
fi
chmod 600 "$dir/password"
printf '%s\n' "$runas" >"$dir/user"
mkdir -p "$socketdir"
if [ "$runas" = postgres ] && [ "$(id -u)" = 0 ]; then
  chown postgres "$socketdir"
  chmod 755 "$socketdir"
  if ! as_server test -x "$dir" || ! as_server test -w "$socketdir"; then
    echo "start.sh: the postgres user cannot reach $dir (every directory above it must be searchable by others, e.g. chmod 755): it runs the server because PostgreSQL refuses root" >&2
    exit 1
  fi
fi
echo "start.sh: the server runs as the operating-system user $runas" >&2

if [ ! -s "$dir/data/PG_VERSION" ]; then
  rm -rf "$dir/data"
  mkdir -m 700 "$dir/data"
  pwfile=$dir/data.pwfile
  cp "$dir/password" "$pwfile"
  if [ "$runas" = postgres ] && [ "$(id -u)" = 0 ]; then
    chown postgres "$dir/data" "$pwfile"
  fi
  if ! as_server "$bin/initdb" -D "$dir/data" -U "$superuser" --pwfile="$pwfile" \
    --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1; then
    rm -f "$pwfile"
    echo "start.sh: initdb failed; last lines of $dir/initdb.log:" >&2
    tail -n 5 "$dir/initdb.log" >&2 || true
    rm -rf "$dir/data"
    exit 1
  fi
  rm -f "$pwfile"
  echo "start.sh: initialized a cluster in $dir/data" >&2
fi

started=
cleanup() {
  if [ -n "$started" ]; then
    as_server "$bin/pg_ctl" stop -D "$dir/data" -m immediate >/dev/null 2>&1 || true
  fi
}
trap 'cleanup' EXIT

touch "$dir/postgres.log"
if [ "$runas" = postgres ] && [ "$(id -u)" = 0 ]; then
  chown postgres "$dir/postgres.log"
fi
# listen_addresses='': no TCP at all; the socket in DIR/run only.
started=yes
if ! as_server "$bin/pg_ctl" start -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
  -o "-c listen_addresses='' -c unix_socket_directories='$socketdir' -c port=$port" >/dev/null 2>&1; then
  echo "start.sh: PostgreSQL did not start; last lines of $dir/postgres.log:" >&2
  tail -n 5 "$dir/postgres.log" >&2 || true
  exit 1
fi

export PGPASSWORD
PGPASSWORD=$(cat "$dir/password")
exists=$("$bin/psql" -h "$socketdir" -p "$port" -U "$superuser" -d postgres -tAq -v ON_ERROR_STOP=1 \
  -c "SELECT 1 FROM pg_database WHERE datname = '$database'")
if [ "$exists" != 1 ]; then
  "$bin/createdb" -h "$socketdir" -p "$port" -U "$superuser" "$database"
fi
started=
trap - EXIT
echo "start.sh: PostgreSQL 15 (as $runas) listening on $socketdir/.s.PGSQL.$port, database $database, data in $dir/data" >&2
print_exports
