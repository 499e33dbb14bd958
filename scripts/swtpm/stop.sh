#!/usr/bin/env bash
# Stops the swtpm that scripts/swtpm/start.sh started for DIR, and waits for
# it to exit; the TPM state in DIR/state is kept (start.sh DIR starts the
# same TPM again). Stopping without TPM2_Shutdown is a power loss to the
# TPM; pass --shutdown to send TPM2_Shutdown(CLEAR) first (needs
# tpm2-tools), as an operating system does before power-off.
#
#   scripts/swtpm/stop.sh DIR [--shutdown]
set -euo pipefail

usage() {
  echo "usage: $0 DIR [--shutdown]" >&2
  exit 2
}
[ $# -ge 1 ] && [ $# -le 2 ] || usage
dir=$1
shutdown=false
if [ $# -eq 2 ]; then
  [ "$2" = --shutdown ] || usage
  shutdown=true
fi
pidfile=$dir/swtpm.pid
if [ ! -s "$pidfile" ]; then
  echo "stop.sh: no swtpm.pid in $dir: nothing to stop" >&2
  exit 0
fi
pid=$(cat "$pidfile")
if ! kill -0 "$pid" 2>/dev/null; then
  echo "stop.sh: swtpm (pid $pid) is not running" >&2
  rm -f "$pidfile"
  exit 0
fi
# Make sure the pid is a swtpm, not a recycled pid.
if [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" != swtpm ]; then
  echo "stop.sh: pid $pid is $(cat "/proc/$pid/comm"), not swtpm; not stopping it" >&2
  rm -f "$pidfile"
  exit 1
fi
if $shutdown; then
  TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=$(cat "$dir/port") tpm2_shutdown -c >&2
fi
kill -TERM "$pid"
for _ in $(seq 1 100); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
if kill -0 "$pid" 2>/dev/null; then
  echo "stop.sh: swtpm (pid $pid) did not exit after SIGTERM; sending SIGKILL" >&2
  kill -KILL "$pid"
fi
rm -f "$pidfile"
echo "stop.sh: stopped swtpm (pid $pid); state kept in $dir/state" >&2
