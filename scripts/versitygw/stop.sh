#!/usr/bin/env bash
# Stops the versitygw that scripts/versitygw/start.sh started for DIR and
# waits for it to exit. Buckets, objects and credentials in DIR are kept
# (start.sh DIR serves them again). Stopping a DIR whose versitygw is not
# running succeeds and says so.
#
#   scripts/versitygw/stop.sh DIR
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
pidfile=$dir/versitygw.pid
if [ ! -s "$pidfile" ]; then
  echo "stop.sh: no versitygw.pid in $dir: nothing to stop" >&2
  exit 0
fi
pid=$(cat "$pidfile")
if ! kill -0 "$pid" 2>/dev/null; then
  echo "stop.sh: versitygw (pid $pid) is not running" >&2
  rm -f "$pidfile"
  exit 0
fi
# Make sure the pid is a versitygw, not a recycled pid.
if [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" != versitygw ]; then
  echo "stop.sh: pid $pid is $(cat "/proc/$pid/comm"), not versitygw; not stopping it" >&2
  rm -f "$pidfile"
  exit 1
fi
kill -TERM "$pid"
for _ in $(seq 1 100); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
if kill -0 "$pid" 2>/dev/null; then
  echo "stop.sh: versitygw (pid $pid) did not exit after SIGTERM; sending SIGKILL" >&2
  kill -KILL "$pid"
fi
rm -f "$pidfile"
echo "stop.sh: stopped versitygw (pid $pid); buckets kept in $dir/gw" >&2
