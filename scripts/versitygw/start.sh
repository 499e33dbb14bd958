#!/usr/bin/env bash
# Starts a throwaway S3 server (versitygw, posix backend, with versioning
# and Object Lock) in the background for development, tests and demos,
# creates a bucket whose objects are locked in compliance mode by default,
# and prints the environment for an S3 client to use it:
#
#   eval "$(scripts/versitygw/start.sh DIR)"
#   ...
#   scripts/versitygw/stop.sh DIR
#
# DIR gets bin/versitygw (installed once, from the Go module proxy: go
# install github.com/versity/versitygw/cmd/versitygw@v1.8.0), gw/ (the
# buckets: one directory each, objects as files, metadata in extended
# attributes), versions/ (older object versions), iam/, access and secret
# (the root credentials: random, mode 0600, created once and kept),
# versitygw.pid, versitygw.log and port. versitygw listens on 127.0.0.1
# only, on a free port chosen at random (and retried if taken). Buckets and
# credentials persist across stop and start on the same DIR. Only `export`
# lines go to standard output; progress goes to standard error. The
# printed variables:
#
#   AWS_ENDPOINT_URL=http://127.0.0.1:PORT   the S3 endpoint (path-style addressing)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY the root credentials
#   AWS_REGION=us-east-1
#   AUDIT_SEALER_BUCKET=audit-sealer          the Object Lock bucket
#   AUDIT_SEALER_RETENTION_DAYS=N             its default retention (compliance mode)
#
# The bucket (VERSITYGW_BUCKET, default audit-sealer) is created with Object
# Lock enabled (which enables versioning) and a default retention of
# VERSITYGW_RETENTION_DAYS days (default 1) in COMPLIANCE mode: every object
# version put there cannot be deleted or have its retention shortened by
# anyone, root included, until then. (The files in DIR/gw can still be
# removed from the file system: stop.sh, then rm -rf DIR.)
#
# VERSITYGW=PATH uses that versitygw binary instead of installing one. When
# no binary can be had (no go command, or the module proxy cannot serve the
# module), the script exits with status 3, so that a caller can tell "not
# available here" from a failure (status 1). Starting a DIR whose versitygw
# is already running prints its exports again (status 0). On any failure
# the script stops the versitygw it started, so nothing is left running.
# Needs: curl (with --aws-sigv4, 7.75 or later), openssl.
set -euo pipefail

usage() {
  echo "usage: $0 DIR" >&2
  exit 2
}
[ $# -eq 1 ] || usage
dir=$1
version=v1.8.0
bucket=${VERSITYGW_BUCKET:-audit-sealer}
days=${VERSITYGW_RETENTION_DAYS:-1}
region=us-east-1

if ! [[ $bucket =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]]; then
  echo "start.sh: VERSITYGW_BUCKET=$bucket is not a valid S3 bucket name" >&2
  exit 2
fi
if ! [[ $days =~ ^[1-9][0-9]{0,4}$ ]]; then
  echo "start.sh: VERSITYGW_RETENTION_DAYS=$days is not a number of days (1 to 99999)" >&2
  exit 2
fi
for tool in curl openssl; do
  if ! command -v "$tool" >/dev/null; then
    echo "start.sh: $tool is not installed" >&2
    exit 1
  fi
done

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
umask 077

# The binary: $VERSITYGW, else DIR/bin/versitygw, installed if missing.
gw=${VERSITYGW:-$dir/bin/versitygw}
if [ ! -x "$gw" ]; then
  if [ -n "${VERSITYGW:-}" ]; then
    echo "start.sh: VERSITYGW=$VERSITYGW is not an executable file" >&2
    exit 3
  fi
  if ! command -v go >/dev/null; then
    echo "start.sh: versitygw is not installed in $dir/bin and there is no go command to install it" >&2
    exit 3
  fi
  echo "start.sh: installing versitygw $version into $dir/bin (go install; this takes a few minutes the first time)" >&2
  mkdir -p "$dir/bin"
  if ! GOBIN=$dir/bin GOFLAGS=-buildvcs=false go install "github.com/versity/versitygw/cmd/versitygw@$version" >"$dir/install.log" 2>&1; then
    echo "start.sh: go install github.com/versity/versitygw/cmd/versitygw@$version failed; last lines of $dir/install.log:" >&2
    tail -n 5 "$dir/install.log" >&2 || true
    exit 3
  fi
fi

# listening PORT: true if something accepts connections on 127.0.0.1:PORT.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
alive() { [ -s "$dir/versitygw.pid" ] && kill -0 "$(cat "$dir/versitygw.pid")" 2>/dev/null; }

print_exports() {
  local v value
  AWS_ENDPOINT_URL=http://127.0.0.1:$(cat "$dir/port")
  AWS_ACCESS_KEY_ID=$(cat "$dir/access")
  AWS_SECRET_ACCESS_KEY=$(cat "$dir/secret")
  AWS_REGION=$region
  AUDIT_SEALER_BUCKET=$(cat "$dir/bucket")
  AUDIT_SEALER_RETENTION_DAYS=$(cat "$dir/retention-days")
  for v in AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AUDIT_SEALER_BUCKET AUDIT_SEALER_RETENTION_DAYS; do
    value=${!v}
    printf "export %s='%s'\n" "$v" "${value//\'/\'\\\'\'}"
  done
}

if alive && [ -s "$dir/port" ] && [ -s "$dir/bucket" ] && listening "$(cat "$dir/port")"; then
  echo "start.sh: versitygw is already running for $dir (pid $(cat "$dir/versitygw.pid"))" >&2
  print_exports
  exit 0
fi
if alive; then
  echo "start.sh: versitygw (pid $(cat "$dir/versitygw.pid")) is running for $dir but not serving; run scripts/versitygw/stop.sh $dir first" >&2
  exit 1
fi

# Root credentials: 20 and 40 characters, like AWS's.
[ -s "$dir/access" ] || printf 'AS%s' "$(od -An -N9 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)" >"$dir/access"
[ -s "$dir/secret" ] || printf '%s' "$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')" >"$dir/secret"
chmod 600 "$dir/access" "$dir/secret"
access=$(cat "$dir/access")
secret=$(cat "$dir/secret")
mkdir -p "$dir/gw" "$dir/versions" "$dir/iam"

pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$dir/versitygw.pid"
  fi
}
trap cleanup EXIT

