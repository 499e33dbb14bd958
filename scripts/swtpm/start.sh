#!/usr/bin/env bash
# Starts a throwaway software TPM (swtpm, TPM 2.0) in the background for
# development, tests and demos, and prints the environment for audit-sealer
# and tpm2-tools to use it:
#
#   eval "$(scripts/swtpm/start.sh DIR)"
#   ...
#   scripts/swtpm/stop.sh DIR
#
# DIR gets state/ (the TPM's state: it persists across stop and start on the
# same DIR, like a real TPM's NV), swtpm.pid, swtpm.log, port (the data
# port) and auth (the counter index auth: 32 random hexadecimal digits, no
# newline, mode 0600; created once and kept, since the index on the TPM
# state uses it). swtpm listens on 127.0.0.1 only, on a free data port and
# the port after it for control; both are chosen at random and retried if
# taken. Only `export` lines go to standard output; progress goes to
# standard error. The printed variables:
#
#   AUDIT_SEALER_TPM=tcp:127.0.0.1:PORT        the TPM transport (package tpm)
#   AUDIT_SEALER_TPM_INDEX=0x01500100          the counter's NV index
#   AUDIT_SEALER_TPM_AUTH_FILE=DIR/auth        the index auth
#   AUDIT_SEALER_TPM_EK_CA=DIR/ek-ca.pem       the CA of the EK certificate (audit-verify --ek-ca)
#   TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=PORT   for tpm2_* tools
#
# A new state is manufactured first, as a TPM vendor does, by swtpm_setup
# (swtpm-tools): it creates the endorsement keys and stores an EK
# certificate for each in its TCG NV index (RSA 2048 at 0x01c00002, ECC
# P-384 at 0x01c00016), signed by a throwaway local CA (swtpm_localca, in
# DIR/localca: a root CA and an intermediate that signs). DIR/ek-ca.pem holds
# the intermediate and the root: what an auditor pins. That CA vouches only
# for this swtpm, not for any hardware (a real TPM's EK certificate chains
# to its vendor's root). Without swtpm_setup the TPM gets no EK certificate
# and AUDIT_SEALER_TPM_EK_CA is not printed.
#
# The counter is not provisioned here: `audit-sealer tpm provision` does it.
# Stopping swtpm without TPM2_Shutdown is a power loss to the TPM, which a
# non-orderly counter survives exactly. Needs: swtpm (apt-get install swtpm),
# and swtpm-tools for the EK certificate.
set -euo pipefail

usage() {
  echo "usage: $0 DIR" >&2
  exit 2
}
[ $# -eq 1 ] || usage
dir=$1
index=0x01500100

if ! command -v swtpm >/dev/null; then
  echo "start.sh: swtpm is not installed (apt-get install swtpm swtpm-tools)" >&2
  exit 1
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ -s "$dir/swtpm.pid" ] && kill -0 "$(cat "$dir/swtpm.pid")" 2>/dev/null; then
  echo "start.sh: swtpm is already running for $dir (pid $(cat "$dir/swtpm.pid")); run scripts/swtpm/stop.sh $dir first" >&2
  exit 1
fi
umask 077
mkdir -p "$dir/state"
if [ ! -e "$dir/auth" ]; then
  # 16 random bytes as 32 hex digits: printable, so tpm2-tools' file: and
  # a shell agree on it, and at most 32 bytes (the TPM's limit for SHA-256).
  printf '%s' "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" > "$dir/auth"
fi
chmod 600 "$dir/auth"

