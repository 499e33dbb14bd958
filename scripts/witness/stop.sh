#!/usr/bin/env bash
# Stops the litewitness and the ssh-agent that scripts/witness/start.sh
# started for DIR (or the omniwitness that scripts/witness/omniwitness.sh
# started), and waits for them to exit. The witness's key, database
# and binaries stay in DIR: start.sh DIR starts the same witness again, with
# the same key and what it cosigned.
#
#   scripts/witness/stop.sh DIR
set -euo pipefail

[ $# -eq 1 ] || {
  echo "usage: $0 DIR" >&2
  exit 2
}
dir=$1

# stop NAME PIDFILE: stops the process named in PIDFILE if it is still NAME
# (not a recycled pid), SIGTERM then, after 5 seconds, SIGKILL.
stop() {
  local comm=$1 pidfile=$2 pid
  if [ ! -s "$pidfile" ]; then
    echo "stop.sh: no $pidfile: no $comm to stop" >&2
    return 0
  fi
  pid=$(cat "$pidfile")
  rm -f "$pidfile"
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "stop.sh: $comm (pid $pid) is not running" >&2
    return 0
  fi
  if [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" != "$comm" ]; then
    echo "stop.sh: pid $pid is $(cat "/proc/$pid/comm"), not $comm; not stopping it" >&2
    return 1
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "stop.sh: $comm (pid $pid) did not exit after SIGTERM; sending SIGKILL" >&2
    kill -KILL "$pid"
  fi
  echo "stop.sh: stopped $comm (pid $pid)" >&2
}

status=0
# litewitness stops on SIGINT (it shuts its server down); SIGTERM ends it too.
if [ -e "$dir/omniwitness.pid" ]; then
  stop omniwitness "$dir/omniwitness.pid" || status=1
  echo "stop.sh: key and state kept in $dir" >&2
  exit $status
fi
stop litewitness "$dir/litewitness.pid" || status=1
stop ssh-agent "$dir/agent.pid" || status=1
if [ -s "$dir/agent.path" ]; then
  sock=$(cat "$dir/agent.path")
  rm -f "$sock"
  # A socket directory start.sh made under $TMPDIR (DIR was too long).
  case $sock in
    "$dir"/*) ;;
    */witness-agent.*/agent.sock) rmdir "$(dirname "$sock")" 2>/dev/null || true ;;
  esac
  rm -f "$dir/agent.path"
fi
echo "stop.sh: key and state kept in $dir" >&2
exit $status
