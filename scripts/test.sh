#!/usr/bin/env bash
# Runs every test of audit-sealer, as CI does (.ci/run calls this script).
#
#   scripts/test.sh          install what the tests need, then test
#
# It installs the Debian packages the tests use when they are missing (as
# root, with apt-get), checks that every Go file is gofmt-formatted and
# passes go vet, checks that the offline verifier builds without cgo
# and links no hardware code, that a release build (README, Installing)
# names its version and VCS revision, runs the whole suite with the race detector,
# and runs every fuzz target briefly (AUDIT_SEALER_FUZZTIME, default 5s;
# set it to 5m for a long run).
set -euo pipefail
cd "$(dirname "$0")/.."

# systemd brings systemd-socket-activate and systemd-analyze
# (integration/systemd_test.go). swtpm-tools brings swtpm_setup and
# swtpm_localca, which manufacture a swtpm state with EK certificates;
# swtpm_localca runs certtool (gnutls-bin). openssh-client brings ssh-agent,
# which holds the keys of the test witnesses (scripts/witness/start.sh).
# python3 runs the Python example of PROTOCOL.md. postgresql (15) and curl
# serve scripts/postgres/start.sh and scripts/versitygw/start.sh (fleet).
packages=(socat systemd softhsm2 opensc openssl strace swtpm swtpm-tools gnutls-bin tpm2-tools chromium-headless-shell openssh-client python3 postgresql curl)
# --- syslog receiver (scripts/syslog/start.sh): begin ---
# rsyslog with its GnuTLS driver is the real RFC 5425 receiver of
# integration/export_syslog_test.go (export --sink syslog, mutual TLS).
packages+=(rsyslog rsyslog-gnutls)
# --- syslog receiver: end ---
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "warning: ${missing[*]} not installed and cannot install (need root and apt-get); tests that need them skip (or fail under CI=true)" >&2
  fi
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change these files (run gofmt -w):" >&2
  echo "$unformatted" >&2
  exit 1
fi

echo "== go vet"
go vet ./...

echo "== the offline verifier builds with CGO_ENABLED=0 and links no HSM or TPM code"
CGO_ENABLED=0 go build -o /dev/null ./cmd/audit-verify
CGO_ENABLED=0 go build ./verify/... ./chain/... ./storage/... ./signer/... ./event/... ./witness/...
if go list -deps ./cmd/audit-verify | grep -E 'miekg/pkcs11|go-tpm|/hsm$|/tpm$'; then
  echo "audit-verify depends on hardware packages (above)" >&2
  exit 1
fi

# README's release build: the version stamped with -ldflags -X and the VCS
# revision the go command stamps (-buildvcs=true overrides a GOFLAGS of
# -buildvcs=false). The go command finds the revision only where .git is a
# directory: not in a git worktree (.git is a file) or a tarball.
echo "== a release build names its -ldflags version and its VCS revision (--version, go version -m)"
release=v0.0.0-release-check
buildtmp=$(mktemp -d)
CGO_ENABLED=0 go build -buildvcs=true -trimpath \
  -ldflags "-X github.com/audit-sealer/audit-sealer/internal/buildinfo.version=$release" \
  -o "$buildtmp/audit-verify" ./cmd/audit-verify
shown=$("$buildtmp/audit-verify" --version)
meta=$(go version -m "$buildtmp/audit-verify")
rm -rf "$buildtmp"
if ! grep -qxF "audit-verify $release" <<<"$shown"; then
  echo "audit-verify --version does not name the -ldflags version $release:" >&2
  echo "$shown" >&2
  exit 1
fi
rev=$(sed -n 's/^[[:space:]]*build[[:space:]]*vcs\.revision=//p' <<<"$meta")
if [ -d .git ]; then
  if [ -z "$rev" ]; then
    echo "go version -m shows no vcs.revision for a release build in a git clone:" >&2
    echo "$meta" >&2
    exit 1
  fi
  if grep -q 'vcs\.modified=true' <<<"$meta"; then
    rev="$rev+dirty"
  fi
  if ! grep -qxF "  revision:    $rev" <<<"$shown"; then
    echo "audit-verify --version does not name revision $rev (go version -m):" >&2
    echo "$shown" >&2
    exit 1
  fi
else
  echo "   (.git is not a directory, a git worktree or no checkout: no VCS revision to compare)"
fi

echo "== go test -race"
go test -race -count=1 ./...

# --- Rust client (clients/rust): begin ---
# The crate builds offline with std alone (no registry is reachable); its
# tests run against the real sealer built here (AUDIT_SEALER_BIN; without
# it they fail under CI=true). Without a cargo on PATH, Debian's cargo
# (rustc 1.63, which the crate supports) is installed, and Debian's tracing
# crates for the tracing layer. CARGO_HOME and the target directory are
# temporary, so a fresh clone needs nothing else.
echo "== Rust client: cargo build --offline, cargo test against a real sealer"
if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
  PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "   (installing Debian's cargo)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cargo >/dev/null
  fi
