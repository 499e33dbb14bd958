#!/usr/bin/env bash
# Starts a throwaway transparency-log witness (litewitness, from
# filippo.io/torchwood v0.6.1; C2SP tlog-witness) in the background for
# development, tests and demos, and prints the environment to reach it:
#
#   eval "$(scripts/witness/start.sh DIR [NAME] [--log ORIGIN VKEY]...)"
#   ...
#   scripts/witness/stop.sh DIR
#
# NAME is the witness's key name (default witness.localhost/<basename of
# DIR>): it names its cosignature lines. Each --log registers a log with the
# witness: its checkpoint origin and a note verifier key of the log
# (`audit-sealer keys export-public --current --format note`, an Ed25519
# key: the witness verifies checkpoints with golang.org/x/mod/sumdb/note,
# which knows no ECDSA keys). The key must be named as the checkpoints'
# signature lines name it; witnessctl warns when that name is not the
# origin, and the witness works all the same. A log already registered is
# left as it is. More logs can be registered while the witness runs:
#
#   "$WITNESSCTL" add-log -db "$WITNESS_DB" -origin ORIGIN
#   "$WITNESSCTL" add-key -db "$WITNESS_DB" -origin ORIGIN -key VKEY
#
# DIR gets bin/ (litewitness and witnessctl, installed with `go install
# ...@v0.6.1` when missing: needs go and the Go module proxy), wkey and
# wkey.pub (the witness's Ed25519 key, an OpenSSH key made once and kept,
# mode 0600), witness.db (the witness's state: the latest checkpoint it
# cosigned per log, kept across stop and start like a real witness's),
# litewitness.log, litewitness.pid, agent.pid and agent.path (the ssh-agent
# that holds the key for litewitness: its socket is DIR/agent.sock, or a
# directory under $TMPDIR when DIR is too long for a socket path).
# litewitness listens on 127.0.0.1 only, on a free port chosen at random
# and retried if taken. Only `export` lines go to standard output; progress
# goes to standard error. The printed variables:
#
#   WITNESS_URL=http://127.0.0.1:PORT   the submission prefix (POST .../add-checkpoint)
#   WITNESS_NAME=NAME                   the witness's key name
#   WITNESS_VKEY=NAME+HASH+KEY          its verifier key (cosignature/v1, type 0x04), as litewitness logs it at start
#   WITNESS_DB=DIR/witness.db           its database, for witnessctl
#   WITNESSCTL=DIR/bin/witnessctl
#   WITNESS_PID=PID                     litewitness
#   WITNESS_AGENT_PID=PID               the ssh-agent holding its key
#
# Needs: openssh-client (apt-get install openssh-client: ssh-agent,
# ssh-add, ssh-keygen), and go unless DIR/bin holds both binaries. Exits
# 3 when it cannot install them, 1 on any other failure (with nothing it
# started left running), 2 on bad arguments.
set -euo pipefail

version=v0.6.1

usage() {
  echo "usage: $0 DIR [NAME] [--log ORIGIN VKEY]..." >&2
  exit 2
}
[ $# -ge 1 ] || usage
dir=$1
shift
name=
origins=()
vkeys=()
while [ $# -gt 0 ]; do
  case $1 in
    --log) [ $# -ge 3 ] || usage; origins+=("$2"); vkeys+=("$3"); shift 3 ;;
    -*) usage ;;
    *) [ -z "$name" ] || usage; name=$1; shift ;;
  esac
done

for tool in ssh-agent ssh-add ssh-keygen; do
  if ! command -v "$tool" >/dev/null; then
    echo "start.sh: $tool is not installed (apt-get install openssh-client)" >&2
    exit 1
  fi
done
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
name=${name:-witness.localhost/$(basename "$dir")}
# A signed-note key name: no white space and no '+'.
if ! [[ $name =~ ^[^[:space:]+]+$ ]]; then
  echo "start.sh: witness name \"$name\" is not a valid key name (no spaces, no '+'); pass NAME" >&2
  exit 2
fi
if [ -s "$dir/litewitness.pid" ] && kill -0 "$(cat "$dir/litewitness.pid")" 2>/dev/null; then
  echo "start.sh: litewitness is already running for $dir (pid $(cat "$dir/litewitness.pid")); run scripts/witness/stop.sh $dir first" >&2
  exit 1
fi
umask 077
bin=$dir/bin
mkdir -p "$bin"

# The binaries, built from the module proxy's source at the pinned version
# (outside this module: cd to DIR so no go.mod or go.work applies).
for cmd in litewitness witnessctl; do
  if [ ! -x "$bin/$cmd" ]; then
    if ! command -v go >/dev/null; then
      echo "start.sh: $bin/$cmd is missing and go is not installed to build it" >&2
      exit 3
    fi
    echo "start.sh: installing $cmd $version into $bin" >&2
    if ! (cd "$dir" && GOBIN=$bin GOFLAGS=-buildvcs=false go install "filippo.io/torchwood/cmd/$cmd@$version") >&2; then
      echo "start.sh: could not install $cmd $version (is the Go module proxy reachable?)" >&2
      exit 3
    fi
  fi
