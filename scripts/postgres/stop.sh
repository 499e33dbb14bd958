#!/usr/bin/env bash
# Stops the PostgreSQL server that scripts/postgres/start.sh started for
# DIR (pg_ctl stop, fast mode: sessions are ended, the server shuts down
# cleanly) and waits for it to exit. The cluster in DIR/data is kept
# (start.sh DIR starts it again). Stopping a DIR whose server is not
# running succeeds and says so.
#
#   scripts/postgres/stop.sh DIR
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
bin=/usr/lib/postgresql/15/bin
if [ ! -s "$dir/data/PG_VERSION" ] || [ ! -x "$bin/pg_ctl" ]; then
  echo "stop.sh: no PostgreSQL cluster in $dir/data: nothing to stop" >&2
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  as_server() { runuser -u postgres -- "$@"; }
else
  as_server() { "$@"; }
fi
if ! as_server "$bin/pg_ctl" status -D "$dir/data" >/dev/null 2>&1; then
  echo "stop.sh: PostgreSQL for $dir is not running" >&2
  exit 0
fi
as_server "$bin/pg_ctl" stop -D "$dir/data" -m fast -w -t 60 >&2
echo "stop.sh: stopped PostgreSQL; the cluster is kept in $dir/data" >&2
