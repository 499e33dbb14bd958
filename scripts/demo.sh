#!/usr/bin/env bash
# The audit-sealer demo, end to end: build, start the sealer, emit a
# realistic mix of events from several services, stop it, verify the log
# offline with audit-verify, then show that tampering is caught, and that
# witnesses catch even root rewriting history with the real key.
#
# Usage: scripts/demo.sh [WORKDIR]   (default: a fresh temporary directory)
#
# Needs Go (1.26) and a C compiler. It signs checkpoints with a key on a
# throwaway SoftHSM2 token (scripts/softhsm/setup.sh) and anchors them in a
# throwaway swtpm's NV counter (scripts/swtpm/start.sh), installing softhsm2
# and swtpm with apt-get when they are missing and we are root; without them
# it falls back to --dev (a software key and no TPM, flagged in every
# checkpoint).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d /tmp/audit-sealer-demo.XXXXXX)}
mkdir -p "$work"
data="$work/data"
sock="$work/audit.sock"
bin="$work/bin"

say() { printf '\n== %s\n' "$*"; }

say "building audit-sealer and audit-verify (the verifier without cgo, as an auditor would)"
(cd "$repo" && go build -o "$bin/audit-sealer" ./cmd/audit-sealer && CGO_ENABLED=0 go build -o "$bin/audit-verify" ./cmd/audit-verify)

if { ! command -v softhsm2-util || ! command -v swtpm; } >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  say "installing softhsm2 and swtpm"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 swtpm swtpm-tools >/dev/null
fi
dev=true
tpm=false
if command -v softhsm2-util >/dev/null; then
  say "creating a throwaway SoftHSM2 token with an Ed25519 key (never extractable)"
  eval "$("$repo/scripts/softhsm/setup.sh" "$work/hsm")"
  dev=false
  if command -v swtpm >/dev/null; then
    say "starting a throwaway swtpm and provisioning its NV counter"
    eval "$("$repo/scripts/swtpm/start.sh" "$work/tpm")"
    trap '"$repo/scripts/swtpm/stop.sh" "$work/tpm" >/dev/null 2>&1 || true' EXIT
    "$bin/audit-sealer" tpm provision > /dev/null
    tpm=true
  fi
else
  say "SoftHSM2 is not installed: running with --dev (software key, no TPM)"
fi

# A policy that lets this user emit as three services; the sealer records
# the service identity itself, from the peer's uid.
cat > "$work/audit-sealer.toml" <<TOML
data_dir = "$data"
socket = "$sock"
dev = $dev
segment_size = 262144

[seal]
interval = "1s"
records = 100

[[policy]]
uid = $(id -u)
services = ["queen-rbee", "pool-managerd", "worker-gpu-0"]
TOML

say "starting the sealer (256 KiB segments)"
"$bin/audit-sealer" serve --config "$work/audit-sealer.toml" 2> "$work/sealer.log" &
sealer=$!
trap 'kill $sealer 2>/dev/null || true; "$repo/scripts/swtpm/stop.sh" "$work/tpm" >/dev/null 2>&1 || true' EXIT
# Wait until the sealer answers, not just until its socket file exists
# (the file appears when the socket is bound, a moment before it listens).
answers() { "$bin/audit-sealer" status --socket "$sock" > /dev/null 2>&1; }
for _ in $(seq 100); do answers && break; sleep 0.05; done
answers || { cat "$work/sealer.log"; echo "the sealer did not start" >&2; exit 1; }

now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
emit() { # emit SERVICE [--durable]: events on stdin
  local svc=$1; shift
  "$bin/audit-sealer" emit --socket "$sock" --service "$svc" "$@" > "$work/emit-$svc.out" || true
  printf '%-14s %5d events, %d refused\n' "$svc" "$(wc -l < "$work/emit-$svc.out")" "$(grep -c '"ok":false' "$work/emit-$svc.out" || true)"
}