done

# Logs to witness. witnessctl's add-log refuses an origin it has, so look
# first; its list-logs prints one JSON object per log.
db=$dir/witness.db
for i in "${!origins[@]}"; do
  origin=${origins[$i]}
  vkey=${vkeys[$i]}
  listed=$("$bin/witnessctl" list-logs -db "$db")
  if ! grep -qF "\"origin\":\"$origin\"" <<<"$listed"; then
    "$bin/witnessctl" add-log -db "$db" -origin "$origin" >&2
  fi
  if ! grep -F "\"origin\":\"$origin\"" <<<"$listed" | grep -F "\"$vkey\"" >/dev/null; then
    "$bin/witnessctl" add-key -db "$db" -origin "$origin" -key "$vkey" >&2
  fi
done

# The witness key: an Ed25519 OpenSSH key, served to litewitness by an
# ssh-agent of its own.
if [ ! -e "$dir/wkey" ]; then
  ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$dir/wkey" </dev/null >&2
fi
fingerprint=$(ssh-keygen -lf "$dir/wkey.pub" | awk '{print $2}')
sock=$dir/agent.sock
if [ ${#sock} -gt 100 ]; then # a Unix socket path holds at most 107 bytes
  sock=$(mktemp -d "${TMPDIR:-/tmp}/witness-agent.XXXXXX")/agent.sock
fi
rm -f "$sock"
agent_out=$(ssh-agent -s -a "$sock")
agent_pid=$(sed -n 's/^SSH_AGENT_PID=\([0-9]*\);.*/\1/p' <<<"$agent_out")
if [ -z "$agent_pid" ]; then
  echo "start.sh: could not start ssh-agent: $agent_out" >&2
  exit 1
fi
printf '%s\n' "$agent_pid" >"$dir/agent.pid"
# On any failure from here on, stop what this script started.
pid=
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  kill "$agent_pid" 2>/dev/null || true
  rm -f "$dir/agent.pid" "$dir/agent.path" "$dir/litewitness.pid" "$sock"
  [ "$(dirname "$sock")" = "$dir" ] || rmdir "$(dirname "$sock")" 2>/dev/null || true
}
trap cleanup EXIT
printf '%s\n' "$sock" >"$dir/agent.path"
SSH_AUTH_SOCK=$sock ssh-add -q "$dir/wkey" >&2

# listening PORT: true if something accepts connections on 127.0.0.1:PORT.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# answers PORT: true if an HTTP GET / on 127.0.0.1:PORT answers 200.
answers() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    IFS= read -r -t 2 line <&3 || exit 1
    [[ $line == "HTTP/1."?" 200"* ]]
  ) 2>/dev/null
}

log=$dir/litewitness.log
rm -f "$dir/litewitness.pid"
port=
for attempt in $(seq 1 20); do
  candidate=$((20000 + RANDOM % 40000))
  listening "$candidate" && continue
  : >"$log"
  "$bin/litewitness" -db "$db" -name "$name" -key "$fingerprint" -ssh-agent "$sock" \
    -listen "127.0.0.1:$candidate" </dev/null >>"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    answers "$candidate" && break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null && answers "$candidate"; then
    port=$candidate
    break
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
  if ! grep -q 'address already in use' "$log"; then
    echo "start.sh: litewitness did not start; last lines of $log:" >&2
    tail -n 5 "$log" >&2 || true
    exit 1
  fi
  echo "start.sh: port $candidate is taken (attempt $attempt)" >&2
done
if [ -z "$port" ]; then
  echo "start.sh: could not start litewitness; last lines of $log:" >&2
  tail -n 5 "$log" >&2 || true
  exit 1
fi
printf '%s\n' "$pid" >"$dir/litewitness.pid"

# litewitness logs its verifier key at start (log/slog text: vkey=...,
# which slog would quote if it held an '=').
vkey=$(sed -n 's/.*msg="verifier key" vkey=//p' "$log" | tail -n 1 | tr -d '"')
if ! [[ $vkey =~ ^[^[:space:]+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$ ]] || [ "${vkey%%+*}" != "$name" ]; then
  echo "start.sh: could not read the witness's verifier key from $log (got \"$vkey\")" >&2
  exit 1
fi
trap - EXIT
echo "start.sh: litewitness (pid $pid) listening on 127.0.0.1:$port, key $vkey, state in $db" >&2

WITNESS_URL=http://127.0.0.1:$port
WITNESS_NAME=$name
WITNESS_VKEY=$vkey
WITNESS_DB=$db
WITNESSCTL=$bin/witnessctl
WITNESS_PID=$pid
WITNESS_AGENT_PID=$agent_pid
# Single-quoted values (a ' inside becomes '\''), one export per line.
for v in WITNESS_URL WITNESS_NAME WITNESS_VKEY WITNESS_DB WITNESSCTL WITNESS_PID WITNESS_AGENT_PID; do
  value=${!v}
  printf "export %s='%s'\n" "$v" "${value//\'/\'\\\'\'}"
done