# manufacture gives a new TPM state endorsement keys and EK certificates from
# a local CA of its own (never the system's /var/lib/swtpm-localca).
manufacture() {
  local localca=$dir/localca
  mkdir -p "$localca"
  printf 'statedir = %s\nsigningkey = %s/signkey.pem\nissuercert = %s/issuercert.pem\ncertserial = %s/certserial\n' \
    "$localca" "$localca" "$localca" "$localca" >"$dir/swtpm-localca.conf"
  printf -- '--platform-manufacturer audit-sealer\n--platform-version 2.1\n--platform-model swtpm\n' >"$dir/swtpm-localca.options"
  printf 'create_certs_tool = %s\ncreate_certs_tool_config = %s\ncreate_certs_tool_options = %s\nactive_pcr_banks = sha256\n' \
    "$(command -v swtpm_localca)" "$dir/swtpm-localca.conf" "$dir/swtpm-localca.options" >"$dir/swtpm_setup.conf"
  if ! swtpm_setup --tpm2 --tpmstate "$dir/state" --config "$dir/swtpm_setup.conf" \
    --create-ek-cert --logfile "$dir/swtpm_setup.log" </dev/null >>"$dir/swtpm_setup.log" 2>&1; then
    echo "start.sh: swtpm_setup failed; last lines of $dir/swtpm_setup.log:" >&2
    tail -n 5 "$dir/swtpm_setup.log" >&2 || true
    rm -f "$dir/state/tpm2-00.permall"
    exit 1
  fi
  cat "$localca/issuercert.pem" "$localca/swtpm-localca-rootca-cert.pem" >"$dir/ek-ca.pem"
  chmod 644 "$dir/ek-ca.pem"
  echo "start.sh: manufactured the TPM: EK certificates by the local CA in $dir/ek-ca.pem" >&2
}
if [ ! -e "$dir/state/tpm2-00.permall" ]; then
  if command -v swtpm_setup >/dev/null && command -v swtpm_localca >/dev/null; then
    manufacture
  else
    echo "start.sh: swtpm_setup is not installed (apt-get install swtpm-tools): the TPM gets no EK certificate" >&2
  fi
fi

# listening PORT: true if something accepts connections on 127.0.0.1:PORT.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

rm -f "$dir/swtpm.pid" "$dir/port"
port=
for attempt in $(seq 1 20); do
  candidate=$((20000 + RANDOM % 40000))
  if listening "$candidate" || listening $((candidate + 1)); then
    continue
  fi
  # --daemon: swtpm binds both ports, then detaches; it exits non-zero at
  # once if a port is taken (a race with another program), and we retry.
  # Its standard streams go to the log, or a caller reading our output
  # would wait for the daemon to close them.
  if swtpm socket --tpm2 --daemon \
    --server "type=tcp,port=$candidate,bindaddr=127.0.0.1" \
    --ctrl "type=tcp,port=$((candidate + 1)),bindaddr=127.0.0.1" \
    --tpmstate "dir=$dir/state" \
    --flags not-need-init,startup-clear \
    --pid "file=$dir/swtpm.pid" \
    --log "file=$dir/swtpm.log,level=1" </dev/null >>"$dir/swtpm.log" 2>&1; then
    port=$candidate
    break
  fi
  echo "start.sh: swtpm could not start on port $candidate (attempt $attempt; see $dir/swtpm.log)" >&2
done
if [ -z "$port" ]; then
  echo "start.sh: could not start swtpm; last lines of $dir/swtpm.log:" >&2
  tail -n 5 "$dir/swtpm.log" >&2 || true
  exit 1
fi
for _ in $(seq 1 100); do
  listening "$port" && [ -s "$dir/swtpm.pid" ] && break
  sleep 0.05
done
if ! listening "$port"; then
  echo "start.sh: swtpm does not accept connections on port $port" >&2
  exit 1
fi
printf '%s\n' "$port" > "$dir/port"
echo "start.sh: swtpm (pid $(cat "$dir/swtpm.pid")) listening on 127.0.0.1:$port, state in $dir/state" >&2

AUDIT_SEALER_TPM=tcp:127.0.0.1:$port
AUDIT_SEALER_TPM_INDEX=$index
AUDIT_SEALER_TPM_AUTH_FILE=$dir/auth
TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=$port
vars=(AUDIT_SEALER_TPM AUDIT_SEALER_TPM_INDEX AUDIT_SEALER_TPM_AUTH_FILE TPM2TOOLS_TCTI)
if [ -s "$dir/ek-ca.pem" ]; then
  AUDIT_SEALER_TPM_EK_CA=$dir/ek-ca.pem
  vars+=(AUDIT_SEALER_TPM_EK_CA)
fi
# Single-quoted values (a ' inside becomes '\''), one export per line.
for v in "${vars[@]}"; do
  value=${!v}
  printf "export %s='%s'\n" "$v" "${value//\'/\'\\\'\'}"
done