say "emitting events from three services"
for i in $(seq 1 400); do
  t=$(now)
  printf '{"type":"auth.success","timestamp":"%s","actor":{"user_id":"customer-%d","ip":"10.1.0.%d","auth_method":"api_key"},"method":"api_key","path":"/v2/tasks","service_id":"queen-rbee"}\n' "$t" "$i" $((i % 250))
  printf '{"type":"task.submitted","timestamp":"%s","actor":{"user_id":"customer-%d","auth_method":"api_key"},"task_id":"task-%d","model_ref":"llama-3-8b","prompt_length":%d,"prompt_hash":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","max_tokens":512}\n' "$t" "$i" "$i" $((i * 7))
  printf '{"type":"data.inference_executed","timestamp":"%s","customer_id":"customer-%d","job_id":"job-%d","model_ref":"llama-3-8b","tokens_processed":%d,"result":{"status":"success"}}\n' "$t" "$i" "$i" $((i * 13))
done | emit queen-rbee --durable
printf '{"type":"auth.failure","timestamp":"%s","attempted_user":"token:a3f2c1","reason":"invalid_token","ip":"203.0.113.9","path":"/v2/tasks","service_id":"queen-rbee"}\n' "$(now)" | emit queen-rbee
for i in $(seq 1 50); do
  printf '{"type":"pool.created","timestamp":"%s","actor":{"user_id":"system","auth_method":"internal"},"pool_id":"pool-%d","model_ref":"llama-3-8b","node_id":"node-1","replicas":2,"gpu_devices":[0,1]}\n' "$(now)" "$i"
done | emit pool-managerd
for i in $(seq 1 200); do
  printf '{"type":"vram.sealed","timestamp":"%s","shard_id":"shard-%d","gpu_device":0,"vram_bytes":17179869184,"digest":"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae","worker_id":"worker-gpu-0"}\n' "$(now)" "$i"
  printf '{"type":"seal.verified","timestamp":"%s","shard_id":"shard-%d","worker_id":"worker-gpu-0"}\n' "$(now)" "$i"
done | emit worker-gpu-0
printf '%s\n' '{"type":"seal.verified","timestamp":"not a time","shard_id":"x","worker_id":"w"}' | emit worker-gpu-0
echo "(the last one was refused on purpose; the reply names the field and the rule: $(grep -o '"field":"[a-z_.]*"\|"rule":"[a-z_]*"' "$work/emit-worker-gpu-0.out" | tr '\n' ' '))"

say "status"
"$bin/audit-sealer" status --socket "$sock"

say "stopping the sealer (SIGTERM: drain, record the stop, seal, fsync)"
kill -TERM $sealer
wait $sealer
trap '"$repo/scripts/swtpm/stop.sh" "$work/tpm" >/dev/null 2>&1 || true' EXIT
ls -l "$data" | sed 's/^/  /'

say "exporting the key history (the first key and its endorsed successors) and verifying the log offline"
"$bin/audit-sealer" keys export-public --config "$work/audit-sealer.toml" > "$work/key-history.json"
if [ "$tpm" = true ]; then
  say "the TPM certifies its counter for a fresh nonce; audit-verify checks that the log reaches it"
  nonce=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  "$bin/audit-sealer" tpm certify --config "$work/audit-sealer.toml" --nonce "$nonce" --out "$work/tpm-evidence.json"
  "$bin/audit-verify" --key "$work/key-history.json" --require-hardware --tpm-evidence "$work/tpm-evidence.json" --nonce "$nonce" "$data"
elif [ "$dev" = false ]; then
  "$bin/audit-verify" --key "$work/key-history.json" --require-hardware "$data"
else
  "$bin/audit-verify" --key "$work/key-history.json" "$data"
fi

say "disclosing one record with its inclusion proof"
"$bin/audit-sealer" prove --data-dir "$data" --seq 5 --out "$work/proof-5.json"
"$bin/audit-verify" proof --key "$work/key-history.json" "$work/proof-5.json" | sed -n '1,2p'

say "a query for one user, each result with its proof; audit-verify checks a result line"
"$bin/audit-sealer" query --data-dir "$data" --user customer-7 --json --proofs --limit 5 > "$work/customer-7.jsonl"
grep -c '"proof"' "$work/customer-7.jsonl" | sed 's/^/results with a proof: /'
head -1 "$work/customer-7.jsonl" > "$work/result-1.json"
"$bin/audit-verify" proof --key "$work/key-history.json" "$work/result-1.json" | sed -n '1p;4p'

