#!/usr/bin/env bash
# Starts a throwaway omniwitness (github.com/transparency-dev/witness, the
# witness that the transparency.dev witness network runs; C2SP
# tlog-witness) in the background, as scripts/witness/start.sh does for
# litewitness, and prints the same export lines:
#
#   eval "$(scripts/witness/omniwitness.sh DIR [NAME] [--log ORIGIN VKEY]...)"
#   ...
#   scripts/witness/stop.sh DIR
#
# NAME is the witness's key name (default witness.localhost/<basename of
# DIR>). Each --log adds a log to the witness's configuration
# (--additional_logs, a YAML file): its checkpoint origin and a note
# verifier key of the log (Ed25519). omniwitness reads its logs at start
# only: to add one, stop it and start it again with every --log.
# omniwitness also knows the public logs it is built with; it never reaches
# them here (it fetches nothing unless told to).
#
# DIR gets bin/ (omniwitness and generate_keys, installed with `go install
# ...@$version` when missing: needs go and the Go module proxy), key.sec and
# key.pub (the witness's Ed25519 note key, made once and kept, mode 0600;
# key.pub is its cosignature/v1 verifier key), logs.yaml, witness.db (its
# state), omniwitness.log and omniwitness.pid. It listens on 127.0.0.1 only,
# on a free port chosen at random and retried if taken, and serves its
# metrics on another. The printed variables: WITNESS_URL, WITNESS_NAME,
# WITNESS_VKEY (cosignature/v1, type 0x04), WITNESS_DB and WITNESS_PID.
# Exits 3 when it cannot install the binaries, 1 on any other failure (with
# nothing it started left running), 2 on bad arguments.
set -euo pipefail

module=github.com/transparency-dev/witness
version=v0.0.0-20260720115447-2e1c6971d19e

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
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
name=${name:-witness.localhost/$(basename "$dir")}
if ! [[ $name =~ ^[^[:space:]+]+$ ]]; then
  echo "omniwitness.sh: witness name \"$name\" is not a valid key name (no spaces, no '+'); pass NAME" >&2
  exit 2
fi
if [ -s "$dir/omniwitness.pid" ] && kill -0 "$(cat "$dir/omniwitness.pid")" 2>/dev/null; then
  echo "omniwitness.sh: omniwitness is already running for $dir (pid $(cat "$dir/omniwitness.pid")); run scripts/witness/stop.sh $dir first" >&2
  exit 1
fi
umask 077
bin=$dir/bin
mkdir -p "$bin"
for cmd in omniwitness generate_keys; do
  if [ ! -x "$bin/$cmd" ]; then
    if ! command -v go >/dev/null; then
      echo "omniwitness.sh: $bin/$cmd is missing and go is not installed to build it" >&2
      exit 3
    fi
    echo "omniwitness.sh: installing $cmd ($module $version) into $bin" >&2
    if ! (cd "$dir" && GOBIN=$bin GOFLAGS=-buildvcs=false go install "$module/cmd/$cmd@$version") >&2; then
      echo "omniwitness.sh: could not install $cmd (is the Go module proxy reachable?)" >&2
      exit 3
    fi
  fi
done

if [ ! -e "$dir/key.sec" ]; then
  "$bin/generate_keys" --origin "$name" --out_priv "$dir/key.sec" --out_pub "$dir/key.pub" >&2
fi
vkey=$(tr -d '\n' <"$dir/key.pub")
if [ "${vkey%%+*}" != "$name" ]; then
  echo "omniwitness.sh: $dir/key.pub names ${vkey%%+*}, not $name (remove DIR to start afresh)" >&2
  exit 1
fi
{
  echo "Logs:"
  for i in "${!origins[@]}"; do
    printf '  - Origin: %s\n    PublicKey: %s\n    URL: http://127.0.0.1:1/\n' "${origins[$i]}" "${vkeys[$i]}"
  done
} >"$dir/logs.yaml"

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid=
cleanup() { [ -z "$pid" ] || kill "$pid" 2>/dev/null || true; rm -f "$dir/omniwitness.pid"; }
trap cleanup EXIT
log=$dir/omniwitness.log
port=
for attempt in $(seq 1 20); do
  candidate=$((20000 + RANDOM % 40000))
  metrics=$((candidate + 1))
  { listening "$candidate" || listening "$metrics"; } && continue
  : >"$log"
  "$bin/omniwitness" --listen "127.0.0.1:$candidate" --metrics_listen "127.0.0.1:$metrics" \
    --db_file "$dir/witness.db" --private_key_path "$dir/key.sec" --additional_logs "$dir/logs.yaml" \
    </dev/null >>"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || break
    listening "$candidate" && break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null && listening "$candidate"; then
    port=$candidate
    break
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
  if ! grep -q 'address already in use' "$log"; then
    echo "omniwitness.sh: omniwitness did not start; last lines of $log:" >&2
    tail -n 5 "$log" >&2 || true
    exit 1
  fi
  echo "omniwitness.sh: port $candidate is taken (attempt $attempt)" >&2
done
if [ -z "$port" ]; then
  echo "omniwitness.sh: could not start omniwitness; last lines of $log:" >&2
  tail -n 5 "$log" >&2 || true
  exit 1
fi
printf '%s\n' "$pid" >"$dir/omniwitness.pid"
trap - EXIT
echo "omniwitness.sh: omniwitness (pid $pid) listening on 127.0.0.1:$port, key $vkey, state in $dir/witness.db" >&2

WITNESS_URL=http://127.0.0.1:$port
WITNESS_NAME=$name
WITNESS_VKEY=$vkey
WITNESS_DB=$dir/witness.db
WITNESS_PID=$pid
for v in WITNESS_URL WITNESS_NAME WITNESS_VKEY WITNESS_DB WITNESS_PID; do
  value=${!v}
  printf "export %s='%s'\n" "$v" "${value//\'/\'\\\'\'}"
done