fi
if command -v cargo >/dev/null; then
  (
    rusttmp=$(mktemp -d)
    trap 'rm -rf "$rusttmp"' EXIT
    go build -o "$rusttmp/audit-sealer" ./cmd/audit-sealer
    cd clients/rust
    export CARGO_HOME="$rusttmp/cargo-home" CARGO_TARGET_DIR="$rusttmp/target" AUDIT_SEALER_BIN="$rusttmp/audit-sealer"
    cargo --version
    cargo build --offline
    cargo test --offline --all-features
    # The tracing layer (clients/rust/tracing) builds against Debian's
    # packaged crates, the only registry reachable: a directory source.
    if ! dpkg -s librust-tracing-subscriber-dev >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "   (installing Debian's tracing crates)"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq librust-tracing-dev librust-tracing-subscriber-dev >/dev/null
    fi
    if dpkg -s librust-tracing-subscriber-dev >/dev/null 2>&1; then
      mkdir -p "$CARGO_HOME"
      printf '%s\n' '[source.crates-io]' 'replace-with = "debian"' '[source.debian]' 'directory = "/usr/share/cargo/registry"' \
        > "$CARGO_HOME/config.toml"
      cd tracing
      cargo test --offline
    elif [ "${CI:-}" = true ]; then
      echo "librust-tracing-subscriber-dev is not installed and cannot be installed: the tracing layer's tests cannot run" >&2
      exit 1
    else
      echo "warning: librust-tracing-subscriber-dev not installed; the tracing layer's tests skip" >&2
    fi
  )
elif [ "${CI:-}" = true ]; then
  echo "cargo is not installed and cannot be installed: the Rust client's tests cannot run" >&2
  exit 1
else
  echo "warning: cargo not installed; the Rust client's tests skip" >&2
fi
# --- Rust client: end ---
# ---- FIPS 140-3 pass (issue 22; docs/fips.md) -------------------------------
# The whole integration suite once more, with the test binary and both
# binaries it builds linked against the frozen Go Cryptographic Module
# (GOFIPS140=v1.0.0, README "FIPS 140-3") and run in FIPS 140-only mode
# (GODEBUG=fips140=only: a non-approved algorithm returns an error or
# panics). The whole suite rather than a subset, because it is what finds
# anything non-approved: the sealer on SoftHSM2 and swtpm (provisioning,
# anchoring, certification, the credential challenge), the verifier,
# proofs, reports, exports, queries and witnesses. Without -race (the pass
# above ran it); about 3 minutes here. integration/main_test.go refuses to
# run unless both binaries report that module and mode. Unit tests whose
# behaviour depends on the mode run themselves again under it (tpm,
# evidence, internal/sealer), so they need no pass of their own.
echo "== FIPS 140-3: go test ./integration/... with GOFIPS140=v1.0.0 GODEBUG=fips140=only"
GOFIPS140=v1.0.0 GODEBUG=fips140=only go test -count=1 ./integration/...
# ---- end of the FIPS 140-3 pass ----------------------------------------------
# --- the Debian package (scripts/test-package.sh) ---
echo "== the .deb: built twice (byte-identical), lintian, installed with dpkg -i, README \"Installing\" run, emitted to, verified, purged"
scripts/test-package.sh
# --- end of the Debian package ---

fuzztime=${AUDIT_SEALER_FUZZTIME:-5s}
fuzzlog=$(mktemp)
trap 'rm -f "$fuzzlog"' EXIT

# fuzz_target fuzzes one target for $fuzztime. Go 1.26's fuzzing coordinator
# can report a bare "context deadline exceeded" failure when a duration
# budget expires while a worker is mid-call (golang/go#75804, fixed in Go
# 1.27): no input failed and none is written. Only that exact outcome is
# retried, once, with a count budget of the executions the first run made,
# which has no deadline to race. Any other failure, and any failure that
# wrote an input, fails the run.
fuzz_target() {
  local pkg=$1 target=$2
  if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$fuzzlog" 2>&1; then
    return 0
  fi
  if grep -q 'Failing input written\|panic:\|fuzzing process hung' "$fuzzlog" ||
    [ "$(grep -c '^    ' "$fuzzlog")" != 1 ] ||
    ! grep -q '^    context deadline exceeded$' "$fuzzlog"; then
    cat "$fuzzlog"
    return 1
  fi
  local execs
  execs=$(grep -o 'execs: [0-9]*' "$fuzzlog" | tail -1 | grep -o '[0-9]*' || true)
  execs=${execs:-10000}
  [ "$execs" -ge 1000 ] || execs=1000
  echo "   (Go fuzzing coordinator's deadline race, golang/go#75804; no input failed; running ${execs} executions instead)"
  go test -run '^$' -fuzz "^${target}\$" -fuzztime "${execs}x" "$pkg" >"$fuzzlog" 2>&1 || { cat "$fuzzlog"; return 1; }
}
echo "== fuzzing each target for $fuzztime"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
    echo "-- $pkg $target"
    fuzz_target "$pkg" "$target"
  done
done
echo "== all tests passed"