say "tampering with a copy: one byte of one event changed"
cp -r "$data" "$work/tampered"
seg=$(ls "$work/tampered"/*.seg | sed -n 1p)
chmod u+w "$seg"
python3 - "$seg" <<'PY' 2>/dev/null || printf 'X' | dd of="$seg" bs=1 seek=700 conv=notrunc status=none
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read())
i = b.find(b'customer-1'); b[i + 9] ^= 1
open(p, 'wb').write(b)
PY
if "$bin/audit-verify" --key "$work/key-history.json" "$work/tampered"; then
  echo "the tampered copy verified: this is a bug" >&2; exit 1
else
  echo "(audit-verify exited $? as it must for a tampered log)"
fi

# Witnesses (FORMAT.md §5.6): even root, holding the real key, cannot
# rewrite history unseen once independent witnesses have cosigned it.
if ! command -v ssh-agent >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get install -y -qq openssh-client >/dev/null
fi
if command -v ssh-agent >/dev/null; then
  say "witnesses: two litewitness instances cosign the log's checkpoints"
  origin=$(head -1 "$data/checkpoint")
  logkey=$("$bin/audit-sealer" keys export-public --config "$work/audit-sealer.toml" --current --format note)
  cp "$work/audit-sealer.toml" "$work/witnessed.toml"
  policy=()
  for w in w1 w2; do
    eval "$("$repo/scripts/witness/start.sh" "$work/$w" "demo.example/$w" --log "$origin" "$logkey")"
    printf '[[witness]]\nname = "%s"\nurl = "%s"\nvkey = "%s"\n\n' "$w" "$WITNESS_URL" "$WITNESS_VKEY" >> "$work/witnessed.toml"
    policy+=(--witness "$WITNESS_VKEY")
  done
  trap '"$repo/scripts/swtpm/stop.sh" "$work/tpm" >/dev/null 2>&1 || true; for w in w1 w2; do "$repo/scripts/witness/stop.sh" "$work/$w" >/dev/null 2>&1 || true; done' EXIT
  printf '[witnessing]\ninterval = "1s"\n' >> "$work/witnessed.toml"
  witnessed_run() { # witnessed_run TAG [serve flags]: a run of the sealer with the witnesses, 100 events
    local tag=$1; shift
    "$bin/audit-sealer" serve --config "$work/witnessed.toml" "$@" 2> "$work/sealer-$tag.log" &
    sealer=$!
    for _ in $(seq 100); do answers && break; sleep 0.05; done
    for i in $(seq 1 100); do
      printf '{"type":"seal.verified","timestamp":"%s","shard_id":"%s-%d","worker_id":"worker-gpu-0"}\n' "$(now)" "$tag" "$i"
    done | emit worker-gpu-0
    sleep 2.5 # the witnesses cosign the latest checkpoint
    kill -TERM $sealer; wait $sealer || true
  }
  witnessed_run honest-1
  cp -r "$data" "$work/backup"       # root keeps a copy
  witnessed_run honest-2
  "$bin/audit-verify" --key "$work/key-history.json" "${policy[@]}" --witness-quorum 2 "$data" | grep -E '^audit-verify|^witness'

  say "root puts the old copy back, overrides the TPM's rollback check and seals other records with the real key"
  rm -rf "$data" && cp -r "$work/backup" "$data"
  override=()
  [ "$tpm" = false ] || override=(--accept-rollback)
  witnessed_run rewritten "${override[@]}"
  grep -o 'SPLIT VIEW[^"]*' "$work/sealer-rewritten.log" | sed -n '1,2s/^/  sealer: /p'
  if "$bin/audit-verify" --key "$work/key-history.json" "${policy[@]}" --witness-quorum 2 "$data" > "$work/verify-rewritten.txt"; then
    echo "the rewritten log passed the witness policy: this is a bug" >&2; exit 1
  fi
  head -3 "$work/verify-rewritten.txt"
  echo "(every signature in it is the real key's: only the witnesses tell; audit-verify exited 1)"
else
  say "ssh-agent (openssh-client) is not installed: skipping the witnesses"
fi

say "done: everything is in $work"
