#!/usr/bin/env bash
# Reads audit-sealer's TPM counter with tpm2-tools, sharing no code with
# audit-sealer, and prints its value as a decimal number:
#
#   scripts/swtpm/nvread.sh [INDEX]
#
# The TPM comes from TPM2TOOLS_TCTI (for swtpm: swtpm:host=127.0.0.1,port=P,
# as scripts/swtpm/start.sh prints; "mssim:" does not work with swtpm). The
# index is INDEX, else AUDIT_SEALER_TPM_INDEX, else 0x01500100. The index
# auth is read by tpm2_nvread itself from the file AUDIT_SEALER_TPM_AUTH_FILE
# (-P file:PATH), never put on a command line; with no auth file, the owner
# hierarchy reads it (OWNERREAD; the owner auth, if any, from the file
# TPM2_OWNER_AUTH_FILE). Needs: tpm2-tools. Exits non-zero on any failure.
set -euo pipefail

[ $# -le 1 ] || { echo "usage: $0 [INDEX]" >&2; exit 2; }
index=${1:-${AUDIT_SEALER_TPM_INDEX:-0x01500100}}
if ! command -v tpm2_nvread >/dev/null; then
  echo "nvread.sh: tpm2_nvread is not installed (apt-get install tpm2-tools)" >&2
  exit 1
fi
if [ -z "${TPM2TOOLS_TCTI:-}" ]; then
  echo "nvread.sh: TPM2TOOLS_TCTI is not set (eval \"\$(scripts/swtpm/start.sh DIR)\" sets it)" >&2
  exit 1
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
if [ -n "${AUDIT_SEALER_TPM_AUTH_FILE:-}" ]; then
  tpm2_nvread "$index" -C "$index" -P "file:$AUDIT_SEALER_TPM_AUTH_FILE" -s 8 -o "$out" >&2
elif [ -n "${TPM2_OWNER_AUTH_FILE:-}" ]; then
  tpm2_nvread "$index" -C o -P "file:$TPM2_OWNER_AUTH_FILE" -s 8 -o "$out" >&2
else
  tpm2_nvread "$index" -C o -s 8 -o "$out" >&2
fi
hex=$(od -An -v -tx1 "$out" | tr -d ' \n')
if [ ${#hex} -ne 16 ]; then
  echo "nvread.sh: read ${#hex} hex digits from index $index, want 16 (8 bytes)" >&2
  exit 1
fi
# The counter is a big-endian uint64; bash arithmetic is signed 64-bit, so
# values of 2^63 and more would print negative: printf %u prints them right.
printf '%u\n' "$((16#$hex))"
