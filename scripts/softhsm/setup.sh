#!/usr/bin/env bash
# Creates a throwaway SoftHSM2 token with a checkpoint signing key, and
# prints the environment for audit-sealer to sign on it:
#
#   eval "$(scripts/softhsm/setup.sh DIR [--algorithm ed25519|ecdsa-p256] [--label LABEL])"
#
# DIR gets softhsm2.conf (a private SOFTHSM2_CONF: the system's token store
# is never touched), tokens/ (the token store), pin (the user PIN, mode 0600),
# so-pin (the security officer PIN, mode 0600) and LABEL.pem (the public key).
# The token is labelled audit-sealer. The key (default label checkpoint) is
# generated on the token by `audit-sealer keys generate` (token object,
# sensitive, never extractable, sign only): the binary named by
# AUDIT_SEALER_BIN, or else `go run ./cmd/audit-sealer` from this checkout.
# Only `export` lines go to standard output; progress goes to standard error.
#
# The PINs are random, but softhsm2-util takes them on its command line, so
# this is for development, tests and demos only. Needs: softhsm2 (and go,
# unless AUDIT_SEALER_BIN is set).
set -euo pipefail

usage() {
  echo "usage: $0 DIR [--algorithm ed25519|ecdsa-p256] [--label LABEL]" >&2
  exit 2
}

[ $# -ge 1 ] || usage
dir=$1
shift
algorithm=ed25519
label=checkpoint
while [ $# -gt 0 ]; do
  case $1 in
    --algorithm) [ $# -ge 2 ] || usage; algorithm=$2; shift 2 ;;
    --algorithm=*) algorithm=${1#*=}; shift ;;
    --label) [ $# -ge 2 ] || usage; label=$2; shift 2 ;;
    --label=*) label=${1#*=}; shift ;;
    *) usage ;;
  esac
done
case $algorithm in
  ed25519 | ecdsa-p256) ;;
  *) echo "setup.sh: unknown algorithm $algorithm (want ed25519 or ecdsa-p256)" >&2; exit 2 ;;
esac

module=${AUDIT_SEALER_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
token=audit-sealer
if ! command -v softhsm2-util >/dev/null || [ ! -e "$module" ]; then
  echo "setup.sh: SoftHSM2 is not installed (apt-get install softhsm2)" >&2
  exit 1
fi
repo=$(cd "$(dirname "$0")/../.." && pwd)

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ -e "$dir/softhsm2.conf" ] || [ -e "$dir/tokens" ]; then
  echo "setup.sh: $dir already holds a token store; pick a new directory" >&2
  exit 1
fi
umask 077
mkdir "$dir/tokens"
cat > "$dir/softhsm2.conf" <<EOF
# SoftHSM2 configuration written by audit-sealer scripts/softhsm/setup.sh
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
slots.mechanisms = ALL
library.reset_on_fork = false
EOF

random_pin() { od -An -N12 -tx1 /dev/urandom | tr -d ' \n'; }
user_pin=$(random_pin)
so_pin=$(random_pin)
printf '%s\n' "$user_pin" > "$dir/pin"
printf '%s\n' "$so_pin" > "$dir/so-pin"
chmod 600 "$dir/pin" "$dir/so-pin"

export SOFTHSM2_CONF=$dir/softhsm2.conf
export AUDIT_SEALER_PKCS11_MODULE=$module
export AUDIT_SEALER_PKCS11_TOKEN_LABEL=$token
export AUDIT_SEALER_PKCS11_KEY_LABEL=$label
export AUDIT_SEALER_PKCS11_PIN_FILE=$dir/pin
# SoftHSM2 is not FIPS 140 validated and reports no validation: say so
# explicitly, so that a sealer in FIPS 140-3 mode (GOFIPS140, or
# GODEBUG=fips140=on|only) runs on it, warning at every start that its HSM
# is not validated, and recording that in audit.sealer_started (hsm_fips).
export AUDIT_SEALER_REQUIRE_FIPS=false

# Settings of the caller's that would override the ones above.
unset AUDIT_SEALER_CONFIG AUDIT_SEALER_PKCS11_PIN AUDIT_SEALER_PKCS11_TOKEN_SERIAL

softhsm2-util --init-token --free --label "$token" --so-pin "$so_pin" --pin "$user_pin" >&2
if [ -n "${AUDIT_SEALER_BIN:-}" ]; then
  "$AUDIT_SEALER_BIN" keys generate --algorithm "$algorithm" --label "$label" > "$dir/$label.pem"
else
  (cd "$repo" && go run ./cmd/audit-sealer keys generate --algorithm "$algorithm" --label "$label") > "$dir/$label.pem"
fi
echo "setup.sh: token $token in $dir, $algorithm key $label, public key $dir/$label.pem" >&2

# Single-quoted values (a ' inside becomes '\''), one export per line.
for v in SOFTHSM2_CONF AUDIT_SEALER_PKCS11_MODULE AUDIT_SEALER_PKCS11_TOKEN_LABEL \
  AUDIT_SEALER_PKCS11_KEY_LABEL AUDIT_SEALER_PKCS11_PIN_FILE AUDIT_SEALER_REQUIRE_FIPS; do
  value=${!v}
  printf "export %s='%s'\n" "$v" "${value//\'/\'\\\'\'}"
done
