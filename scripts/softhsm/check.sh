#!/usr/bin/env bash
# Third-party checks of a checkpoint key on a PKCS#11 token, with tools that
# share no code with audit-sealer:
#
#   scripts/softhsm/check.sh --algorithm ed25519|ecdsa-p256 --pem KEY.pem --msg MSG --sig SIG
#
#  1. pkcs11-tool (opensc) lists the private key and shows that it is
#     sensitive, always sensitive and never extractable, and may sign.
#  2. openssl verifies SIG, a signature made through the token, over the file
#     MSG with the public key KEY.pem (as `signer.PublicKey.MarshalPEM`, or
#     `audit-sealer keys export-public --format pem`, writes it):
#       Ed25519:     openssl pkeyutl -verify -pubin -inkey KEY.pem -rawin -in MSG -sigfile SIG
#       ECDSA P-256: openssl dgst -sha256 -verify KEY.pem -signature SIG MSG   (SIG in DER)
#
# The token and key come from the variables that setup.sh exports:
# SOFTHSM2_CONF (for SoftHSM2), AUDIT_SEALER_PKCS11_MODULE,
# AUDIT_SEALER_PKCS11_TOKEN_LABEL, AUDIT_SEALER_PKCS11_KEY_LABEL and
# AUDIT_SEALER_PKCS11_PIN_FILE (the PIN reaches pkcs11-tool through its
# environment, not its command line). Without MSG and SIG only check 1 runs.
# Needs: opensc (pkcs11-tool) and openssl. Exits non-zero on any failure.
set -euo pipefail

usage() {
  echo "usage: $0 --algorithm ed25519|ecdsa-p256 [--pem KEY.pem --msg MSG --sig SIG]" >&2
  exit 2
}
algorithm= pem= msg= sig=
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || usage
  case $1 in
    --algorithm) algorithm=$2 ;;
    --pem) pem=$2 ;;
    --msg) msg=$2 ;;
    --sig) sig=$2 ;;
    *) usage ;;
  esac
  shift 2
done
case $algorithm in ed25519 | ecdsa-p256) ;; *) usage ;; esac

module=${AUDIT_SEALER_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
token=${AUDIT_SEALER_PKCS11_TOKEN_LABEL:?AUDIT_SEALER_PKCS11_TOKEN_LABEL is not set}
label=${AUDIT_SEALER_PKCS11_KEY_LABEL:?AUDIT_SEALER_PKCS11_KEY_LABEL is not set}
pin_file=${AUDIT_SEALER_PKCS11_PIN_FILE:?AUDIT_SEALER_PKCS11_PIN_FILE is not set}

fail() {
  echo "check.sh: FAIL: $*" >&2
  exit 1
}

# 1. pkcs11-tool: the private key's attributes.
AUDIT_SEALER_CHECK_PIN=$(head -n 1 "$pin_file")
export AUDIT_SEALER_CHECK_PIN
listing=$(pkcs11-tool --module "$module" --token-label "$token" --login --pin env:AUDIT_SEALER_CHECK_PIN \
  --list-objects --type privkey 2>&1) || fail "pkcs11-tool --list-objects: $listing"
unset AUDIT_SEALER_CHECK_PIN
# The object block whose label line is exactly our label.
block=$(printf '%s\n' "$listing" | awk -v want="$label" '
  /^[A-Z]/ { if (match_block) exit; blk = $0 "\n"; next }
  { blk = blk $0 "\n" }
  /^  label: / { l = $0; sub(/^  label: +/, "", l); if (l == want) match_block = 1 }
  END { if (match_block) printf "%s", blk }')
[ -n "$block" ] || fail "pkcs11-tool lists no private key labelled $label on token $token:
$listing"
printf '%s\n' "$block"
case $algorithm in
  ed25519) want_type="EC_EDWARDS" ;;
  ecdsa-p256) want_type="EC" ;;
esac
head=${block%%$'\n'*} # the first line (no pipe: head would close it early, SIGPIPE under pipefail)
[ "$head" = "Private Key Object; $want_type" ] || fail "object type is '$head', want 'Private Key Object; $want_type'"
access=$(printf '%s\n' "$block" | sed -n 's/^  Access: *//p')
usage_line=$(printf '%s\n' "$block" | sed -n 's/^  Usage: *//p')
IFS=',' read -ra flags <<< "$access"
has() { local f; for f in "${flags[@]}"; do [ "${f# }" = "$1" ] && return 0; done; return 1; }
has "sensitive" || fail "the key is not sensitive (Access: $access)"
has "always sensitive" || fail "the key is not always sensitive (Access: $access)"
has "never extractable" || fail "the key is not never extractable (Access: $access)"
has "extractable" && fail "the key is extractable (Access: $access)"
case ", $usage_line," in *", sign,"*) ;; *) fail "the key may not sign (Usage: $usage_line)" ;; esac
echo "ok: pkcs11-tool: private key $label on token $token is sensitive and never extractable"

# 2. openssl: the signature verifies with the exported public key.
if [ -z "$pem$msg$sig" ]; then
  exit 0
fi
[ -n "$pem" ] && [ -n "$msg" ] && [ -n "$sig" ] || usage
case $algorithm in
  ed25519)
    out=$(openssl pkeyutl -verify -pubin -inkey "$pem" -rawin -in "$msg" -sigfile "$sig" 2>&1) ||
      fail "openssl pkeyutl -verify: $out"
    ;;
  ecdsa-p256)
    out=$(openssl dgst -sha256 -verify "$pem" -signature "$sig" "$msg" 2>&1) ||
      fail "openssl dgst -verify: $out"
    ;;
esac
echo "ok: openssl: $out"