rm -f "$dir/versitygw.pid" "$dir/port"
port=
for attempt in $(seq 1 10); do
  candidate=$((20000 + RANDOM % 40000))
  listening "$candidate" && continue
  # The credentials go through the environment, not argv (ps shows argv).
  # setsid: the server is in a session of its own, so a caller's ^C or
  # its process group ending does not stop it; its streams go to the log.
  # GODEBUG is not passed on: the object store is a test fixture, not
  # this project's code, and under the FIPS pass's fips140=only it cannot
  # compute the MD5 ETags S3 requires (it answers 500).
  env -u GODEBUG ROOT_ACCESS_KEY_ID=$access ROOT_SECRET_ACCESS_KEY=$secret setsid "$gw" \
    --port "127.0.0.1:$candidate" --region "$region" --iam-dir "$dir/iam" \
    posix --versioning-dir "$dir/versions" "$dir/gw" </dev/null >>"$dir/versitygw.log" 2>&1 &
  pid=$!
  printf '%s\n' "$pid" >"$dir/versitygw.pid"
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    listening "$candidate" && break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null && listening "$candidate"; then
    port=$candidate
    break
  fi
  echo "start.sh: versitygw could not start on port $candidate (attempt $attempt; see $dir/versitygw.log)" >&2
  cleanup
  pid=
done
if [ -z "$port" ]; then
  echo "start.sh: could not start versitygw; last lines of $dir/versitygw.log:" >&2
  tail -n 5 "$dir/versitygw.log" >&2 || true
  exit 1
fi
printf '%s\n' "$port" >"$dir/port"

# s3 METHOD PATH BODY [CURL-ARG...]: a signed S3 request; prints the HTTP
# status, then the response body, to standard output.
s3() {
  local method=$1 path=$2 body=$3 hash data=()
  shift 3
  hash=$(printf '%s' "$body" | openssl dgst -sha256 -r | cut -d' ' -f1)
  [ "$method" = GET ] || data=(--data-binary "$body")
  curl -sS -X "$method" --aws-sigv4 "aws:amz:$region:s3" --user "$access:$secret" \
    -H "x-amz-content-sha256: $hash" "$@" "${data[@]}" \
    -w '\n%{http_code}' "http://127.0.0.1:$port$path"
}
# expect CODE WHAT OUTPUT: fails, showing the answer, unless OUTPUT (from
# s3) ends in status CODE.
expect() {
  local code=${3##*$'\n'}
  if [ "$code" != "$1" ]; then
    echo "start.sh: $2 answered HTTP $code (expected $1):" >&2
    printf '%s\n' "${3%$'\n'*}" >&2
    exit 1
  fi
}

out=$(s3 GET "/$bucket?object-lock=" "")
case ${out##*$'\n'} in
  200) echo "start.sh: bucket $bucket exists" >&2 ;;
  404)
    out=$(s3 PUT "/$bucket" "" -H "x-amz-bucket-object-lock-enabled: true")
    expect 200 "creating bucket $bucket with Object Lock" "$out"
    echo "start.sh: created bucket $bucket with Object Lock (and versioning)" >&2
    ;;
  *) expect 200 "reading the Object Lock configuration of $bucket" "$out" ;;
esac
config="<ObjectLockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>$days</Days></DefaultRetention></Rule></ObjectLockConfiguration>"
md5=$(printf '%s' "$config" | openssl dgst -md5 -binary | openssl base64)
out=$(s3 PUT "/$bucket?object-lock=" "$config" -H "Content-MD5: $md5" -H "Content-Type: application/xml")
expect 200 "setting the default retention of $bucket" "$out"
out=$(s3 GET "/$bucket?object-lock=" "")
expect 200 "reading the Object Lock configuration of $bucket" "$out"
if [[ $out != *"<Mode>COMPLIANCE</Mode>"* || $out != *"<Days>$days</Days>"* ]]; then
  echo "start.sh: bucket $bucket does not report COMPLIANCE retention of $days days:" >&2
  printf '%s\n' "$out" >&2
  exit 1
fi
printf '%s\n' "$bucket" >"$dir/bucket"
printf '%s\n' "$days" >"$dir/retention-days"

pid=
trap - EXIT
echo "start.sh: versitygw $version (pid $(cat "$dir/versitygw.pid")) listening on 127.0.0.1:$port; bucket $bucket: Object Lock, COMPLIANCE $days days by default; data in $dir/gw" >&2
print_exports
