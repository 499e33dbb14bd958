#!/usr/bin/env bash
# Stops the rsyslog that scripts/syslog/start.sh started for DIR, and waits
# for it to exit; what it received (DIR/messages.log, messages.json) and
# the certificates in DIR/tls are kept.
#
#   scripts/syslog/stop.sh DIR
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
pidfile=$dir/rsyslog.pid
if [ ! -s "$pidfile" ]; then
  echo "stop.sh: no rsyslog.pid in $dir: nothing to stop" >&2
  exit 0
fi
pid=$(cat "$pidfile")
if ! kill -0 "$pid" 2>/dev/null; then
  echo "stop.sh: rsyslog (pid $pid) is not running" >&2
  rm -f "$pidfile"
  exit 0
fi
# Make sure the pid is an rsyslogd, not a recycled pid.
if [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" != rsyslogd ]; then
  echo "stop.sh: pid $pid is $(cat "/proc/$pid/comm"), not rsyslogd; not stopping it" >&2
  rm -f "$pidfile"
  exit 1
fi
kill -TERM "$pid"
for _ in $(seq 1 100); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
if kill -0 "$pid" 2>/dev/null; then
  echo "stop.sh: rsyslog (pid $pid) did not exit after SIGTERM; sending SIGKILL" >&2
  kill -KILL "$pid"
fi
rm -f "$pidfile"
echo "stop.sh: stopped rsyslog (pid $pid); messages kept in $dir/messages.log" >&2
